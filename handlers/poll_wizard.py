"""/poll: creating a poll step by step (where, kind, question, options, closing time), a preview with the
settings to toggle, then open it to its electorate."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.channels.base import Button
from bot.domain.ballots import MAX_OPTIONS, PollKind
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import PERMISSIONS, Action, Place
from bot.domain.permissions import ScopeKind as GrantScope
from bot.domain.polls import (
    OPTION_MAX,
    QUESTION_MAX,
    PollScope,
    PollTerms,
    ScopeKind,
    TermsProblem,
    check_options,
    check_terms,
    parse_closing,
    parse_duration,
)
from bot.domain.text import clean_free_text, has_letters_or_digits
from bot.i18n import N_, Safe, Translator, safe_join
from handlers.common import refuse, stale
from handlers.context import Context, Flow
from handlers.labels import circle_label
from handlers.poll_cards import KIND_NAMES, OptionView, PollCard, ballot_reply, when
from handlers.poll_schedule import create_poll
from handlers.routing import Callback, Command, Routes, any_input

CLOSING_CHOICES = ("1d", "3d", "7d", "14d")
QUORUM_STEPS = (0, 10, 25, 50)
THRESHOLD_STEPS = (50, 60, 66, 75)

PROBLEMS = {
    TermsProblem.TOO_FEW_OPTIONS: N_("A poll needs at least two options."),
    TermsProblem.TOO_MANY_OPTIONS: N_("A poll can have at most 10 options."),
    TermsProblem.OPTION_EMPTY: N_("An option cannot be empty."),
    TermsProblem.OPTION_LONG: N_("An option can be at most 100 characters long."),
    TermsProblem.OPTIONS_REPEATED: N_("Each option must be different from the others."),
    TermsProblem.CLOSES_TOO_SOON: N_("The poll must stay open at least 5 minutes."),
    TermsProblem.CLOSES_TOO_LATE: N_("A poll can stay open at most 90 days."),
}


class PollStep(StrEnum):
    """Steps of creating a poll."""

    SCOPE = "scope"
    KIND = "kind"
    QUESTION = "question"
    OPTIONS = "options"
    MAX_CHOICES = "max_choices"
    CLOSES = "closes"
    PREVIEW = "preview"


def _cancel_row(t: Translator) -> list[Button]:
    return [Button(t.plain("✖️ Cancel"), cb("pcx"))]


def _place(scope: PollScope, barrio_of_circle: int | None) -> Place:
    if scope.kind is ScopeKind.CIRCLE:
        return Place(barrio_of_circle, scope.id)
    if scope.kind in (ScopeKind.BARRIO, ScopeKind.COUNCIL):
        return Place(scope.id, None)
    return Place()


async def _place_of(ctx: Context, scope: PollScope) -> Place:
    barrio = None
    if scope.kind is ScopeKind.CIRCLE and scope.id:
        circle = await ctx.uow.territory.circle(scope.id)
        barrio = circle.barrio_id if circle else None
    return _place(scope, barrio)


async def creatable_scopes(ctx: Context) -> list[tuple[PollScope, str]]:
    """Where this person may open a poll, with a button label for each, from their grants."""
    found: list[tuple[PollScope, str]] = []
    t = ctx.t
    for grant in ctx.grants:
        if Action.CREATE_POLL not in PERMISSIONS[grant.role]:
            continue
        if grant.scope is GrantScope.DISTRICT:
            found.append((PollScope(ScopeKind.DISTRICT), t.plain("🌐 The whole district")))
            found.extend((PollScope(ScopeKind.BARRIO, b.id), f"🏘️ {b.name}") for b in await ctx.uow.territory.barrios())
        elif grant.scope is GrantScope.BARRIO and grant.scope_id:
            barrio = await ctx.uow.territory.barrio(grant.scope_id)
            if barrio is not None:
                found.append((PollScope(ScopeKind.BARRIO, barrio.id), f"🏘️ {barrio.name}"))
                council = t.plain("🏛️ The council of {place}", place=barrio.name)
                found.append((PollScope(ScopeKind.COUNCIL, barrio.id), council))
            for circle in await ctx.uow.territory.circles_in_barrio(grant.scope_id):
                found.append((PollScope(ScopeKind.CIRCLE, circle.id), circle_label(circle.kind, circle.name)))
        elif grant.scope is GrantScope.CIRCLE and grant.scope_id:
            circle = await ctx.uow.territory.circle(grant.scope_id)
            if circle is not None:
                found.append((PollScope(ScopeKind.CIRCLE, circle.id), circle_label(circle.kind, circle.name)))
    unique: dict[str, tuple[PollScope, str]] = {}
    for scope, label in found:
        unique.setdefault(scope.key, (scope, label))
    return list(unique.values())


def _scope_data(scope: PollScope) -> str:
    return scope.key


def _scope_from(data: str) -> PollScope | None:
    from bot.domain.polls import parse_scope

    return parse_scope(data)


# ---------------------------------------------------------------- steps


async def start_poll(ctx: Context) -> None:
    """/poll: where will it be held? (skipped when there is only one place)."""
    scopes = await creatable_scopes(ctx)
    if not scopes:
        refuse(ctx)
        return
    if len(scopes) == 1:
        await _scope_chosen(ctx, scopes[0][0])
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.SCOPE)
    rows = [[Button(label, cb("pcs", *_scope_args(scope)))] for scope, label in scopes[:40]]
    rows.append(_cancel_row(ctx.t))
    ctx.say(ctx.t.gettext("🗳️ <b>New poll</b>\nWho votes in it?"), rows)


async def new_poll_tapped(ctx: Context, data: CallbackData) -> None:
    """pnew: the "New poll" button of /polls."""
    ctx.toast("")
    await start_poll(ctx)


def _scope_args(scope: PollScope) -> tuple[str, ...]:
    return (scope.kind.value,) if scope.id is None else (scope.kind.value, str(scope.id))


async def scope_tapped(ctx: Context, data: CallbackData) -> None:
    """pcs:<kind>[:<id>]: the poll's electorate."""
    scope = _scope_from(":".join(data.args))
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.SCOPE or scope is None:
        await stale(ctx)
        return
    await _scope_chosen(ctx, scope)


async def _scope_chosen(ctx: Context, scope: PollScope) -> None:
    if not ctx.allowed(Action.CREATE_POLL, await _place_of(ctx, scope)):
        refuse(ctx)
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.KIND, scope=_scope_data(scope))
    t = ctx.t
    rows = [[Button(t.plain(KIND_NAMES[kind]), cb("pck", kind.value))] for kind in PollKind]
    rows.append(_cancel_row(t))
    ctx.show(t.gettext("🗳️ What kind of poll?"), rows)


async def kind_tapped(ctx: Context, data: CallbackData) -> None:
    """pck:<kind>: then the question."""
    kind = data.args[0] if data.args else ""
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.KIND or kind not in set(PollKind):
        await stale(ctx)
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.QUESTION, kind=kind)
    ctx.show(
        ctx.t.gettext("✏️ Write the question in one message (at most {max} characters).", max=QUESTION_MAX),
        [_cancel_row(ctx.t)],
    )


async def poll_input(ctx: Context) -> None:
    """Typed text in the poll wizard: the question, an option, or the closing time, by step."""
    if ctx.step == PollStep.QUESTION:
        await _question_written(ctx)
    elif ctx.step == PollStep.OPTIONS:
        await _options_written(ctx)
    elif ctx.step == PollStep.CLOSES:
        await _closing_written(ctx)
    else:
        ctx.say(ctx.t.gettext("Please use the buttons above, or /cancel."))


async def _question_written(ctx: Context) -> None:
    raw = ctx.incoming.text or ""
    cleaned = clean_free_text(raw, QUESTION_MAX)
    if cleaned.problem == "too_long":
        ctx.say(
            ctx.t.gettext(
                "That is too long ({length} characters; at most {max}). Please shorten it.",
                length=ctx.t.number(len(raw)),
                max=ctx.t.number(QUESTION_MAX),
            ),
            [_cancel_row(ctx.t)],
        )
        return
    if not cleaned.text or not has_letters_or_digits(cleaned.text):
        ctx.say(ctx.t.gettext("Please write the question in words."), [_cancel_row(ctx.t)])
        return
    if ctx.data.get("kind") == PollKind.YESNO:
        await ctx.go(Flow.POLL_CREATE, PollStep.CLOSES, question=cleaned.text)
        _ask_closing(ctx)
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.OPTIONS, question=cleaned.text, options=[])
    ctx.say(
        ctx.t.gettext(
            "Now the options, 2 to {max}: send each one as a message (or several, one per line). Tap Done when "
            "they are all there.",
            max=MAX_OPTIONS,
        ),
        [_cancel_row(ctx.t)],
    )


def _options_buttons(t: Translator, options: list[str]) -> list[list[Button]]:
    rows = []
    if len(options) >= 2:
        rows.append([Button(t.plain("✅ Done"), cb("pco"))])
    if options:
        rows.append([Button(t.plain("↩️ Remove the last one"), cb("pcu"))])
    rows.append(_cancel_row(t))
    return rows


def _options_text(t: Translator, options: list[str], note: Safe | None = None) -> Safe:
    lines = [t.gettext("Options so far:")]
    lines.extend(t.gettext("{rank}. {option}", rank=n, option=o) for n, o in enumerate(options, 1))
    if note is not None:
        lines.append(note)
    lines.append(
        t.gettext("Send the next option, or tap Done.") if len(options) >= 2 else t.gettext("Send the next option.")
    )
    return safe_join("\n", lines)


async def _options_written(ctx: Context) -> None:
    t = ctx.t
    options = list(ctx.data.get("options") or [])
    added = []
    for line in (ctx.incoming.text or "").splitlines():
        text = clean_free_text(line.strip().lstrip("-•*").strip(), OPTION_MAX * 4).text
        if text:
            added.append(text)
    candidate = options + added
    problems = [p for p in check_options(candidate) if p is not TermsProblem.TOO_FEW_OPTIONS]
    if not added or problems:
        message = t.gettext(PROBLEMS[problems[0]]) if problems else t.gettext("Please write the option in words.")
        ctx.say(_options_text(t, options, message), _options_buttons(t, options))
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.OPTIONS, options=candidate)
    ctx.say(_options_text(t, candidate), _options_buttons(t, candidate))


async def option_undone(ctx: Context, data: CallbackData) -> None:
    """pcu: remove the last option."""
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.OPTIONS:
        await stale(ctx)
        return
    options = list(ctx.data.get("options") or [])[:-1]
    await ctx.go(Flow.POLL_CREATE, PollStep.OPTIONS, options=options)
    ctx.show(_options_text(ctx.t, options), _options_buttons(ctx.t, options))


async def options_done(ctx: Context, data: CallbackData) -> None:
    """pco: the options are complete; approval polls ask how many each voter may tick."""
    options = list(ctx.data.get("options") or [])
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.OPTIONS or len(options) < 2:
        await stale(ctx)
        return
    t = ctx.t
    if ctx.data.get("kind") == PollKind.APPROVAL:
        await ctx.go(Flow.POLL_CREATE, PollStep.MAX_CHOICES)
        numbers = [Button(str(k), cb("pcm", k)) for k in range(1, len(options) + 1)]
        rows = [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
        rows.append(_cancel_row(t))
        ctx.show(t.gettext("How many options may each voter tick at most?"), rows)
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.CLOSES)
    _ask_closing(ctx, edit=True)


async def max_choices_tapped(ctx: Context, data: CallbackData) -> None:
    """pcm:<k>: the approval maximum."""
    k = data.int_arg(0)
    options = list(ctx.data.get("options") or [])
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.MAX_CHOICES or not k or k > len(options):
        await stale(ctx)
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.CLOSES, max=k)
    _ask_closing(ctx, edit=True)


def _duration_label(t: Translator, code: str) -> str:
    days = int(code.rstrip("d"))
    return t.ngettext("{n} day", "{n} days", days)


def _ask_closing(ctx: Context, *, edit: bool = False, note: Safe | None = None) -> None:
    t = ctx.t
    rows = [[Button(_duration_label(t, code), cb("pcc", code)) for code in CLOSING_CHOICES], _cancel_row(t)]
    lines = [
        t.gettext(
            "⏳ When does it close? Tap a duration, or write a date and time such as {example} (Madrid time).",
            example="20/12/2026 20:00",
        )
    ]
    if note is not None:
        lines.insert(0, note)
    (ctx.show if edit else ctx.say)(safe_join("\n\n", lines), rows)


async def closing_tapped(ctx: Context, data: CallbackData) -> None:
    """pcc:<duration>: a closing time from now."""
    code = data.args[0] if data.args else ""
    duration = parse_duration(code)
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.CLOSES or code not in CLOSING_CHOICES or not duration:
        await stale(ctx)
        return
    await _closing_chosen(ctx, ctx.now + duration)


async def _closing_written(ctx: Context) -> None:
    closes = parse_closing(ctx.incoming.text or "", ctx.now, ctx.t.zone)
    if closes is None:
        _ask_closing(ctx, note=ctx.t.gettext("I could not read that date."))
        return
    await _closing_chosen(ctx, closes)


async def _closing_chosen(ctx: Context, closes: datetime) -> None:
    terms = _terms(ctx.data, ctx.now, closes)
    timing = (TermsProblem.CLOSES_TOO_SOON, TermsProblem.CLOSES_TOO_LATE)
    problems = [p for p in check_terms(terms, ctx.now) if p in timing]
    if problems:
        _ask_closing(ctx, note=ctx.t.gettext(PROBLEMS[problems[0]]))
        return
    await ctx.go(
        Flow.POLL_CREATE,
        PollStep.PREVIEW,
        closes=closes.isoformat(),
        quorum=ctx.data.get("quorum", 0),
        threshold=ctx.data.get("threshold", 50),
    )
    await _preview(ctx)


def _terms(data: dict, now: datetime, closes: datetime | None = None) -> PollTerms:  # type: ignore[type-arg]
    kind = PollKind(data["kind"])
    return PollTerms(
        kind=kind,
        question=data.get("question", ""),
        options=tuple(data.get("options") or ()),
        opens_at=now,
        closes_at=closes or datetime.fromisoformat(data["closes"]),
        max_choices=data.get("max"),
        quorum_percent=int(data.get("quorum", 0)),
        threshold_percent=int(data.get("threshold", 50)),
        results_visible=bool(data.get("visible", False)),
        vote_change=bool(data.get("change", False)),
    )


def _preview_card(terms: PollTerms, scope: PollScope, scope_name: str | None, eligible: int) -> PollCard:
    if terms.kind is PollKind.YESNO:
        from bot.domain.polls import YESNO_OPTIONS

        options = tuple(OptionView(-i - 1, i, o.value, o.value) for i, o in enumerate(YESNO_OPTIONS))
    else:
        options = tuple(OptionView(-i - 1, i, text, None) for i, text in enumerate(terms.options))
    return PollCard(
        id=0,
        kind=terms.kind,
        question=terms.question,
        options=options,
        status="preview",
        opens_at=terms.opens_at,
        closes_at=terms.closes_at,
        max_choices=terms.max_choices,
        vote_change=terms.vote_change,
        results_visible=terms.results_visible,
        quorum_percent=terms.quorum_percent,
        threshold_percent=terms.threshold_percent,
        eligible=eligible,
        scope=scope,
        scope_name=scope_name,
        lot_positions=(),
    )


async def _preview(ctx: Context, *, edit: bool = False) -> None:
    from handlers.poll_cards import option_label, scope_name, scope_text

    t = ctx.t
    scope = _scope_from(ctx.data.get("scope", ""))
    if scope is None:
        await stale(ctx)
        return
    terms = _terms(ctx.data, ctx.now)
    eligible = await ctx.uow.polls.members_of(scope)
    card = _preview_card(terms, scope, await scope_name(ctx.uow, scope), eligible)
    settings = [
        t.gettext("<b>Settings</b>"),
        t.gettext(
            "Who votes: the {count} verified members of {scope}, as they are when it opens.",
            count=t.number(eligible),
            scope=scope_text(t, card),
        ),
        t.gettext("Closes {when}.", when=when(t, terms.closes_at)),
        t.gettext("Quorum: at least {percent} must vote.", percent=t.percent(terms.quorum_percent))
        if terms.quorum_percent
        else t.gettext("Quorum: none."),
    ]
    if terms.kind is PollKind.YESNO:
        settings.append(
            t.gettext(
                "Carries with more than {percent} yes (of yes and no).", percent=t.percent(terms.threshold_percent)
            )
        )
    settings.append(
        t.gettext("Results: shown as voting goes.")
        if terms.results_visible
        else t.gettext("Results: hidden until the poll closes; only the turnout is shown.")
    )
    settings.append(
        t.gettext("Votes can be changed until the close (with the voter's receipt).")
        if terms.vote_change
        else t.gettext("Votes are final.")
    )
    text = safe_join(
        "\n\n",
        [
            t.gettext("👀 <b>Preview</b>: this is what each voter gets, in their language."),
            ballot_reply(t, card).text,
            # The ballot's buttons are the author's options; the preview's buttons are the author's controls.
            safe_join(
                "\n",
                [t.gettext("Its buttons, one per option:")]
                + [t.gettext("▫️ {option}", option=option_label(t, o)) for o in card.options],
            ),
            safe_join("\n", settings),
        ],
    )
    rows = [
        [Button(t.plain("✅ Open the poll now"), cb("pcok"))],
        [
            Button(t.plain("👁️ Results: hidden / shown"), cb("pct", "visible")),
            Button(t.plain("🔁 Vote change: no / yes"), cb("pct", "change")),
        ],
        [Button(t.plain("👥 Quorum: {percent}", percent=t.percent(terms.quorum_percent)), cb("pct", "quorum"))],
    ]
    if terms.kind is PollKind.YESNO:
        threshold = t.plain("⚖️ More than {percent} yes", percent=t.percent(terms.threshold_percent))
        rows[-1].append(Button(threshold, cb("pct", "threshold")))
    rows.append(_cancel_row(t))
    (ctx.show if edit else ctx.say)(text, rows)


def _next_step(steps: tuple[int, ...], current: int) -> int:
    return steps[(steps.index(current) + 1) % len(steps)] if current in steps else steps[0]


async def setting_toggled(ctx: Context, data: CallbackData) -> None:
    """pct:<setting>: change one setting in the preview."""
    setting = data.args[0] if data.args else ""
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.PREVIEW:
        await stale(ctx)
        return
    current = ctx.data
    if setting == "visible":
        change = {"visible": not current.get("visible", False)}
    elif setting == "change":
        change = {"change": not current.get("change", False)}
    elif setting == "quorum":
        change = {"quorum": _next_step(QUORUM_STEPS, int(current.get("quorum", 0)))}
    elif setting == "threshold":
        change = {"threshold": _next_step(THRESHOLD_STEPS, int(current.get("threshold", 50)))}
    else:
        await stale(ctx)
        return
    await ctx.go(Flow.POLL_CREATE, PollStep.PREVIEW, **change)
    ctx.toast("")
    await _preview(ctx, edit=True)


async def confirm_poll(ctx: Context, data: CallbackData) -> None:
    """pcok: create and open the poll (checked again: rights and terms)."""
    if ctx.flow != Flow.POLL_CREATE or ctx.step != PollStep.PREVIEW or ctx.resident is None:
        await stale(ctx)
        return
    scope = _scope_from(ctx.data.get("scope", ""))
    if scope is None or not ctx.allowed(Action.CREATE_POLL, await _place_of(ctx, scope)):
        refuse(ctx)
        return
    terms = _terms(ctx.data, ctx.now)
    problems = check_terms(terms, ctx.now)
    if problems:
        if problems[0] in (TermsProblem.CLOSES_TOO_SOON, TermsProblem.CLOSES_TOO_LATE):
            await ctx.go(Flow.POLL_CREATE, PollStep.CLOSES)
            _ask_closing(ctx, note=ctx.t.gettext(PROBLEMS[problems[0]]))
            return
        await stale(ctx)
        return
    if await ctx.uow.polls.members_of(scope) == 0:
        ctx.toast("")
        ctx.say(ctx.t.gettext("Nobody could vote in this poll: there are no verified members there yet."))
        return
    poll = await create_poll(
        ctx.uow, ctx.services.catalogs, terms, scope, ctx.now, ctx.services.polls, created_by=ctx.resident.id
    )
    ctx.wrote_outbox = True
    await ctx.finish()
    ctx.toast(ctx.t.plain("Poll opened ✅"))
    ctx.show(
        ctx.t.ngettext(
            "🗳️ Your poll is open: its {n} voter gets it now, in their language. It closes {when}. /polls shows "
            "the turnout (never who voted what).",
            "🗳️ Your poll is open: its {n} voters get it now, each in their language. It closes {when}. /polls "
            "shows the turnout (never who voted what).",
            poll.eligible_count,
            when=when(ctx.t, poll.closes_at),
        )
    )


async def cancel_poll(ctx: Context, data: CallbackData) -> None:
    """pcx: drop the poll being written."""
    if ctx.flow == Flow.POLL_CREATE:
        await ctx.finish()
    ctx.toast("")
    ctx.show(ctx.t.gettext("The poll was discarded; nothing was sent."))


ROUTES = Routes(
    commands={
        "poll": Command(
            start_poll, Action.CREATE_POLL, N_("Only delegates, community managers and administrators open polls.")
        ),
    },
    callbacks={
        "pnew": Callback(new_poll_tapped, Action.CREATE_POLL),
        "pcs": Callback(scope_tapped, Action.CREATE_POLL),
        "pck": Callback(kind_tapped, Action.CREATE_POLL),
        "pco": Callback(options_done, Action.CREATE_POLL),
        "pcu": Callback(option_undone, Action.CREATE_POLL),
        "pcm": Callback(max_choices_tapped, Action.CREATE_POLL),
        "pcc": Callback(closing_tapped, Action.CREATE_POLL),
        "pct": Callback(setting_toggled, Action.CREATE_POLL),
        "pcok": Callback(confirm_poll, Action.CREATE_POLL),
        "pcx": Callback(cancel_poll, Action.CREATE_POLL),
    },
    step_inputs=any_input(Flow.POLL_CREATE, poll_input),
)
