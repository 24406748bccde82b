"""Approving residents: requests to delegates and managers, decisions, /pending, and 48-hour reminders."""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Place
from bot.domain.residents import MembershipStatus
from bot.i18n import N_, Safe, Translator
from handlers.common import refuse
from handlers.context import Context, Services
from handlers.routing import Callback, Command, Routes
from storage.models import Membership, Resident
from storage.territory import BarrioView, CircleView
from storage.uow import UnitOfWork

TOPIC_APPROVAL = "membership.approval"
TOPIC_DECISION = "membership.decision"
TOPIC_REMINDER = "membership.reminder"
TOPIC_DECIDED_COPY = "membership.decided_copy"


def membership_ref(membership_id: int) -> str:
    """The outbox reference shared by every copy of one request to join."""
    return f"membership:{membership_id}"


def _decision_buttons(t: Translator, membership_id: int) -> list[list[Button]]:
    return [
        [
            Button(t.plain("✅ Approve"), cb("ap", membership_id)),
            Button(t.plain("❌ Reject"), cb("rj", membership_id)),
        ]
    ]


def _where(t: Translator, circle: CircleView, building: str | None) -> Safe:
    if building:
        return t.gettext("{circle}, {building}", circle=circle.name, building=building)
    return t.gettext("{circle} (no building given)", circle=circle.name)


async def _building_text(uow: UnitOfWork, membership: Membership) -> str | None:
    if membership.building_id is not None:
        building = await uow.territory.building(membership.building_id)
        return building.address if building else None
    return membership.portal


def _request_text(t: Translator, name: str, circle: CircleView, building: str | None) -> Safe:
    return t.gettext(
        "🙋 <b>{name}</b> asks to join the circle <b>{where}</b>.", name=name, where=_where(t, circle, building)
    )


async def ask_approvers(ctx: Context, membership: Membership, circle: CircleView) -> int:
    """Send an approve/reject request to everyone who may decide (never the applicant); how many were asked."""
    assert ctx.resident is not None
    applicant = ctx.resident
    building = await _building_text(ctx.uow, membership)
    asked = 0
    for approver in await ctx.uow.roles.approvers(circle.id, circle.barrio_id):
        if approver.id == applicant.id:
            continue
        sent = await ctx.notify(
            approver,
            lambda t: Reply(
                text=_request_text(t, applicant.first_name, circle, building),
                buttons=_decision_buttons(t, membership.id),
            ),
            TOPIC_APPROVAL,
            about=applicant,
            ref=membership_ref(membership.id),
        )
        asked += sent
    return asked


async def decide(ctx: Context, data: CallbackData) -> None:
    """ap:<id> / rj:<id>: approve or reject a pending membership, telling the resident in their language
    and updating every other approver's copy of the request."""
    membership_id = data.int_arg()
    membership = await ctx.uow.memberships.get(membership_id, lock=True) if membership_id else None
    circle = await ctx.uow.territory.circle(membership.circle_id) if membership else None
    if membership is None or circle is None or ctx.resident is None:
        ctx.toast(ctx.t.plain("This request no longer exists."))
        ctx.show(ctx.t.gettext("This request no longer exists."))
        return
    own = membership.resident_id == ctx.resident.id
    if not ctx.allowed(Action.APPROVE_MEMBERSHIP, Place(circle.barrio_id, circle.id), on_oneself=own):
        if own:
            ctx.toast(ctx.t.plain("You cannot decide on your own request."))
            ctx.say(ctx.t.gettext("You cannot decide on your own request: another delegate or manager will."))
            return
        refuse(ctx)
        return
    applicant = await ctx.uow.residents.get(membership.resident_id) if membership.resident_id else None
    if membership.status != MembershipStatus.PENDING or applicant is None:
        ctx.toast(ctx.t.plain("This request was already answered."))
        ctx.show(ctx.t.gettext("This request was already answered."))
        return
    approve = data.action == "ap"
    decider = ctx.resident
    if approve:
        await ctx.uow.memberships.approve(membership, decider.id, ctx.now)
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
        await ctx.uow.memberships.reject(membership, decider.id, ctx.now)
        ctx.show(
            ctx.t.gettext(
                "❌ You rejected the request of <b>{name}</b> for <b>{circle}</b>.",
                name=applicant.first_name,
                circle=circle.name,
            )
        )
        barrio = await ctx.uow.territory.barrio(circle.barrio_id)
        await ctx.notify(applicant, lambda t: _rejection(t, circle, barrio), TOPIC_DECISION)
    await _update_other_copies(ctx, membership, circle, applicant, decider, approve)


def _rejection(t: Translator, circle: CircleView, barrio: BarrioView | None) -> Reply:
    text = t.gettext(
        "Your request to join <b>{circle}</b> was not approved. If you think this is a mistake, write to "
        "your barrio's community managers with the button below, or send /start to choose another circle.",
        circle=circle.name,
    )
    if barrio is not None and barrio.contact:
        text = (
            text
            + Safe("\n\n")
            + t.gettext("Community managers of {barrio}: {contact}", barrio=barrio.name, contact=barrio.contact)
        )
    buttons = []
    if barrio is not None:
        buttons = [[Button(t.plain("✉️ Write to the community managers"), cb("contact", barrio.id))]]
    return Reply(text, buttons)


async def _update_other_copies(
    ctx: Context, membership: Membership, circle: CircleView, applicant: Resident, decider: Resident, approved: bool
) -> None:
    """Every other approver's copy of the request loses its buttons and says who decided, so nobody taps a
    dead button; copies not sent yet are never sent."""
    copies = await ctx.uow.outbox.copies(membership_ref(membership.id))
    await ctx.uow.outbox.withdraw([c.id for c in copies if c.status == "pending"])
    sent = [
        c
        for c in copies
        if c.status == "sent"
        and c.sent_message_id is not None
        and not (c.chat_id == ctx.incoming.chat_id and c.sent_message_id == ctx.incoming.message_id)
    ]
    recipients = await ctx.uow.residents.by_ids([c.resident_id for c in sent if c.resident_id])
    building = await _building_text(ctx.uow, membership)
    for copy in sent:
        recipient = recipients.get(copy.resident_id or 0)
        if recipient is None or recipient.status != "active" or copy.sent_message_id is None:
            continue
        t = ctx.services.catalogs.translator(recipient.locale)
        verdict = (
            t.gettext("✅ Approved by {name}.", name=decider.first_name)
            if approved
            else t.gettext("❌ Not approved by {name}.", name=decider.first_name)
        )
        text = _request_text(t, applicant.first_name, circle, building) + Safe("\n") + verdict
        await ctx.edit_sent(copy.chat_id, copy.sent_message_id, Reply(text), TOPIC_DECIDED_COPY, recipient.id)


async def list_pending(ctx: Context) -> None:
    """/pending: the requests this person may decide on, each with its buttons (never their own)."""
    assert ctx.resident is not None
    circle_ids = await _circles_in_scope(ctx)
    if not circle_ids:
        ctx.say(ctx.t.gettext("Only delegates and community managers can see pending requests."))
        return
    pending = await ctx.uow.memberships.pending_in(circle_ids, excluding_resident=ctx.resident.id)
    if not pending:
        ctx.say(ctx.t.gettext("There are no pending requests. 🎉"))
        return
    ctx.say(ctx.t.ngettext("{n} pending request:", "{n} pending requests:", len(pending)))
    circles = await ctx.uow.territory.circles_by_ids([m.circle_id for m in pending])
    applicants = await ctx.uow.residents.by_ids([m.resident_id for m in pending if m.resident_id])
    for membership in pending:
        applicant = applicants.get(membership.resident_id or 0)
        if applicant is None:
            continue
        building = await _building_text(ctx.uow, membership)
        ctx.say(
            ctx.t.gettext(
                "🙋 <b>{name}</b> asks to join the circle <b>{where}</b> (since {date}).",
                name=applicant.first_name,
                where=_where(ctx.t, circles[membership.circle_id], building),
                date=ctx.t.datetime(membership.created_at, "short"),
            ),
            _decision_buttons(ctx.t, membership.id),
        )


async def _circles_in_scope(ctx: Context) -> Sequence[int]:
    return [
        circle.id
        for circle in await ctx.uow.territory.circles()
        if ctx.allowed(Action.LIST_PENDING, Place(circle.barrio_id, circle.id))
    ]


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
                        where=_where(t, circle, building),
                    ),
                    _decision_buttons(t, membership.id),
                )
                await uow.outbox.add(
                    approver.chat_id,
                    reply.to_dict(),
                    TOPIC_REMINDER,
                    now,
                    resident_id=approver.id,
                    about_resident_id=applicant.id,
                    ref=membership_ref(membership.id),
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
                await uow.outbox.add(applicant.chat_id, reply.to_dict(), TOPIC_REMINDER, now, resident_id=applicant.id)
                sent += 1
        await uow.commit()
    if sent:
        services.on_outbox()
    return sent


ROUTES = Routes(
    commands={
        "pending": Command(
            list_pending, Action.LIST_PENDING, N_("Only delegates and community managers can see pending requests.")
        )
    },
    callbacks={
        "ap": Callback(decide, Action.APPROVE_MEMBERSHIP),
        "rj": Callback(decide, Action.APPROVE_MEMBERSHIP),
    },
)
