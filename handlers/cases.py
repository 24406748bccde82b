"""Staff and cases: /cases (by state, paged), /case REF, transitions with a public note, referral to another
sector, merging, questions to the reporter through the bot; and the scheduler's deadline work."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from bot.channels.base import Button, IncomingKind, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Role, Sector
from bot.domain.reports import (
    TARGET,
    CaseStatus,
    DueWork,
    Route,
    Transition,
    due_work,
    is_open,
    parse_case_reference,
    staff_transitions,
)
from bot.i18n import N_, Catalogs, Safe, Translator, escape, safe_join
from bot.language_detection import warm_up_in_background
from handlers.case_messages import (
    TOPIC_CASE_DEADLINE,
    TOPIC_CASE_UPDATE,
    card_with,
    category_text,
    may_handle,
    new_case_messages,
    people_update,
    staff_buttons,
    staff_card,
    tell_handlers,
    tell_people,
)
from handlers.common import refuse, stale, typed_words
from handlers.context import Context, Flow, Services
from handlers.labels import case_status_name, handler_name, sector_name
from handlers.routing import Callback, Command, Routes, any_input
from storage.cases import sla_of
from storage.models import Case
from storage.uow import UnitOfWork

TOPIC_CASE_QUESTION = "case.question"
PAGE_SIZE = 8
# Transitions that need words for the residents before they apply.
NEEDS_NOTE = frozenset({Transition.RESOLVE, Transition.NOT_ACTIONABLE, Transition.REFER})
MAX_NOTE = 1000


class WriteStep(StrEnum):
    """Staff writing a note, a question, or the reference of the case to merge into."""

    WRITE = "write"


def case_scopes(ctx: Context) -> list[tuple[int | None, str | None]]:
    """The (barrio, sector) pairs this person handles cases of (None: every barrio, every sector)."""
    scopes: list[tuple[int | None, str | None]] = []
    for grant in ctx.grants:
        if grant.role is Role.ADMIN:
            return [(None, None)]
        if grant.role is Role.COMMUNITY_MANAGER:
            scopes.append((grant.scope_id, None))
        elif grant.role is Role.SECTORIAL_MANAGER:
            scopes.append((grant.scope_id, grant.sector.value if grant.sector else None))
    return scopes


# ---------------------------------------------------------------- lists and one case


STATE_FILTERS: tuple[str, ...] = ("open", *[s.value for s in CaseStatus])


def _statuses(key: str) -> list[str]:
    if key == "open":
        return [s.value for s in CaseStatus if is_open(s)]
    return [key]


async def list_cases(ctx: Context) -> None:
    """/cases [state]: the cases of my scope, open ones by default."""
    key = ctx.incoming.args.strip().lower() or "open"
    if key not in STATE_FILTERS:
        key = "open"
    await _show_list(ctx, key, 0, edit=False)


async def list_page(ctx: Context, data: CallbackData) -> None:
    """cl:<state>:<page>: another state or page."""
    key = data.args[0] if data.args else "open"
    page = int(data.args[1]) if len(data.args) > 1 and data.args[1].isdigit() else 0
    if key not in STATE_FILTERS or page > 10_000:
        await stale(ctx)
        return
    await _show_list(ctx, key, page, edit=True)


async def _show_list(ctx: Context, key: str, page: int, *, edit: bool) -> None:
    t = ctx.t
    scopes = case_scopes(ctx)
    counts = await ctx.uow.cases.count_by_status(scopes)
    cases, total = await ctx.uow.cases.in_scopes(scopes, _statuses(key), limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    label = t.plain("open") if key == "open" else case_status_name(t, key)
    lines = [t.gettext("<b>Cases: {state}</b> ({count})", state=label, count=t.number(total))]
    rows: list[list[Button]] = []
    for case in cases:
        lines.append(
            t.gettext(
                "<b>{ref}</b> · {category} · {state} · {date}",
                ref=case.ref,
                category=await category_text(ctx.uow, t, case.category),
                state=case_status_name(t, case.status),
                date=t.datetime(case.created_at, "short"),
            )
        )
        rows.append([Button(t.plain("Open {ref}", ref=case.ref), cb("co", case.id))])
    if not cases:
        lines.append(t.gettext("No cases here. 🎉"))
    pager = []
    if page > 0:
        pager.append(Button(t.plain("« Previous"), cb("cl", key, page - 1)))
    if (page + 1) * PAGE_SIZE < total:
        pager.append(Button(t.plain("Next »"), cb("cl", key, page + 1)))
    if pager:
        rows.append(pager)
    open_count = sum(n for status, n in counts.items() if is_open(CaseStatus(status)))
    filters = [Button(t.plain("Open ({n})", n=open_count), cb("cl", "open", 0))]
    filters += [
        Button(f"{case_status_name(t, s)} ({counts.get(s, 0)})", cb("cl", s, 0))
        for s in (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value)
    ]
    rows.append(filters)
    (ctx.show if edit else ctx.say)(safe_join("\n", lines), rows)


async def open_case(ctx: Context) -> None:
    """/case REF: one case, with its history, photos, place and the buttons this person may use."""
    warm_up_in_background()  # staff's notes and reports are labelled with their language
    ref = parse_case_reference(ctx.incoming.args)
    case = await ctx.uow.cases.by_ref(ref) if ref else None
    if case is None or not may_handle(ctx.grants, case):
        ctx.say(
            ctx.t.gettext(
                "There is no case {ref} that you handle. /cases lists yours.", ref=ctx.incoming.args.strip()[:20] or "?"
            )
        )
        return
    await _show_case(ctx, case, edit=False)


async def case_tapped(ctx: Context, data: CallbackData) -> None:
    """co:<case id>: open a case from a list."""
    case = await ctx.uow.cases.get(data.int_arg() or 0)
    if case is None or not may_handle(ctx.grants, case):
        refuse(ctx)
        return
    await _show_case(ctx, case, edit=False)


async def _show_case(ctx: Context, case: Case, *, edit: bool) -> None:
    t = ctx.t
    assert ctx.resident is not None
    messages = await new_case_messages(ctx.uow, t, case, reader=(ctx.grants, ctx.resident.id))
    history = [t.gettext("<b>History</b>")]
    for event in await ctx.uow.cases.events(case.id):
        line = _history_line(t, event.kind, event.to_status, event.sector)
        stamp = t.datetime(event.at, "short")
        entry = t.gettext("{date}: {what}", date=stamp, what=line)
        if event.note:
            entry = entry + Safe(" · ") + escape(event.note)
        history.append(entry)
    card = Reply(Safe(messages[0].text) + Safe("\n\n") + safe_join("\n", history), staff_buttons(t, case, ctx.grants))
    if edit:
        ctx.show(card.text, card.buttons)
    else:
        ctx.replies.append(card)
    for extra in messages[1:]:
        ctx.replies.append(extra)


def _history_line(t: Translator, kind: str, to_status: str | None, sector: str | None) -> str:
    if kind == "created":
        return t.plain("reported")
    if kind == "question":
        return t.plain("question to the reporter")
    if kind == "answer":
        return t.plain("answer from the reporter")
    if kind == "follower":
        return t.plain("a neighbour reports it too")
    if to_status == CaseStatus.REFERRED:
        return t.plain("referred to {handler}", handler=handler_name(t, sector))
    return case_status_name(t, to_status or "new")


# ---------------------------------------------------------------- transitions


async def transition_tapped(ctx: Context, data: CallbackData) -> None:
    """ct:<case id>:<transition>: apply it (acknowledge, start) or ask for what it needs (a note, a sector, the
    case to merge into). A second tap of the same button changes nothing."""
    case = await ctx.uow.cases.get(data.int_arg() or 0, lock=True)
    try:
        transition = Transition(data.args[1]) if len(data.args) > 1 else None
    except ValueError:
        transition = None
    if case is None or transition is None:
        await stale(ctx)
        return
    if not may_handle(ctx.grants, case):
        refuse(ctx)
        return
    if transition not in staff_transitions(CaseStatus(case.status)):
        _moved_on(ctx, case)
        return
    if transition is Transition.REFER:
        ctx.say(
            ctx.t.gettext("Refer <b>{ref}</b> to which service?", ref=case.ref),
            _sector_buttons(ctx.t, case),
        )
        return
    if transition is Transition.MERGE:
        await ctx.go(Flow.CASE_MERGE, WriteStep.WRITE, case_id=case.id, status=case.status)
        ctx.say(
            ctx.t.gettext(
                "Which case is <b>{ref}</b> the same as? Type its reference (for example EMB-0012). /cancel to stop.",
                ref=case.ref,
            )
        )
        return
    if transition in NEEDS_NOTE:
        await _ask_note(ctx, case, transition, None)
        return
    await _apply(ctx, case, transition, note=None)


def _sector_buttons(t: Translator, case: Case) -> list[list[Button]]:
    options = [s for s in Sector if s.value != case.sector]
    rows = [[Button(sector_name(t, s), cb("crs", case.id, s.value))] for s in options]
    if case.sector is not None:
        rows.append([Button(t.plain("The community managers"), cb("crs", case.id, "cm"))])
    return rows


async def sector_chosen(ctx: Context, data: CallbackData) -> None:
    """crs:<case id>:<sector|cm>: the referral's new sector; then its note."""
    case = await ctx.uow.cases.get(data.int_arg() or 0, lock=True)
    choice = data.args[1] if len(data.args) > 1 else ""
    if case is None or not (choice == "cm" or choice in set(Sector)):
        await stale(ctx)
        return
    if not may_handle(ctx.grants, case):
        refuse(ctx)
        return
    if Transition.REFER not in staff_transitions(CaseStatus(case.status)):
        _moved_on(ctx, case)
        return
    await _ask_note(ctx, case, Transition.REFER, None if choice == "cm" else choice)


async def _ask_note(ctx: Context, case: Case, transition: Transition, sector: str | None) -> None:
    await ctx.go(
        Flow.CASE_NOTE, WriteStep.WRITE, case_id=case.id, transition=transition.value, status=case.status, sector=sector
    )
    prompts = {
        Transition.RESOLVE: N_("What was done about <b>{ref}</b>? Write a short note: the residents will read it."),
        Transition.NOT_ACTIONABLE: N_(
            "Why can <b>{ref}</b> not be acted on? Write the reason: the residents will read it."
        ),
        Transition.REFER: N_(
            "Write a short note for the residents about passing <b>{ref}</b> on (or tap the button to send none)."
        ),
    }
    buttons = []
    if transition is not Transition.NOT_ACTIONABLE:
        buttons = [[Button(ctx.t.plain("Without a note"), cb("cnn", case.id))]]
    ctx.say(ctx.t.gettext(prompts[transition], ref=case.ref), buttons)


async def note_written(ctx: Context) -> None:
    """The public note of a pending transition."""
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return
    cleaned = typed_words(ctx, MAX_NOTE)
    if cleaned is not None:
        await _apply_pending(ctx, cleaned)


async def no_note(ctx: Context, data: CallbackData) -> None:
    """cnn:<case id>: apply the pending transition without a note."""
    if ctx.flow != Flow.CASE_NOTE or ctx.data.get("case_id") != data.int_arg():
        await stale(ctx)
        return
    if ctx.data.get("transition") == Transition.NOT_ACTIONABLE:
        await stale(ctx)
        return
    await _apply_pending(ctx, None)


async def _apply_pending(ctx: Context, note: str | None) -> None:
    pending = ctx.data
    case = await ctx.uow.cases.get(int(pending.get("case_id", 0)), lock=True)
    transition = Transition(pending["transition"])
    await ctx.finish()
    if case is None or not may_handle(ctx.grants, case):
        await stale(ctx)
        return
    if case.status != pending.get("status") or transition not in staff_transitions(CaseStatus(case.status)):
        _moved_on(ctx, case)
        return
    await _apply(ctx, case, transition, note=note, sector=pending.get("sector"))


async def _apply(
    ctx: Context, case: Case, transition: Transition, *, note: str | None, sector: str | None = None
) -> None:
    """Move the case, record who and why, tell the reporter and followers in their languages, and show the
    staff member the case as it is now."""
    assert ctx.resident is not None
    target = TARGET[transition]
    route: Route | None = None
    if transition is Transition.REFER:
        base = (await ctx.uow.cases.routing()).route(case.category, case.barrio_id)
        if base is not None:
            route = Route(Sector(sector) if sector else None, base.acknowledge, base.resolve)
    follow_up = timedelta(days=ctx.services.report_follow_up_days) if transition is Transition.RESOLVE else None
    await ctx.uow.cases.move(
        case, target, ctx.now, actor_id=ctx.resident.id, note=note, route=route, sector=sector,
        follow_up_after=follow_up,
    )  # fmt: skip
    uow = ctx.uow
    await tell_people(uow, ctx.services.catalogs, case, people_update(uow, case, target, note, source=ctx.t.locale),
                      TOPIC_CASE_UPDATE, ctx.now)  # fmt: skip
    if transition is Transition.REFER:
        # The new team gets the case as a new one.
        async def heading(t: Translator) -> Safe:
            return t.gettext(
                "↪️ Referred to you: <b>{ref}</b> · {category}",
                ref=case.ref,
                category=await category_text(uow, t, case.category),
            )

        await tell_handlers(uow, ctx.services.catalogs, case, card_with(uow, case, heading), TOPIC_CASE_UPDATE,
                            ctx.now, skip=ctx.resident.id)  # fmt: skip
    ctx.wrote_outbox = True
    ctx.toast(ctx.t.plain("Done: {ref} is {state}.", ref=case.ref, state=case_status_name(ctx.t, case.status)))
    card = await staff_card(uow, ctx.t, case, reader=(ctx.grants, ctx.resident.id))
    ctx.show(card, staff_buttons(ctx.t, case, ctx.grants))


def _moved_on(ctx: Context, case: Case) -> None:
    ctx.toast(ctx.t.plain("Already done: {ref} is {state}.", ref=case.ref, state=case_status_name(ctx.t, case.status)))
    ctx.say(
        ctx.t.gettext(
            "<b>{ref}</b> is already {state}: nothing was changed. /case {ref} shows it as it is now.",
            ref=case.ref,
            state=case_status_name(ctx.t, case.status),
        )
    )


async def merge_target_written(ctx: Context) -> None:
    """The reference of the case this one duplicates: merge into it."""
    case = await ctx.uow.cases.get(int(ctx.data.get("case_id", 0)), lock=True)
    ref = parse_case_reference(ctx.incoming.text) if ctx.incoming.kind is IncomingKind.TEXT else None
    into = await ctx.uow.cases.by_ref(ref) if ref else None
    if case is None or not may_handle(ctx.grants, case):
        await ctx.finish()
        await stale(ctx)
        return
    if into is None or into.id == case.id or not is_open(CaseStatus(into.status)) or not may_handle(ctx.grants, into):
        ctx.say(
            ctx.t.gettext(
                "{ref} is not another open case that you handle. Type a reference such as EMB-0012, or /cancel.",
                ref=(ctx.incoming.text or "?")[:20],
            )
        )
        return
    expected_status = ctx.data.get("status")
    await ctx.finish()
    if case.status != expected_status or Transition.MERGE not in staff_transitions(CaseStatus(case.status)):
        _moved_on(ctx, case)
        return
    assert ctx.resident is not None
    uow = ctx.uow
    note = ctx.t.plain("Same problem as {ref}.", ref=into.ref)
    # Everyone following this case is told before they move to the survivor.
    await tell_people(uow, ctx.services.catalogs, case, people_update(uow, case, CaseStatus.MERGED, None, into),
                      TOPIC_CASE_UPDATE, ctx.now)  # fmt: skip
    await uow.cases.merge(case, into, ctx.now, actor_id=ctx.resident.id, note=note)
    ctx.wrote_outbox = True
    ctx.say(
        ctx.t.gettext(
            "🔗 <b>{ref}</b> is now part of <b>{other}</b>, which {n} neighbours follow.",
            ref=case.ref,
            other=into.ref,
            n=ctx.t.number(into.supporters + 1),
        )
    )


# ---------------------------------------------------------------- questions to the reporter


async def ask_reporter_tapped(ctx: Context, data: CallbackData) -> None:
    """cq:<case id>: write a question to the reporter (who stays unknown if anonymous)."""
    case = await ctx.uow.cases.get(data.int_arg() or 0)
    if case is None:
        await stale(ctx)
        return
    if not may_handle(ctx.grants, case):
        refuse(ctx)
        return
    if case.reporter_id is None:
        ctx.say(ctx.t.gettext("Nobody can be asked about <b>{ref}</b>: it has no reporter in Vecinos.", ref=case.ref))
        return
    await ctx.go(Flow.CASE_QUESTION, WriteStep.WRITE, case_id=case.id)
    ctx.say(
        ctx.t.gettext(
            "Write your question to the reporter of <b>{ref}</b> in one message. I pass it on without saying who "
            "either of you is. /cancel to stop.",
            ref=case.ref,
        )
    )


async def question_written(ctx: Context) -> None:
    """The question: stored on the case, relayed to the reporter with an answer button."""
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return
    case = await ctx.uow.cases.get(int(ctx.data.get("case_id", 0)))
    if case is None or not may_handle(ctx.grants, case) or case.reporter_id is None:
        await ctx.finish()
        await stale(ctx)
        return
    text = typed_words(ctx, MAX_NOTE)
    if text is None:
        return
    assert ctx.resident is not None
    event = await ctx.uow.cases.record(case, "question", ctx.now, actor_id=ctx.resident.id, note=text)
    reporter = await ctx.uow.residents.get(case.reporter_id)
    if reporter is not None:
        handler = case.sector
        await ctx.notify(
            reporter,
            lambda t: Reply(
                t.gettext(
                    "❓ A question about your report <b>{ref}</b> from {handler}:\n\n{text}",
                    handler=handler_name(t, handler),
                    ref=case.ref,
                    text=text,
                ),
                [[Button(t.plain("↩️ Answer"), cb("rqa", event.id))]],
            ),
            TOPIC_CASE_QUESTION,
        )
    await ctx.finish()
    ctx.say(ctx.t.gettext("✅ Your question was passed on. The answer will come here."))


# ---------------------------------------------------------------- deadlines (scheduler)


DEADLINE_FLAGS = {
    DueWork.ACK_REMINDER: "ack_reminded",
    DueWork.ACK_ESCALATION: "ack_escalated",
    DueWork.RESOLVE_REMINDER: "resolve_reminded",
    DueWork.RESOLVE_ESCALATION: "resolve_escalated",
}
DEADLINE_HEADINGS = {
    DueWork.ACK_REMINDER: N_("⏰ Not acknowledged yet, the deadline has passed: <b>{ref}</b> · {category}"),
    DueWork.ACK_ESCALATION: N_(
        "⚠️ Escalated to you: <b>{ref}</b> · {category} is still not acknowledged, twice past its deadline. Please "
        "handle or refer it."
    ),
    DueWork.RESOLVE_REMINDER: N_("⏰ Not resolved yet, the deadline has passed: <b>{ref}</b> · {category}"),
    DueWork.RESOLVE_ESCALATION: N_(
        "⚠️ Escalated to you: <b>{ref}</b> · {category} is still not resolved, twice past its deadline."
    ),
}


async def send_due_case_work(services: Services, limit: int = 100) -> int:
    """Tick: reminders to the sector at a deadline, escalations to the community managers at twice it, each
    once; and "is it fixed?" some days after a case was resolved."""
    from handlers.reports import send_follow_ups

    now = services.clock()
    sent = 0
    async with services.db.unit_of_work() as uow:
        for case in await uow.cases.claim_due(now, limit):
            work = due_work(sla_of(case), now)
            for item in work:
                sent += await _tell_deadline(uow, services.catalogs, case, item, now)
            await uow.cases.mark_deadline_work(case, [DEADLINE_FLAGS[item] for item in work], now)
        sent += await send_follow_ups(uow, services.catalogs, now)
        await uow.commit()
    if sent:
        services.on_outbox()
    return sent


async def _tell_deadline(uow: UnitOfWork, catalogs: Catalogs, case: Case, item: DueWork, now) -> int:  # type: ignore[no-untyped-def]
    async def heading(t: Translator) -> Safe:
        return t.gettext(DEADLINE_HEADINGS[item], ref=case.ref, category=await category_text(uow, t, case.category))

    escalation = item in (DueWork.ACK_ESCALATION, DueWork.RESOLVE_ESCALATION)
    return await tell_handlers(
        uow, catalogs, case, card_with(uow, case, heading), TOPIC_CASE_DEADLINE, now, managers_only=escalation
    )


ROUTES = Routes(
    commands={
        "cases": Command(list_cases, Action.HANDLE_REPORTS, N_("Only the staff who handle reports can see cases.")),
        "case": Command(open_case, Action.HANDLE_REPORTS, N_("Only the staff who handle reports can see cases.")),
    },
    callbacks={
        "cl": Callback(list_page, Action.HANDLE_REPORTS),
        "co": Callback(case_tapped, Action.HANDLE_REPORTS),
        "ct": Callback(transition_tapped, Action.HANDLE_REPORTS),
        "crs": Callback(sector_chosen, Action.HANDLE_REPORTS),
        "cnn": Callback(no_note, Action.HANDLE_REPORTS),
        "cq": Callback(ask_reporter_tapped, Action.HANDLE_REPORTS),
    },
    step_inputs={
        **any_input(Flow.CASE_NOTE, note_written),
        **any_input(Flow.CASE_QUESTION, question_written),
        **any_input(Flow.CASE_MERGE, merge_target_written),
    },
)
