"""Reporting a problem: /report (category, text, photos, location, "me too", anonymity, preview), /myreports,
the reporter's "is it fixed?" answer, and answers to the staff's questions."""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import Button, IncomingKind, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action
from bot.domain.reports import (
    MAX_PHOTOS,
    MAX_REPORT_TEXT,
    MIN_REPORT_TEXT,
    CaseStatus,
    Transition,
    case_reference,
    is_open,
    likely_duplicates,
    report_text_problem,
    reporter_may,
)
from bot.domain.territory import circle_at
from bot.domain.text import clean_free_text, has_letters_or_digits
from bot.i18n import N_, Safe, Translator, escape, safe_join
from handlers.case_messages import (
    TOPIC_CASE_NEW,
    TOPIC_CASE_UPDATE,
    card_with,
    category_text,
    people_update,
    tell_handlers,
    tell_people,
)
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.labels import case_status_name, category_label, handler_name
from handlers.routing import Callback, Command, Routes, any_input

TOPIC_CASE_ANSWER = "case.answer"
TOPIC_FOLLOW_UP = "case.follow_up"
SIMILAR_SHOWN = 3


class ReportStep(StrEnum):
    """Steps of writing a report."""

    CATEGORY = "category"
    TEXT = "text"
    PHOTOS = "photos"
    LOCATION = "location"
    SIMILAR = "similar"
    ANONYMITY = "anonymity"
    PREVIEW = "preview"


class AnswerStep(StrEnum):
    """The reporter writing the answer to a staff question."""

    WRITE = "write"


BACK: dict[ReportStep, ReportStep] = {
    ReportStep.TEXT: ReportStep.CATEGORY,
    ReportStep.PHOTOS: ReportStep.TEXT,
    ReportStep.LOCATION: ReportStep.PHOTOS,
    ReportStep.SIMILAR: ReportStep.LOCATION,
    ReportStep.ANONYMITY: ReportStep.LOCATION,
    ReportStep.PREVIEW: ReportStep.ANONYMITY,
}


def _navigation(t: Translator, *, back: bool = True) -> list[Button]:
    row = [Button(t.plain("« Back"), cb("rbk"))] if back else []
    return [*row, Button(t.plain("✖️ Cancel"), cb("rx"))]


# ---------------------------------------------------------------- the wizard


async def start_report(ctx: Context) -> None:
    """/report: the emergency line first, then the categories."""
    await ctx.go(Flow.REPORT, ReportStep.CATEGORY)
    await _ask_category(ctx)


async def report_tapped(ctx: Context, data: CallbackData) -> None:
    """report: the "Report a problem" button of /help."""
    await start_report(ctx)


async def _ask_category(ctx: Context, *, again: bool = False) -> None:
    t = ctx.t
    categories = await ctx.uow.cases.categories()
    rows = [[Button(category_label(t, c.code, c.name), cb("rc", c.code))] for c in categories]
    rows.append(_navigation(t, back=False))
    intro = (
        t.gettext("Please choose what the problem is about with the buttons.")
        if again
        else t.gettext(
            "🚨 <b>In an emergency, call 112.</b> This is for problems that can wait for the neighbourhood's "
            "services.\n\nWhat is the problem about?"
        )
    )
    ctx.say(intro, rows)


async def category_chosen(ctx: Context, data: CallbackData) -> None:
    """rc:<code>: ask for the text."""
    code = data.args[0] if data.args else ""
    if ctx.flow != Flow.REPORT or code not in {c.code for c in await ctx.uow.cases.categories()}:
        await stale(ctx)
        return
    await ctx.go(Flow.REPORT, ReportStep.TEXT, category=code)
    ctx.show(
        ctx.t.gettext(
            "{category}: describe the problem in one message (what, where exactly, since when). At least {min} "
            "characters.",
            category=await category_text(ctx.uow, ctx.t, code),
            min=ctx.t.number(MIN_REPORT_TEXT),
        ),
        [_navigation(ctx.t)],
    )


async def _text_written(ctx: Context, raw: str) -> bool:
    cleaned = clean_free_text(raw, MAX_REPORT_TEXT)
    problem = "long" if cleaned.problem == "too_long" else report_text_problem(cleaned.text)
    if problem == "long":
        ctx.say(
            ctx.t.gettext(
                "That is too long ({length} characters; at most {max}). Please shorten it.",
                length=ctx.t.number(len(raw)),
                max=ctx.t.number(MAX_REPORT_TEXT),
            ),
            [_navigation(ctx.t)],
        )
        return False
    if problem == "short" or not has_letters_or_digits(cleaned.text):
        ctx.say(
            ctx.t.gettext(
                "Please describe the problem in words, in at least {min} characters.", min=ctx.t.number(MIN_REPORT_TEXT)
            ),
            [_navigation(ctx.t)],
        )
        return False
    await ctx.go(Flow.REPORT, ReportStep.PHOTOS, text=cleaned.text, photos=[])
    return True


async def _ask_photos(ctx: Context) -> None:
    photos = list(ctx.data.get("photos") or [])
    t = ctx.t
    rows = [[Button(t.plain("Continue") if photos else t.plain("Continue without photos"), cb("rph"))]]
    rows.append(_navigation(t))
    if photos:
        ctx.say(
            t.gettext(
                "📷 Photo {n} of {max} added. Send another one, or tap Continue.",
                n=t.number(len(photos)),
                max=t.number(MAX_PHOTOS),
            ),
            rows,
        )
    else:
        ctx.say(t.gettext("📷 You can add up to {max} photos: send them now, or tap Continue.", max=MAX_PHOTOS), rows)


async def _ask_location(ctx: Context) -> None:
    t = ctx.t
    await ctx.go(Flow.REPORT, ReportStep.LOCATION)
    rows = [[Button(t.plain("📍 Where my circle is"), cb("rlc"))], _navigation(t)]
    ctx.say(
        t.gettext("📍 Where is it? Share the location (📎 → Location), or tap the button if it is at your circle."),
        rows,
    )


async def photos_done(ctx: Context, data: CallbackData) -> None:
    """rph: no (more) photos."""
    if ctx.flow != Flow.REPORT or ctx.step != ReportStep.PHOTOS:
        await stale(ctx)
        return
    await _ask_location(ctx)


async def my_circle_chosen(ctx: Context, data: CallbackData) -> None:
    """rlc: the problem is at the resident's own circle."""
    circle_id = ctx.verified_circle_id
    if ctx.flow != Flow.REPORT or ctx.step != ReportStep.LOCATION or circle_id is None:
        await stale(ctx)
        return
    await _located(ctx, circle_id, None, None)


async def _located(ctx: Context, circle_id: int, latitude: float | None, longitude: float | None) -> None:
    await ctx.go(Flow.REPORT, ReportStep.LOCATION, circle_id=circle_id, lat=latitude, lon=longitude)
    circle = await ctx.uow.territory.circle(circle_id)
    assert circle is not None
    spots = await ctx.uow.cases.open_spots(circle.barrio_id, ctx.data["category"])
    similar = likely_duplicates(spots, ctx.data["category"], circle_id, latitude, longitude)[:SIMILAR_SHOWN]
    if similar:
        await ctx.go(Flow.REPORT, ReportStep.SIMILAR, similar=similar)
        await _show_similar(ctx, similar)
    else:
        await ctx.go(Flow.REPORT, ReportStep.ANONYMITY, similar=None)
        _ask_anonymity(ctx)


async def _show_similar(ctx: Context, similar: list[int]) -> None:
    t = ctx.t
    cases = await ctx.uow.cases.by_ids(similar)
    lines = [t.gettext("👥 Neighbours have already reported something like this nearby:")]
    rows = []
    for case_id in similar:
        case = cases.get(case_id)
        if case is None:
            continue
        lines.append(
            t.gettext(
                "<b>{ref}</b> ({state}): {excerpt}",
                ref=case.ref,
                state=case_status_name(t, case.status),
                excerpt=case.text[:120] + ("…" if len(case.text) > 120 else ""),
            )
        )
        rows.append([Button(t.plain("👍 Me too: {ref}", ref=case.ref), cb("rmt", case.id))])
    lines.append(t.gettext('If it is the same problem, tap "Me too": you will be told of every step.'))
    rows.append([Button(t.plain("No, mine is different"), cb("rnew"))])
    rows.append(_navigation(t))
    ctx.say(safe_join("\n\n", lines), rows)


def _ask_anonymity(ctx: Context) -> None:
    t = ctx.t
    ctx.say(
        t.gettext(
            "🕶️ Should the staff who handle it see your first name? If you stay anonymous they see only your "
            "circle, and can still ask you questions through me."
        ),
        [
            [Button(t.plain("Show my first name"), cb("ran", "no"))],
            [Button(t.plain("Stay anonymous"), cb("ran", "yes"))],
            _navigation(t),
        ],
    )


async def me_too(ctx: Context, data: CallbackData) -> None:
    """rmt:<case id>: follow an existing case instead of reporting it again."""
    case_id = data.int_arg()
    case = await ctx.uow.cases.get(case_id, lock=True) if case_id else None
    if (
        ctx.resident is None
        or ctx.flow != Flow.REPORT
        or case is None
        or case_id not in (ctx.data.get("similar") or [])
        or not is_open(CaseStatus(case.status))
    ):
        await stale(ctx)
        return
    added = await ctx.uow.cases.add_follower(case, ctx.resident.id, ctx.now)
    if added:
        await ctx.uow.cases.record(case, "follower", ctx.now, actor_id=ctx.resident.id)
    await ctx.finish()
    ctx.show(
        ctx.t.gettext(
            "👍 Thank you: you now follow <b>{ref}</b> ({count} neighbours report it). I will tell you of every "
            "step. /myreports shows it.",
            ref=case.ref,
            count=ctx.t.number(case.supporters + 1),
        )
    )


async def mine_is_different(ctx: Context, data: CallbackData) -> None:
    """rnew: go on with a new report."""
    if ctx.flow != Flow.REPORT or ctx.step != ReportStep.SIMILAR:
        await stale(ctx)
        return
    await ctx.go(Flow.REPORT, ReportStep.ANONYMITY)
    _ask_anonymity(ctx)


async def anonymity_chosen(ctx: Context, data: CallbackData) -> None:
    """ran:yes|no: then the preview."""
    if ctx.flow != Flow.REPORT or ctx.step != ReportStep.ANONYMITY or data.args[:1] not in (("yes",), ("no",)):
        await stale(ctx)
        return
    await ctx.go(Flow.REPORT, ReportStep.PREVIEW, anonymous=data.args[0] == "yes")
    await _preview(ctx)


async def _preview(ctx: Context) -> None:
    t, data = ctx.t, ctx.data
    circle = await ctx.uow.territory.circle(int(data["circle_id"]))
    where = circle.name if circle else "?"
    if data.get("lat") is not None:
        where = t.plain("{circle} (the location you shared)", circle=where)
    photos = len(data.get("photos") or [])
    lines = [
        t.gettext("<b>Your report</b>"),
        t.gettext("Category: {category}", category=await category_text(ctx.uow, t, data["category"])),
        t.gettext("Where: {where}", where=where),
        t.ngettext("{n} photo", "{n} photos", photos),
        t.gettext("Staff see: an anonymous resident of your circle")
        if data.get("anonymous")
        else t.gettext("Staff see: your first name"),
        Safe(""),
        escape(data["text"]),
        Safe(""),
        t.gettext(
            "What you write and the place go to the district's services, and to the city's open data without your "
            "name (except reports about a vulnerable person or a conflict between neighbours)."
        ),
        t.gettext("Send it?"),
    ]
    ctx.say(safe_join("\n", lines), [[Button(t.plain("✅ Send the report"), cb("rok"))], _navigation(t)])


async def confirm_report(ctx: Context, data: CallbackData) -> None:
    """rok: open the case, route it, tell the handling staff; give the resident the reference."""
    if ctx.flow != Flow.REPORT or ctx.step != ReportStep.PREVIEW or ctx.resident is None:
        await stale(ctx)
        return
    d = ctx.data
    circle = await ctx.uow.territory.circle(int(d["circle_id"]))
    barrio = await ctx.uow.territory.barrio(circle.barrio_id) if circle else None
    route = (await ctx.uow.cases.routing()).route(d["category"], barrio.id) if barrio else None
    if circle is None or barrio is None or route is None:
        await ctx.finish()
        await stale(ctx)
        return
    number = await ctx.uow.cases.next_number(barrio.id)
    case = await ctx.uow.cases.open(
        case_reference(barrio.code, number),
        barrio_id=barrio.id,
        circle_id=circle.id,
        category=d["category"],
        route=route,
        text=d["text"],
        now=ctx.now,
        reporter_id=ctx.resident.id,
        anonymous=bool(d.get("anonymous")),
        latitude=d.get("lat"),
        longitude=d.get("lon"),
        photos=list(d.get("photos") or []),
    )
    uow = ctx.uow

    async def heading(t: Translator) -> Safe:
        return t.gettext(
            "🆕 New report <b>{ref}</b> · {category}", ref=case.ref, category=await category_text(uow, t, case.category)
        )

    await tell_handlers(
        uow, ctx.services.catalogs, case, card_with(uow, case, heading), TOPIC_CASE_NEW, ctx.now, skip=ctx.resident.id
    )
    ctx.wrote_outbox = True
    await ctx.finish()
    ctx.show(
        ctx.t.gettext(
            "✅ Thank you. Your report is registered as <b>{ref}</b> and has gone to: {handler}. I will tell you "
            "of every step; /myreports shows how it goes.",
            ref=case.ref,
            handler=handler_name(ctx.t, case.sector),
        )
    )


async def go_back(ctx: Context, data: CallbackData) -> None:
    """rbk: the previous step, with its question."""
    if ctx.flow != Flow.REPORT or ctx.step not in BACK:
        await stale(ctx)
        return
    step = BACK[ReportStep(ctx.step)]
    if ctx.step == ReportStep.ANONYMITY and ctx.data.get("similar"):
        step = ReportStep.SIMILAR
    await ctx.go(Flow.REPORT, step)
    await _ask(ctx, step)


async def _ask(ctx: Context, step: ReportStep) -> None:
    if step is ReportStep.CATEGORY:
        await _ask_category(ctx)
    elif step is ReportStep.TEXT:
        await category_chosen(ctx, CallbackData("rc", (ctx.data["category"],)))
    elif step is ReportStep.PHOTOS:
        await ctx.go(Flow.REPORT, ReportStep.PHOTOS, photos=[])
        await _ask_photos(ctx)
    elif step is ReportStep.LOCATION:
        await _ask_location(ctx)
    elif step is ReportStep.SIMILAR:
        await _show_similar(ctx, list(ctx.data.get("similar") or []))
    elif step is ReportStep.ANONYMITY:
        _ask_anonymity(ctx)
    else:
        await _preview(ctx)


async def cancel_report(ctx: Context, data: CallbackData) -> None:
    """rx: drop the report being written."""
    if ctx.flow != Flow.REPORT:
        await stale(ctx)
        return
    await ctx.finish()
    ctx.show(ctx.t.gettext("Report cancelled: nothing was sent. Send /report to start again."))


async def report_input(ctx: Context) -> None:
    """Text, photos and locations while writing a report."""
    kind, step = ctx.incoming.kind, ctx.step
    t = ctx.t
    if step == ReportStep.TEXT:
        if kind is IncomingKind.PHOTO:
            if not ctx.incoming.text.strip():
                ctx.say(
                    t.gettext("Please describe the problem in words first; you can add photos right after."),
                    [_navigation(t)],
                )
                return
            if await _text_written(ctx, ctx.incoming.text):
                await ctx.go(Flow.REPORT, ReportStep.PHOTOS, photos=[ctx.incoming.photo_file_id])
                await _ask_photos(ctx)
            return
        if kind is IncomingKind.TEXT and await _text_written(ctx, ctx.incoming.text):
            await _ask_photos(ctx)
        elif kind is IncomingKind.LOCATION:
            ctx.say(
                t.gettext("Please describe the problem in words first; the location comes later."), [_navigation(t)]
            )
        return
    if step == ReportStep.PHOTOS:
        if kind is IncomingKind.PHOTO and ctx.incoming.photo_file_id:
            photos = [*(ctx.data.get("photos") or []), ctx.incoming.photo_file_id][:MAX_PHOTOS]
            await ctx.go(Flow.REPORT, ReportStep.PHOTOS, photos=photos)
            if len(photos) >= MAX_PHOTOS:
                ctx.say(t.gettext("📷 That makes {max} photos, the most a report can have.", max=MAX_PHOTOS))
                await _ask_location(ctx)
            else:
                await _ask_photos(ctx)
        elif kind is IncomingKind.LOCATION:
            await _location_shared(ctx)
        else:
            ctx.say(
                t.gettext("Send a photo, or tap Continue."), [[Button(t.plain("Continue"), cb("rph"))], _navigation(t)]
            )
        return
    if step == ReportStep.LOCATION:
        if kind is IncomingKind.LOCATION:
            await _location_shared(ctx)
        else:
            ctx.say(
                t.gettext("Please share the location (📎 → Location), or tap the button if it is at your circle."),
                [[Button(t.plain("📍 Where my circle is"), cb("rlc"))], _navigation(t)],
            )
        return
    if step == ReportStep.CATEGORY:
        await _ask_category(ctx, again=True)
        return
    ctx.say(t.gettext("Please answer with the buttons above."), [_navigation(t)])


async def _location_shared(ctx: Context) -> None:
    lat, lon = ctx.incoming.latitude, ctx.incoming.longitude
    circle_id = None
    if lat is not None and lon is not None:
        circle_id = circle_at(await ctx.uow.territory.circle_points(), lat, lon)
    if circle_id is None:
        ctx.say(
            ctx.t.gettext(
                "That place is outside the Madrid Central District, so no service here can handle it. Share a place "
                "in the district, or tap the button if it is at your circle."
            ),
            [[Button(ctx.t.plain("📍 Where my circle is"), cb("rlc"))], _navigation(ctx.t)],
        )
        return
    await _located(ctx, circle_id, lat, lon)


# ---------------------------------------------------------------- after reporting


async def my_reports(ctx: Context) -> None:
    """/myreports: my cases and the ones I follow, with their state."""
    assert ctx.resident is not None
    cases = await ctx.uow.cases.of_resident(ctx.resident.id)
    t = ctx.t
    if not cases:
        ctx.say(t.gettext("You have not reported anything yet. Send /report to report a problem."))
        return
    lines = [t.gettext("<b>Your reports</b>")]
    for case in cases:
        mine = case.reporter_id == ctx.resident.id
        line = t.gettext(
            "<b>{ref}</b> · {category} · {state} · {date}",
            ref=case.ref,
            category=await category_text(ctx.uow, t, case.category),
            state=case_status_name(t, case.status),
            date=t.datetime(case.created_at, "short"),
        )
        lines.append(line if mine else line + Safe(" ") + t.gettext("(you follow it)"))
    ctx.say(safe_join("\n", lines))


async def fixed_answer(ctx: Context, data: CallbackData) -> None:
    """rfx:<case id>:yes|no: the reporter's answer to "is it fixed?"."""
    case_id = data.int_arg()
    case = await ctx.uow.cases.get(case_id, lock=True) if case_id else None
    answer = data.args[1] if len(data.args) > 1 else ""
    if case is None or ctx.resident is None or case.reporter_id != ctx.resident.id or answer not in ("yes", "no"):
        await stale(ctx)
        return
    transition = Transition.CONFIRM_FIXED if answer == "yes" else Transition.REOPEN
    if not reporter_may(CaseStatus(case.status), transition, case.resolved_at, ctx.now):
        ctx.toast(ctx.t.plain("This report can no longer be answered this way."))
        ctx.show(
            ctx.t.gettext(
                "Report <b>{ref}</b> is {state}; this question has expired.",
                ref=case.ref,
                state=case_status_name(ctx.t, case.status),
            )
        )
        return
    route = None
    if transition is Transition.REOPEN:
        # The same team, with its resolve deadline running again.
        route = (await ctx.uow.cases.routing()).route(case.category, case.barrio_id)
    target = CaseStatus.CLOSED if transition is Transition.CONFIRM_FIXED else CaseStatus.REOPENED
    await ctx.uow.cases.move(case, target, ctx.now, actor_id=ctx.resident.id, note=None, route=route)
    uow = ctx.uow
    text = {
        CaseStatus.CLOSED: ctx.t.gettext("🏁 Thank you for confirming: report <b>{ref}</b> is closed.", ref=case.ref),
        CaseStatus.REOPENED: ctx.t.gettext(
            "🔁 Thank you: report <b>{ref}</b> is open again and its team has been told.", ref=case.ref
        ),
    }[target]
    ctx.show(text)
    catalogs = ctx.services.catalogs
    await tell_people(uow, catalogs, case, people_update(uow, case, target, None), TOPIC_CASE_UPDATE, ctx.now,
                      skip=ctx.resident.id)  # fmt: skip
    if target is CaseStatus.REOPENED:

        async def heading(t: Translator) -> Safe:
            return t.gettext("🔁 Reopened: <b>{ref}</b> is not fixed, says the reporter.", ref=case.ref)

        await tell_handlers(uow, catalogs, case, card_with(uow, case, heading), TOPIC_CASE_UPDATE, ctx.now)
    ctx.wrote_outbox = True


async def answer_question_tapped(ctx: Context, data: CallbackData) -> None:
    """rqa:<question event id>: the reporter answers a staff question."""
    event_id = data.int_arg()
    event = await ctx.uow.cases.event(event_id) if event_id else None
    case = await ctx.uow.cases.get(event.case_id) if event is not None else None
    if event is None or case is None or event.kind != "question" or ctx.resident is None:
        await stale(ctx)
        return
    if case.reporter_id != ctx.resident.id:
        await stale(ctx)
        return
    await ctx.go(Flow.CASE_ANSWER, AnswerStep.WRITE, event_id=event.id)
    ctx.say(ctx.t.gettext("Write your answer about <b>{ref}</b> in one message. Send /cancel to stop.", ref=case.ref))


async def answer_written(ctx: Context) -> None:
    """The reporter's answer: stored on the case, relayed to whoever asked (never saying who answers)."""
    event = await ctx.uow.cases.event(int(ctx.data.get("event_id", 0)))
    case = await ctx.uow.cases.get(event.case_id) if event is not None else None
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return
    if event is None or case is None or ctx.resident is None or case.reporter_id != ctx.resident.id:
        await ctx.finish()
        await stale(ctx)
        return
    cleaned = clean_free_text(ctx.incoming.text, MAX_REPORT_TEXT)
    if cleaned.problem or not has_letters_or_digits(cleaned.text):
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return
    await ctx.uow.cases.record(case, "answer", ctx.now, actor_id=ctx.resident.id, note=cleaned.text)
    asker = await ctx.uow.residents.get(event.actor_id) if event.actor_id else None
    if asker is not None:
        await ctx.notify(
            asker,
            lambda t: Reply(
                t.gettext(
                    "💬 The reporter of <b>{ref}</b> answers your question:\n\n{text}", ref=case.ref, text=cleaned.text
                ),
                [[Button(t.plain("❓ Ask again"), cb("cq", case.id))]],
            ),
            TOPIC_CASE_ANSWER,
        )
    await ctx.finish()
    ctx.say(ctx.t.gettext("✅ Your answer was passed on to the team handling <b>{ref}</b>.", ref=case.ref))


async def send_follow_ups(uow, catalogs, now) -> int:  # type: ignore[no-untyped-def]
    """Scheduler: ask each reporter whose case was resolved a few days ago whether it is fixed."""
    asked = 0
    for case in await uow.cases.claim_follow_ups(now):
        reporter = await uow.residents.get(case.reporter_id) if case.reporter_id else None
        if reporter is None or reporter.status != "active":
            continue
        t = catalogs.translator(reporter.locale)
        reply = Reply(
            t.gettext(
                "❓ Some days ago report <b>{ref}</b> ({category}) was marked resolved. Is it really fixed?",
                ref=case.ref,
                category=await category_text(uow, t, case.category),
            ),
            [
                [
                    Button(t.plain("✅ Yes, it is fixed"), cb("rfx", case.id, "yes")),
                    Button(t.plain("❌ No, it is not"), cb("rfx", case.id, "no")),
                ]
            ],
        )
        await uow.outbox.add(reporter.chat_id, reply.to_dict(), TOPIC_FOLLOW_UP, now, resident_id=reporter.id)
        asked += 1
    return asked


ROUTES = Routes(
    commands={
        "report": Command(
            start_report,
            Action.REPORT_PROBLEM,
            N_("Only verified members of a circle can report problems. Send /start to join yours."),
        ),
        "myreports": Command(my_reports, Action.FOLLOW_OWN_REPORTS),
    },
    callbacks={
        "report": Callback(report_tapped, Action.REPORT_PROBLEM),
        "rc": Callback(category_chosen, Action.REPORT_PROBLEM),
        "rph": Callback(photos_done, Action.REPORT_PROBLEM),
        "rlc": Callback(my_circle_chosen, Action.REPORT_PROBLEM),
        "rmt": Callback(me_too, Action.REPORT_PROBLEM),
        "rnew": Callback(mine_is_different, Action.REPORT_PROBLEM),
        "ran": Callback(anonymity_chosen, Action.REPORT_PROBLEM),
        "rok": Callback(confirm_report, Action.REPORT_PROBLEM),
        "rbk": Callback(go_back, Action.REPORT_PROBLEM),
        "rx": Callback(cancel_report, Action.REPORT_PROBLEM),
        "rfx": Callback(fixed_answer, Action.FOLLOW_OWN_REPORTS),
        "rqa": Callback(answer_question_tapped, Action.FOLLOW_OWN_REPORTS),
    },
    step_inputs={**any_input(Flow.REPORT, report_input), **any_input(Flow.CASE_ANSWER, answer_written)},
)
