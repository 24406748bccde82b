"""/help, /me, /leave and /cancel: what I can do, who I am here, and leaving my circle."""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import Button
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Role, can_somewhere
from bot.domain.residents import MembershipStatus
from bot.i18n import N_, Safe, safe_join
from handlers.common import describe_grant, stale
from handlers.context import Context, Flow
from handlers.election_life import fill_vacant_seat
from handlers.labels import status_name
from handlers.routing import Callback, Command, Routes, any_input


class LeaveStep(StrEnum):
    """Steps of leaving a circle."""

    CONFIRM = "confirm"


# /help lines: the command, what it says, and the action that must be allowed somewhere to list it.
HELP_LINES: tuple[tuple[Action, str], ...] = (
    (Action.REPORT_PROBLEM, N_("/report: report a problem in your neighbourhood")),
    (Action.FOLLOW_OWN_REPORTS, N_("/myreports: your reports and how they are going")),
    (Action.SEE_POLLS, N_("/polls: polls you can vote in, and results")),
    (Action.CHECK_RECEIPT, N_("/receipt CODE: check that your ballot was counted")),
    (Action.PROPOSE, N_("/propose: propose something to your circle or barrio; /proposals lists them")),
    (Action.SEE_POLLS, N_("/elections: elections of your circle and council: stand, nominate, vote")),
    (Action.SEE_POLLS, N_("/bodies: your delegates, council, Governance Commission and the District Forum")),
    (Action.ATTEND_MEETING, N_("/meetings: meetings you are invited to: answer, propose agenda items")),
    (Action.VIEW_OWN_DATA, N_("/me: your circle, role and status")),
    (Action.JOIN_CIRCLE, N_("/start: join a circle, or use an invitation")),
    (Action.LEAVE_CIRCLE, N_("/leave: leave your circle")),
    (Action.CONTACT_MANAGERS, N_("/contact: write to your barrio's community managers")),
    (Action.SEEK_SUPPORT, N_("/support: talk privately to someone (victim support, a conflict with a neighbour)")),
    (Action.CHANGE_LANGUAGE, N_("/language: change the language")),
    (Action.CHANGE_SETTINGS, N_("/settings: quiet hours, and which notices you get")),
    (Action.VIEW_OWN_DATA, N_("/mydata: get a copy of your data")),
    (Action.ERASE_OWN_DATA, N_("/forget: erase your data")),
)
STAFF_LINES: tuple[tuple[Action, str], ...] = (
    (Action.HANDLE_REPORTS, N_("/cases: the cases you handle; /case REF opens one")),
    (Action.LIST_PENDING, N_("/pending: requests to join waiting for you")),
    (Action.CREATE_POLL, N_("/poll: open a poll for your circle or barrio")),
    (Action.CALL_MEETING, N_("/meeting: call a meeting of your circle, council or commission")),
    (Action.BROADCAST_CIRCLE, N_("/notice: send a notice to your circle (delegates) or barrio (managers); /notices")),
    (
        Action.NAME_DELEGATE,
        N_("/grant USER_ID delegate CIRCLE: name a delegate (e.g. /grant 12345 delegate emb-plaza-lavapies)"),
    ),
    (Action.GRANT_ROLE, N_("/grant USER_ID ROLE PLACE [SECTOR]: give any role")),
    (
        Action.APPOINT_COURT_MEMBER,
        N_("/grant USER_ID community_court_member BARRIO: appoint a member of the barrio's community court"),
    ),
    (Action.SEE_STATS, N_("/stats: the figures of your barrio: cases, deadlines, turnout; with a chart")),
    (Action.SEE_COEXISTENCE, N_("/mediations: mediation, support and community court cases (state and dates)")),
    (Action.SIT_ON_COURT, N_("/mediations: the community court cases of your panel")),
)
GOVERNANCE_STATS_LINE = N_("/stats: the figures of your barrio, for its Governance Commission")


async def show_help(ctx: Context) -> None:
    """/help: the commands this person's grants allow."""
    t = ctx.t
    lines = [t.gettext("<b>What you can do</b>")]
    if not ctx.registered:
        lines += [
            t.gettext("/start: join your stewardship circle"),
            t.gettext("/language: change the language"),
            t.gettext("/support: urgent help numbers, and how to talk privately to someone"),
        ]
    else:
        lines += [t.gettext(text) for action, text in HELP_LINES if can_somewhere(ctx.grants, action)]
    staff = [t.gettext(text) for action, text in STAFF_LINES if can_somewhere(ctx.grants, action)]
    # A Governance Commission seat is a body seat, not a role, so the table above cannot offer them /stats.
    seated = ctx.resident is not None and not can_somewhere(ctx.grants, Action.SEE_STATS)
    if seated and ctx.resident is not None and await ctx.uow.stats.governance_barrios(ctx.resident.id):
        staff.append(t.gettext(GOVERNANCE_STATS_LINE))
    if staff:
        lines += [Safe(""), t.gettext("<b>As staff</b>"), *staff]
    lines += [Safe(""), t.gettext("/cancel: stop what you are doing"), t.gettext("/help: this list")]
    buttons = []
    if can_somewhere(ctx.grants, Action.REPORT_PROBLEM):
        buttons = [[Button(t.plain("📝 Report a problem"), cb("report"))]]
    buttons.append([Button(t.plain("🫂 I need to talk to someone"), cb("sup"))])
    ctx.say(safe_join("\n", lines), buttons)


async def show_me(ctx: Context) -> None:
    """/me: name, language, circle, building, status and roles."""
    t = ctx.t
    assert ctx.resident is not None
    lines = [
        t.gettext("👤 <b>{name}</b>", name=ctx.resident.first_name),
        t.gettext("Language: {language}", language=t.language_name(ctx.resident.locale)),
    ]
    membership = await ctx.uow.memberships.current(ctx.resident.id)
    if membership is None:
        lines.append(t.gettext("Circle: none yet (send /start to join one)"))
    else:
        circle = await ctx.uow.territory.circle(membership.circle_id)
        barrio = await ctx.uow.territory.barrio(circle.barrio_id) if circle else None
        lines.append(
            t.gettext(
                "Circle: {circle} ({barrio})",
                circle=circle.name if circle else "?",
                barrio=barrio.name if barrio else "?",
            )
        )
        if membership.building_id:
            building = await ctx.uow.territory.building(membership.building_id)
            lines.append(t.gettext("Building: {building}", building=building.address if building else "?"))
        elif membership.portal:
            lines.append(t.gettext("Building: {building}", building=membership.portal))
        lines.append(t.gettext("Status: {status}", status=status_name(t, membership.status)))
    roles = [await describe_grant(ctx, g) for g in ctx.grants if g.role is not Role.RESIDENT]
    lines.append(t.gettext("Roles: {roles}", roles=", ".join(roles) if roles else t.plain("Resident")))
    ctx.say(safe_join("\n", lines))


def _leave_buttons(ctx: Context, membership_id: int) -> list[list[Button]]:
    return [
        [
            Button(ctx.t.plain("Yes, leave"), cb("leave", membership_id)),
            Button(ctx.t.plain("No, stay"), cb("stay")),
        ]
    ]


async def ask_leave(ctx: Context) -> None:
    """/leave: confirm leaving the current circle."""
    assert ctx.resident is not None
    membership = await ctx.uow.memberships.current(ctx.resident.id)
    if membership is None:
        ctx.say(ctx.t.gettext("You are not a member of any circle."))
        return
    circle = await ctx.uow.territory.circle(membership.circle_id)
    await ctx.go(Flow.LEAVE, LeaveStep.CONFIRM, membership_id=membership.id)
    ctx.say(
        ctx.t.gettext(
            "Do you want to leave the circle <b>{circle}</b>? Any role you hold in it ends too.",
            circle=circle.name if circle else "?",
        ),
        _leave_buttons(ctx, membership.id),
    )


async def leave_text(ctx: Context) -> None:
    """Typed text while /leave waits for an answer: ask again, with the buttons."""
    membership_id = ctx.data.get("membership_id")
    if not isinstance(membership_id, int):
        await ctx.finish()
        ctx.say(ctx.t.gettext("I did not understand that. Send /help to see what I can do."))
        return
    ctx.say(
        ctx.t.gettext("Please answer with the buttons: do you want to leave your circle?"),
        _leave_buttons(ctx, membership_id),
    )


async def confirm_leave(ctx: Context, data: CallbackData) -> None:
    """leave:<membership id>: leave the circle."""
    membership_id = data.int_arg()
    membership = await ctx.uow.memberships.get(membership_id, lock=True) if membership_id else None
    if (
        ctx.resident is None
        or membership is None
        or membership.resident_id != ctx.resident.id
        or membership.status not in (MembershipStatus.PENDING, MembershipStatus.VERIFIED)
    ):
        await stale(ctx)
        return
    await ctx.uow.memberships.leave(membership, ctx.now)
    # Notices waiting for a digest of the circle they left go out now instead of never.
    await ctx.uow.notices.release_from_digest(ctx.resident.id, ctx.now)
    # A delegate who leaves hands the seat to the first substitute (and leaves the council).
    if await fill_vacant_seat(ctx.uow, ctx.services.catalogs, ctx.resident.id, membership.circle_id, ctx.now):
        ctx.wrote_outbox = True
    await ctx.uow.roles.revoke_circle_roles(ctx.resident.id, membership.circle_id)
    await ctx.finish()
    circle = await ctx.uow.territory.circle(membership.circle_id)
    ctx.show(
        ctx.t.gettext(
            "You have left <b>{circle}</b>. Send /start whenever you want to join a circle again.",
            circle=circle.name if circle else "?",
        )
    )


async def cancel_leave(ctx: Context, data: CallbackData) -> None:
    """stay: keep everything as it is."""
    if ctx.flow == Flow.LEAVE:
        await ctx.finish()
    ctx.show(ctx.t.gettext("Nothing has changed."))


async def cancel(ctx: Context) -> None:
    """/cancel: leave the current flow."""
    await ctx.finish()
    ctx.say(ctx.t.gettext("Cancelled. Send /help to see what you can do."))


ROUTES = Routes(
    commands={
        "help": Command(show_help, Action.SEE_HELP),
        "me": Command(show_me, Action.VIEW_OWN_DATA),
        "leave": Command(ask_leave, Action.LEAVE_CIRCLE),
        "cancel": Command(cancel, Action.CANCEL),
    },
    callbacks={
        "leave": Callback(confirm_leave, Action.LEAVE_CIRCLE),
        "stay": Callback(cancel_leave, Action.LEAVE_CIRCLE),
    },
    step_inputs=any_input(Flow.LEAVE, leave_text),
)
