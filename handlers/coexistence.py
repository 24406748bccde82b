"""Coexistence, the handler's side: opening a mediation from a case or sending a case to the community court,
taking a case, writing in the confidential threads and sharing a text, proposing sessions, drafting the
agreement, closing, and the prosecutor taking a court case back. /mediations lists what each person may see:
content only for those the rule lets read it."""

from __future__ import annotations

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.coexistence import (
    Kind,
    Outcome,
    Party,
    Status,
    may_see_state,
    may_take,
    other_party,
    outcome_choices,
)
from bot.domain.notices import parse_send_at
from bot.domain.permissions import Action, Place, Role, can
from bot.domain.reports import CaseStatus, is_open
from bot.i18n import N_, Translator, safe_join
from handlers.case_messages import may_handle
from handlers.coexistence_invites import invitee_name_written
from handlers.coexistence_life import (
    Step,
    ThreadStep,
    close_case,
    ended_text,
    handled_case,
    offer_to_take,
    session_word,
    take_team,
    tell,
    tell_handler,
    tell_parties,
    words,
)
from handlers.coexistence_texts import (
    agreement_message,
    consent_request,
    content_card,
    handler_buttons,
    handler_title,
    kind_name,
    outcome_name,
    party_buttons,
    party_label,
    party_names,
    reads_content,
    state_card,
    status_name,
)
from handlers.common import refuse, stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Command, Routes, any_input
from storage.models import CoexistenceCase

MAX_PLACE = 300


async def show_case(ctx: Context, row: CoexistenceCase, *, edit: bool = False) -> None:
    """The case as this person may see it: everything for its handler and supervisors, state and dates for
    other staff, nothing for anyone else."""
    assert ctx.resident is not None
    if reads_content(ctx.grants, ctx.resident.id, row):
        text = await content_card(
            ctx.uow, ctx.t, row, await ctx.uow.coexistence.messages(row.id), await ctx.uow.coexistence.sessions(row.id)
        )
    elif may_see_state(ctx.grants, row.barrio_id) or may_take(ctx.grants, Kind(row.kind), row.barrio_id):
        text = await state_card(ctx.uow, ctx.t, row)
    else:
        refuse(ctx)
        return
    buttons = handler_buttons(ctx.t, row, ctx.grants, ctx.resident.id)
    (ctx.show if edit else ctx.say)(text, buttons)


# ---------------------------------------------------------------- from a case


# Who may send a case where, and what to say to anyone else.
CASE_TO = {
    Kind.MEDIATION: (
        Action.MEDIATE,
        N_("Only a mediator of the barrio's Psycho-Social Safety Care can open a mediation."),
    ),
    Kind.COURT: (
        Action.REFER_TO_COURT,
        N_("Only Community Police or community justice can send a case to the community court."),
    ),
}


async def open_mediation_tapped(ctx: Context, data: CallbackData) -> None:
    """xo:<case id>: a mediator opens a mediation from a report; party A (the reporter) is asked to consent."""
    await _case_to(ctx, data, Kind.MEDIATION)


async def refer_to_court_tapped(ctx: Context, data: CallbackData) -> None:
    """xr:<case id>: community police or community justice send a misdemeanour to the barrio's court panel."""
    await _case_to(ctx, data, Kind.COURT)


async def _case_to(ctx: Context, data: CallbackData, kind: Kind) -> None:
    case = await ctx.uow.cases.get(data.int_arg() or 0, lock=True)
    if case is None:
        await stale(ctx)
        return
    action, refusal = CASE_TO[kind]
    if not (may_handle(ctx.grants, case) and can(ctx.grants, action, Place(case.barrio_id))):
        ctx.say(ctx.t.gettext(refusal))
        return
    await _open_from_case(ctx, case, kind)


async def _open_from_case(ctx: Context, case, kind: Kind) -> None:  # type: ignore[no-untyped-def]
    assert ctx.resident is not None
    if not is_open(CaseStatus(case.status)):
        ctx.say(ctx.t.gettext("<b>{ref}</b> is no longer open.", ref=case.ref))
        return
    existing = await ctx.uow.coexistence.for_report(case.id)
    if existing is not None:
        ctx.say(ctx.t.gettext("<b>{ref}</b> already has {other} under way.", ref=case.ref, other=existing.ref))
        return
    if case.reporter_id is None or case.reporter_id == ctx.resident.id:
        ctx.say(ctx.t.gettext("<b>{ref}</b> has no reporter in Vecinos who could take part.", ref=case.ref))
        return
    handler = ctx.resident.id if kind is Kind.MEDIATION else None
    row = await ctx.uow.coexistence.open(
        kind,
        case.barrio_id,
        Status.AWAITING_CONSENT,
        ctx.now,
        case_id=case.id,
        opened_by=ctx.resident.id,
        handler_id=handler,
        party_a_id=case.reporter_id,
        anonymous=case.anonymous,
    )
    if case.status != CaseStatus.IN_PROGRESS:
        # No public note: Open311 and the history must not say that a mediation or a court took it up.
        await ctx.uow.cases.move(case, CaseStatus.IN_PROGRESS, ctx.now, actor_id=ctx.resident.id, note=None)
    await tell(
        ctx.uow, ctx.services.catalogs, row.party_a_id, lambda t: consent_request(t, row, case.ref), row, ctx.now
    )
    if kind is Kind.COURT:
        await _tell_panel(ctx, row)
    ctx.wrote_outbox = True
    ctx.say(
        ctx.t.gettext(
            "🔒 <b>{ref}</b> is open ({kind}). The reporter of <b>{case}</b> has been asked to consent; I will tell "
            "you their answer.",
            ref=row.ref,
            kind=kind_name(ctx.t, row.kind),
            case=case.ref,
        ),
        handler_buttons(ctx.t, row, ctx.grants, ctx.resident.id),
    )


async def _tell_panel(ctx: Context, row: CoexistenceCase) -> None:
    """A new court case reaches the barrio's panel members, who may take it."""
    await offer_to_take(
        ctx.uow,
        ctx.services.catalogs,
        await take_team(ctx.uow, row),
        row,
        lambda t: t.gettext(
            "⚖️ A new case for the community court: <b>{ref}</b>. The parties are being asked to consent.", ref=row.ref
        ),
        ctx.now,
    )


# ---------------------------------------------------------------- listing and taking


async def list_coexistence(ctx: Context) -> None:
    """/mediations: the cases I handle or am a party to, the barrio's waiting ones I may take, and (state
    and dates only) the barrio's cases for staff who may see them."""
    assert ctx.resident is not None
    t = ctx.t
    mine = list(await ctx.uow.coexistence.of_person(ctx.resident.id))
    barrios = sorted(
        {
            g.scope_id
            for g in ctx.grants
            if g.scope_id is not None and g.role is not Role.RESIDENT and g.role is not Role.DELEGATE
        }
    )
    if any(g.role is Role.ADMIN for g in ctx.grants):
        others = await ctx.uow.coexistence.in_barrios(None)
    else:
        others = await ctx.uow.coexistence.in_barrios(barrios) if barrios else []
    visible = [
        r
        for r in others
        if r.id not in {m.id for m in mine}
        and (
            may_see_state(ctx.grants, r.barrio_id)
            or (r.handler_id is None and may_take(ctx.grants, Kind(r.kind), r.barrio_id))
        )
    ]
    if not mine and not visible:
        ctx.say(t.gettext("There are no mediation, support or court cases for you."))
        return
    lines = [t.gettext("<b>Mediation, support and community court</b>")]
    rows: list[list[Button]] = []
    for row in [*mine, *visible]:
        lines.append(
            t.gettext(
                "🔒 <b>{ref}</b> · {kind} · {state} · {date}",
                ref=row.ref,
                kind=kind_name(t, row.kind),
                state=status_name(t, row.status),
                date=t.datetime(row.updated_at, "short"),
            )
        )
        if (row in mine and ctx.resident.id not in (row.party_a_id, row.party_b_id)) or row not in mine:
            rows.append([Button(t.plain("🔒 Open {ref}", ref=row.ref), cb("xv", row.id))])
    ctx.say(safe_join("\n", lines), rows[:20])


async def view_tapped(ctx: Context, data: CallbackData) -> None:
    """xv:<id>: open a case (as the confidentiality rule allows)."""
    row = await ctx.uow.coexistence.get(data.int_arg() or 0)
    if row is None:
        await stale(ctx)
        return
    await show_case(ctx, row)


async def take_tapped(ctx: Context, data: CallbackData) -> None:
    """xk:<id>: a mediator takes a support case, or a panel member a court case, and becomes its handler."""
    assert ctx.resident is not None
    row = await ctx.uow.coexistence.get(data.int_arg() or 0, lock=True)
    if row is None:
        await stale(ctx)
        return
    if not may_take(ctx.grants, Kind(row.kind), row.barrio_id) or ctx.resident.id in (row.party_a_id, row.party_b_id):
        refuse(ctx)
        return
    if row.handler_id is not None or row.status == Status.CLOSED:
        ctx.toast(ctx.t.plain("Someone has already taken {ref}.", ref=row.ref))
        ctx.say(ctx.t.gettext("Someone has already taken <b>{ref}</b>: nothing was changed.", ref=row.ref))
        return
    status = Status.ACTIVE if row.status == Status.WAITING_HANDLER else Status(row.status)
    await ctx.uow.coexistence.touch(row, ctx.now, handler_id=ctx.resident.id, status=status.value)
    name = ctx.resident.first_name
    if row.kind == Kind.SUPPORT:  # the others hear from their handler once everyone has consented
        await _tell_taken(ctx, row, name)
    ctx.wrote_outbox = True
    ctx.toast(ctx.t.plain("{ref} is yours.", ref=row.ref))
    await show_case(ctx, row)


async def _tell_taken(ctx: Context, row: CoexistenceCase, name: str) -> None:
    await tell(
        ctx.uow,
        ctx.services.catalogs,
        row.party_a_id,
        lambda t: Reply(
            t.gettext(
                "🫂 {name}, of {service}, has taken <b>{ref}</b> and is reading your messages. You can write "
                "here at any time.",
                name=name,
                service=handler_title(t, row.kind),
                ref=row.ref,
            ),
            [[Button(t.plain("✉️ Write"), cb("xm", row.id)), Button(t.plain("🚪 Stop"), cb("xq", row.id))]],
        ),
        row,
        ctx.now,
    )


# ---------------------------------------------------------------- the handler writes


async def write_tapped(ctx: Context, data: CallbackData) -> None:
    """xw:<id>:<a|b>: the handler writes to one party."""
    row = await handled_case(ctx, data.int_arg() or 0, lock=False)
    if row is None:
        return
    try:
        party = Party(data.args[1]) if len(data.args) > 1 else None
    except ValueError:
        party = None
    if party not in (Party.A, Party.B) or (row.party_a_id if party is Party.A else row.party_b_id) is None:
        await stale(ctx)
        return
    names = await party_names(ctx.uow, row)
    await ctx.go(Flow.THREAD, ThreadStep.WRITE, cid=row.id, to=party.value)
    ctx.say(
        ctx.t.gettext(
            "Write to {party} ({ref}): each message you send goes to them alone. /cancel when you are done.",
            party=party_label(ctx.t, row, party, names),
            ref=row.ref,
        )
    )


async def share_tapped(ctx: Context, data: CallbackData) -> None:
    """xsh:<message id>: the handler shares one party's text with the other, marked as shared."""
    message = await ctx.uow.coexistence.message(data.int_arg() or 0)
    if message is None or message.author not in (Party.A, Party.B):
        await stale(ctx)
        return
    row = await handled_case(ctx, message.coexistence_id, lock=False)
    if row is None:
        return
    to = other_party(Party(message.author))
    recipient = row.party_a_id if to is Party.A else row.party_b_id
    if row.kind == Kind.SUPPORT or recipient is None:
        ctx.say(ctx.t.gettext("There is nobody to share it with yet."))
        return
    text = message.text
    await ctx.uow.coexistence.add_message(row, Party.HANDLER, to, text, ctx.now, shared=True)
    await tell(
        ctx.uow,
        ctx.services.catalogs,
        recipient,
        lambda t: Reply(
            t.gettext(
                "🔁 <b>{ref}</b> · {handler} shares what the other side said:\n\n{text}",
                ref=row.ref,
                handler=handler_title(t, row.kind),
                text=text,
            ),
            party_buttons(t, row),
        ),
        row,
        ctx.now,
        part=message.author,
    )
    ctx.wrote_outbox = True
    ctx.toast(ctx.t.plain("Shared."))
    ctx.say(ctx.t.gettext("🔁 Shared with the other side, marked as shared."))


# ---------------------------------------------------------------- sessions


async def _under_way(ctx: Context, coexistence_id: int) -> CoexistenceCase | None:
    """The handler's case if both sides have joined it (sessions and agreements need them); else says so."""
    row = await handled_case(ctx, coexistence_id, lock=False)
    if row is not None and row.status != Status.ACTIVE:
        ctx.say(ctx.t.gettext("<b>{ref}</b> is not under way: both sides must have accepted first.", ref=row.ref))
        return None
    return row


async def session_tapped(ctx: Context, data: CallbackData) -> None:
    """xs:<id>: propose a session (a hearing, for a court case): first when."""
    row = await _under_way(ctx, data.int_arg() or 0)
    if row is None:
        return
    await ctx.go(Flow.COEXISTENCE, Step.WHEN, cid=row.id)
    ctx.say(
        ctx.t.gettext("When? Type the date and time in Madrid time, for example 20/12/2026 18:00. /cancel to stop.")
    )


async def session_time_written(ctx: Context) -> None:
    """The session's time; then its place."""
    at = parse_send_at(ctx.incoming.text or "", ctx.now, ctx.services.catalogs.zone)
    if at is None:
        ctx.say(
            ctx.t.gettext(
                "I could not read that as a date and time in the future. Write it like 20/12/2026 18:00, or /cancel."
            )
        )
        return
    await ctx.go(Flow.COEXISTENCE, Step.PLACE, at=at.isoformat())
    ctx.say(ctx.t.gettext("Where? A place, or a call (for example: Centro Cívico Casino de la Reina, room 2)."))


async def session_place_written(ctx: Context) -> None:
    """The session's place: propose it to both parties."""
    from datetime import datetime

    place = words(ctx, MAX_PLACE)
    if place is None:
        return
    row = await _under_way(ctx, int(ctx.data.get("cid", 0)))
    chosen = ctx.data.get("at")
    await ctx.finish()
    if row is None:
        return
    if not isinstance(chosen, str):
        await stale(ctx)
        return
    at = datetime.fromisoformat(chosen)
    session = await ctx.uow.coexistence.propose_session(row, at, place, ctx.now)

    def proposal(t: Translator, _party: Party) -> Reply:
        return Reply(
            t.gettext(
                "📅 <b>{ref}</b> · {handler} proposes {what} on <b>{date}</b> · {place}. Can you come?",
                ref=row.ref,
                handler=handler_title(t, row.kind),
                what=session_word(t, row.kind),
                date=t.datetime(at, "medium"),
                place=place,
            ),
            [
                [
                    Button(t.plain("✅ Yes"), cb("xt", session.id, "yes")),
                    Button(t.plain("❌ No"), cb("xt", session.id, "no")),
                ],
                [Button(t.plain("🕐 Another time"), cb("xt", session.id, "other"))],
            ],
        )

    await tell_parties(ctx.uow, ctx.services.catalogs, row, proposal, ctx.now)
    ctx.wrote_outbox = True
    ctx.say(
        ctx.t.gettext(
            "📅 Proposed to both sides: {date} · {place}. I will tell you their answers.",
            date=ctx.t.datetime(at, "medium"),
            place=place,
        )
    )


# ---------------------------------------------------------------- the agreement


async def draft_tapped(ctx: Context, data: CallbackData) -> None:
    """xd:<id>: draft the agreement: A's commitments, then B's."""
    row = await _under_way(ctx, data.int_arg() or 0)
    if row is None:
        return
    await ctx.go(Flow.COEXISTENCE, Step.AGREE_A, cid=row.id)
    await _ask_commitments(ctx, row, Party.A)


async def _ask_commitments(ctx: Context, row: CoexistenceCase, party: Party) -> None:
    names = await party_names(ctx.uow, row)
    ctx.say(
        ctx.t.gettext(
            "Write what {party} commits to (one message). /cancel to stop.",
            party=party_label(ctx.t, row, party, names),
        )
    )


async def agreement_a_written(ctx: Context) -> None:
    """A's commitments; then B's."""
    text = words(ctx)
    if text is None:
        return
    row = await handled_case(ctx, int(ctx.data.get("cid", 0)), lock=False)
    if row is None:
        await ctx.finish()
        return
    await ctx.go(Flow.COEXISTENCE, Step.AGREE_B, agreement_a=text)
    await _ask_commitments(ctx, row, Party.B)


async def agreement_b_written(ctx: Context) -> None:
    """B's commitments: the draft goes to both parties for acceptance."""
    text = words(ctx)
    if text is None:
        return
    row = await _under_way(ctx, int(ctx.data.get("cid", 0)))
    agreement_a = ctx.data.get("agreement_a")
    await ctx.finish()
    if row is None:
        return
    if not isinstance(agreement_a, str):
        await stale(ctx)
        return
    await ctx.uow.coexistence.touch(
        row,
        ctx.now,
        agreement_a=agreement_a,
        agreement_b=text,
        status=Status.AGREEMENT.value,
        a_accepted_at=None,
        b_accepted_at=None,
    )
    await tell_parties(
        ctx.uow, ctx.services.catalogs, row, lambda t, p: agreement_message(t, row, p, ask=True), ctx.now
    )
    ctx.wrote_outbox = True
    ctx.say(ctx.t.gettext("📝 The draft agreement of <b>{ref}</b> was sent to both sides to accept.", ref=row.ref))


# ---------------------------------------------------------------- the end


async def close_tapped(ctx: Context, data: CallbackData) -> None:
    """xcc:<id>:<outcome>: the handler closes the case with an outcome its state allows."""
    row = await handled_case(ctx, data.int_arg() or 0)
    if row is None:
        return
    try:
        outcome = Outcome(data.args[1]) if len(data.args) > 1 else None
    except ValueError:
        outcome = None
    if outcome is None or outcome not in outcome_choices(Kind(row.kind), Status(row.status)):
        await stale(ctx)
        return
    assert ctx.resident is not None
    await close_case(ctx.uow, ctx.services.catalogs, row, outcome, ctx.now, actor_id=ctx.resident.id)
    await tell_parties(ctx.uow, ctx.services.catalogs, row, lambda t, _p: Reply(ended_text(t, row, outcome)), ctx.now)
    ctx.wrote_outbox = True
    ctx.say(ctx.t.gettext("🏁 <b>{ref}</b> is closed: {outcome}.", ref=row.ref, outcome=outcome_name(ctx.t, outcome)))


async def take_back_tapped(ctx: Context, data: CallbackData) -> None:
    """xtb:<id>: the community prosecutor takes a court case back to the ordinary procedure."""
    row = await ctx.uow.coexistence.get(data.int_arg() or 0, lock=True)
    if row is None or row.kind != Kind.COURT:
        await stale(ctx)
        return
    if not can(ctx.grants, Action.SUPERVISE_COURT, Place(row.barrio_id)):
        refuse(ctx)
        return
    if row.status == Status.CLOSED:
        ctx.say(ctx.t.gettext("<b>{ref}</b> is closed: nothing was changed.", ref=row.ref))
        return
    assert ctx.resident is not None
    await close_case(ctx.uow, ctx.services.catalogs, row, Outcome.TAKEN_BACK, ctx.now, actor_id=ctx.resident.id)
    catalogs = ctx.services.catalogs
    await tell_parties(
        ctx.uow,
        catalogs,
        row,
        lambda t, _p: Reply(
            t.gettext(
                "⚖️ The community prosecutor has taken <b>{ref}</b> back: it continues through the ordinary procedure, "
                "and community justice will contact you.",
                ref=row.ref,
            )
        ),
        ctx.now,
    )
    await tell_handler(
        ctx.uow,
        catalogs,
        row,
        lambda t: t.gettext("⚖️ The community prosecutor has taken <b>{ref}</b> back from the panel.", ref=row.ref),
        ctx.now,
    )
    ctx.wrote_outbox = True
    ctx.say(ctx.t.gettext("↩️ <b>{ref}</b> is taken back. The parties and the panel have been told.", ref=row.ref))


STAFF_STEPS = {
    Step.FIND: invitee_name_written,
    Step.WHEN: session_time_written,
    Step.PLACE: session_place_written,
    Step.AGREE_A: agreement_a_written,
    Step.AGREE_B: agreement_b_written,
}


async def staff_step_input(ctx: Context) -> None:
    """Typed answers inside the handler's flow, by step."""
    handler = STAFF_STEPS.get(Step(ctx.step)) if ctx.step in set(Step) else None
    if handler is None:
        await ctx.finish()
        await stale(ctx)
        return
    await handler(ctx)


ROUTES = Routes(
    commands={"mediations": Command(list_coexistence, Action.SEEK_SUPPORT)},
    callbacks={
        "xo": Callback(open_mediation_tapped, Action.HANDLE_REPORTS),
        "xr": Callback(refer_to_court_tapped, Action.HANDLE_REPORTS),
        "xv": Callback(view_tapped, Action.SEEK_SUPPORT),
        "xk": Callback(take_tapped, Action.SEEK_SUPPORT),
        "xw": Callback(write_tapped, Action.SEEK_SUPPORT),
        "xsh": Callback(share_tapped, Action.SEEK_SUPPORT),
        "xs": Callback(session_tapped, Action.SEEK_SUPPORT),
        "xd": Callback(draft_tapped, Action.SEEK_SUPPORT),
        "xcc": Callback(close_tapped, Action.SEEK_SUPPORT),
        "xtb": Callback(take_back_tapped, Action.SUPERVISE_COURT),
    },
    step_inputs={
        **any_input(Flow.COEXISTENCE, staff_step_input),
    },
)
