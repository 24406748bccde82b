"""Approving residents: requests to delegates and managers, decisions, /pending, and 48-hour reminders."""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Place
from bot.domain.residents import MembershipStatus, can_move
from bot.i18n import Translator
from handlers.context import Context, Services
from storage.models import Membership
from storage.repositories import CircleView
from storage.uow import UnitOfWork

TOPIC_APPROVAL = "membership.approval"
TOPIC_DECISION = "membership.decision"
TOPIC_REMINDER = "membership.reminder"


def _decision_buttons(t: Translator, membership_id: int) -> list[list[Button]]:
    return [
        [
            Button(t.gettext("✅ Approve"), cb("ap", membership_id)),
            Button(t.gettext("❌ Reject"), cb("rj", membership_id)),
        ]
    ]


def _where(t: Translator, membership: Membership, circle: CircleView, building: str | None) -> str:
    if building:
        return t.gettext("{circle}, {building}", circle=circle.name, building=building)
    return t.gettext("{circle} (no building given)", circle=circle.name)


async def _building_text(uow: UnitOfWork, membership: Membership) -> str | None:
    if membership.building_id is not None:
        building = await uow.territory.building(membership.building_id)
        return building.address if building else None
    return membership.portal


async def ask_approvers(ctx: Context, membership: Membership, circle: CircleView) -> int:
    """Send an approve/reject request to everyone who may decide; returns how many were asked."""
    assert ctx.resident is not None
    approvers = await ctx.uow.roles.approvers(circle.id, circle.barrio_id)
    building = await _building_text(ctx.uow, membership)
    name = ctx.resident.first_name
    for approver in approvers:
        if approver.id == ctx.resident.id:
            continue
        await ctx.notify(
            approver,
            lambda t: Reply(
                text=t.gettext(
                    "🙋 <b>{name}</b> asks to join the circle <b>{where}</b>.",
                    name=name,
                    where=_where(t, membership, circle, building),
                ),
                buttons=_decision_buttons(t, membership.id),
            ),
            TOPIC_APPROVAL,
            about=ctx.resident,
        )
    return sum(1 for a in approvers if a.id != ctx.resident.id)


async def decide(ctx: Context, data: CallbackData) -> None:
    """ap:<id> / rj:<id>: approve or reject a pending membership, telling the resident in their language."""
    membership_id = data.int_arg()
    membership = await ctx.uow.memberships.get(membership_id, lock=True) if membership_id else None
    circle = await ctx.uow.territory.circle(membership.circle_id) if membership else None
    if membership is None or circle is None:
        ctx.toast(ctx.t.gettext("This request no longer exists."))
        ctx.show(ctx.t.gettext("This request no longer exists."))
        return
    if not ctx.allowed(Action.APPROVE_MEMBERSHIP, Place(circle.barrio_id, circle.id)):
        ctx.toast(ctx.t.gettext("You are not allowed to do that."))
        return
    applicant = await ctx.uow.residents.get(membership.resident_id) if membership.resident_id else None
    if membership.status != MembershipStatus.PENDING or applicant is None:
        ctx.toast(ctx.t.gettext("This request was already answered."))
        ctx.show(ctx.t.gettext("This request was already answered."))
        return
    approve = data.action == "ap"
    target = MembershipStatus.VERIFIED if approve else MembershipStatus.REJECTED
    assert can_move(MembershipStatus(membership.status), target)
    membership.status = target
    membership.decided_at = ctx.now
    membership.decided_by = ctx.resident.id if ctx.resident else None
    membership.verified_via = "approval" if approve else None
    membership.remind_at = None
    if approve:
        ctx.show(
            ctx.t.gettext(
                "✅ You approved <b>{name}</b> for <b>{circle}</b>.", name=applicant.first_name, circle=circle.name
            )
        )
        await ctx.notify(
            applicant,
            lambda t: Reply(
                t.gettext(
                    "🎉 Welcome to the <b>{circle}</b> circle! Your membership has been "
                    "verified. Send /help to see what you can do.",
                    circle=circle.name,
                )
            ),
            TOPIC_DECISION,
        )
    else:
        ctx.show(
            ctx.t.gettext(
                "❌ You rejected the request of <b>{name}</b> for <b>{circle}</b>.",
                name=applicant.first_name,
                circle=circle.name,
            )
        )
        await ctx.notify(
            applicant,
            lambda t: Reply(
                t.gettext(
                    "Your request to join <b>{circle}</b> was not approved. If you think "
                    "this is a mistake, contact your barrio's community managers, or send "
                    "/start to choose another circle.",
                    circle=circle.name,
                )
            ),
            TOPIC_DECISION,
        )


async def list_pending(ctx: Context) -> None:
    """/pending: the requests this person may decide on, each with its buttons."""
    if ctx.resident is None:
        ctx.say(ctx.t.gettext("Send /start to register first."))
        return
    circle_ids = await _circles_in_scope(ctx)
    if not circle_ids:
        ctx.say(ctx.t.gettext("Only delegates and community managers can see pending requests."))
        return
    pending = await ctx.uow.memberships.pending_in(circle_ids)
    if not pending:
        ctx.say(ctx.t.gettext("There are no pending requests. 🎉"))
        return
    ctx.say(ctx.t.ngettext("{n} pending request:", "{n} pending requests:", len(pending)))
    circles = await ctx.uow.territory.circles_by_ids([m.circle_id for m in pending])
    for membership in pending:
        applicant = await ctx.uow.residents.get(membership.resident_id) if membership.resident_id else None
        if applicant is None:
            continue
        building = await _building_text(ctx.uow, membership)
        ctx.say(
            ctx.t.gettext(
                "🙋 <b>{name}</b> asks to join the circle <b>{where}</b> (since {date}).",
                name=applicant.first_name,
                where=_where(ctx.t, membership, circles[membership.circle_id], building),
                date=ctx.t.datetime(membership.created_at, "short"),
            ),
            _decision_buttons(ctx.t, membership.id),
        )


async def _circles_in_scope(ctx: Context) -> Sequence[int]:
    ids: list[int] = []
    for barrio in await ctx.uow.territory.barrios():
        for circle in await ctx.uow.territory.circles_in_barrio(barrio.id):
            if ctx.allowed(Action.LIST_PENDING, Place(barrio.id, circle.id)):
                ids.append(circle.id)
    return ids


async def send_due_reminders(services: Services, limit: int = 100) -> int:
    """Remind approvers, and the resident, of memberships pending longer than the reminder interval."""
    now = services.clock()
    sent = 0
    async with services.db.unit_of_work() as uow:
        due = await uow.memberships.claim_due_reminders(now, services.reminder_every, limit)
        for membership in due:
            circle = await uow.territory.circle(membership.circle_id)
            applicant = await uow.residents.get(membership.resident_id) if membership.resident_id else None
            if circle is None or applicant is None:
                continue
            building = await _building_text(uow, membership)
            for approver in await uow.roles.approvers(circle.id, circle.barrio_id):
                if approver.status != "active" or approver.id == applicant.id:
                    continue
                t = services.catalogs.translator(approver.locale)
                reply = Reply(
                    t.gettext(
                        "⏰ Reminder: <b>{name}</b> has been waiting since {date} to join <b>{where}</b>.",
                        name=applicant.first_name,
                        date=t.datetime(membership.created_at, "short"),
                        where=_where(t, membership, circle, building),
                    ),
                    _decision_buttons(t, membership.id),
                )
                await uow.outbox.add(
                    approver.chat_id, reply.to_dict(), TOPIC_REMINDER, now, approver.id, about_resident_id=applicant.id
                )
                sent += 1
            if applicant.status == "active":
                t = services.catalogs.translator(applicant.locale)
                reply = Reply(
                    t.gettext(
                        "⏳ Your request to join <b>{circle}</b> is still waiting for approval. "
                        "We have reminded its delegates and community managers.",
                        circle=circle.name,
                    )
                )
                await uow.outbox.add(applicant.chat_id, reply.to_dict(), TOPIC_REMINDER, now, applicant.id)
                sent += 1
        await uow.commit()
    if sent:
        services.on_outbox()
    return sent
