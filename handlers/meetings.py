"""/meeting: community managers, delegates and admins call a meeting of a circle or a body (whom for, title,
when, how long, where, agenda, confirm); /meetings: my upcoming meetings with my answer and, for what I organise,
the counts, moving, cancelling and minutes; RSVP taps; agenda proposals before the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.meetings import (
    AGENDA_ITEM_MAX,
    AGENDA_MAX_ITEMS,
    DEFAULT_MINUTES,
    MINUTES_TEXT_MAX,
    PLACE_MAX,
    TITLE_MAX,
    MeetingBody,
    MeetingStatus,
    Rsvp,
    agenda_deadline,
    may_change,
    may_propose,
    may_publish_minutes,
    parse_minutes,
    poll_matches,
)
from bot.domain.notices import parse_send_at
from bot.domain.permissions import Action, Place
from bot.domain.permissions import ScopeKind as GrantScope
from bot.domain.text import clean_long_text
from bot.i18n import Safe, Translator, safe_join
from handlers.common import refuse, stale, typed_words
from handlers.context import Context, Flow
from handlers.meeting_life import (
    MeetingDraft,
    body_place,
    body_text,
    call_meeting,
    cancel_meeting,
    counts_text,
    details,
    invitation,
    minutes_notice,
    move_meeting,
    rsvp_word,
    view_of,
)
from handlers.routing import Callback, Command, Routes, any_input
from storage.models import Meeting

MINUTES_WINDOW = timedelta(days=60)  # how long after a meeting its chair is offered to publish minutes


class MeetingStep(StrEnum):
    """Steps of the meeting conversations."""

    BODY = "body"
    TITLE = "title"
    WHEN = "when"
    LENGTH = "length"
    PLACE = "place"
    AGENDA = "agenda"
    CONFIRM = "confirm"
    MOVE = "move"
    NEW_PLACE = "new_place"
    PROPOSE = "propose"
    MINUTES = "minutes"
    MINUTES_POLL = "minutes_poll"


def _cancel_row(t: Translator) -> list[Button]:
    return [Button(t.plain("✖️ Cancel"), cb("mtx"))]


def _place_of(body: MeetingBody, scope_id: int | None, barrio_id: int | None) -> Place:
    if body is MeetingBody.CIRCLE:
        return Place(barrio_id, scope_id)
    if body is MeetingBody.FORUM:
        return Place()
    return Place(barrio_id)


async def may_call(ctx: Context, body: MeetingBody, scope_id: int | None) -> bool:
    """Whether this person may call a meeting of that circle or body (the permission table decides)."""
    if body is MeetingBody.FORUM:
        return ctx.allowed(Action.CALL_MEETING, Place())
    if scope_id is None:
        return False
    barrio_id, name = await body_place(ctx.uow, body, scope_id)
    if name is None:
        return False
    return ctx.allowed(Action.CALL_MEETING, _place_of(body, scope_id, barrio_id))


async def callable_bodies(ctx: Context) -> list[tuple[MeetingBody, int | None, str]]:
    """The circles and bodies this person may call a meeting of, with a label each, from their grants."""
    t = ctx.t
    found: list[tuple[MeetingBody, int | None, str]] = []
    for grant in ctx.grants:
        if grant.scope is GrantScope.DISTRICT:
            found.append((MeetingBody.FORUM, None, body_text(t, MeetingBody.FORUM, None)))
            barrios = await ctx.uow.territory.barrios()
        elif grant.scope is GrantScope.BARRIO and grant.scope_id:
            barrio = await ctx.uow.territory.barrio(grant.scope_id)
            barrios = [barrio] if barrio else []
        elif grant.scope is GrantScope.CIRCLE and grant.scope_id:
            circle = await ctx.uow.territory.circle(grant.scope_id)
            if circle is not None:
                found.append((MeetingBody.CIRCLE, circle.id, body_text(t, MeetingBody.CIRCLE, circle.name)))
            continue
        else:
            continue
        for barrio in barrios:
            for body in (MeetingBody.COUNCIL, MeetingBody.GOVERNANCE):
                found.append((body, barrio.id, body_text(t, body, barrio.name)))
            if grant.scope is GrantScope.BARRIO:
                for circle in await ctx.uow.territory.circles_in_barrio(barrio.id):
                    found.append((MeetingBody.CIRCLE, circle.id, body_text(t, MeetingBody.CIRCLE, circle.name)))
    unique: dict[tuple[str, int | None], tuple[MeetingBody, int | None, str]] = {}
    for body, scope_id, label in found:
        if (body.value, scope_id) not in unique and await may_call(ctx, body, scope_id):
            unique[(body.value, scope_id)] = (body, scope_id, label)
    return list(unique.values())


# ---------------------------------------------------------------- calling a meeting


async def start_meeting(ctx: Context) -> None:
    """/meeting: whom is it for?"""
    bodies = await callable_bodies(ctx)
    if not bodies:
        refuse(ctx)
        return
    await ctx.go(Flow.MEETING, MeetingStep.BODY)
    rows = [[Button(label[:60], cb("mtb", body.value, scope_id or 0))] for body, scope_id, label in bodies[:60]]
    rows.append(_cancel_row(ctx.t))
    ctx.say(ctx.t.gettext("📅 <b>New meeting</b>\nWho is meeting?"), rows)


async def body_tapped(ctx: Context, data: CallbackData) -> None:
    """mtb:<body>:<scope id or 0>: who meets."""
    kind = data.args[0] if data.args else ""
    scope_id = data.int_arg(1)
    if ctx.flow != Flow.MEETING or ctx.step != MeetingStep.BODY or kind not in {b.value for b in MeetingBody}:
        await stale(ctx)
        return
    body = MeetingBody(kind)
    if not await may_call(ctx, body, scope_id):
        refuse(ctx)
        return
    members = await ctx.uow.meetings.members_count(body, scope_id)
    await ctx.go(Flow.MEETING, MeetingStep.TITLE, body=body.value, scope=scope_id, agenda=[])
    t = ctx.t
    ctx.show(
        safe_join(
            "\n\n",
            [
                t.ngettext("{n} person will be invited.", "{n} people will be invited.", members),
                t.gettext("✏️ What is the meeting's title? (at most {max} characters)", max=t.number(TITLE_MAX)),
            ],
        ),
        [_cancel_row(t)],
    )


def _ask_when(ctx: Context, note: Safe | None = None) -> None:
    t = ctx.t
    lines = [
        t.gettext(
            "🕒 When does it start? Write a date and time such as {example} (Madrid time).", example="20/12/2026 19:00"
        )
    ]
    if note is not None:
        lines.insert(0, note)
    ctx.say(safe_join("\n\n", lines), [_cancel_row(t)])


def _ask_length(ctx: Context) -> None:
    t = ctx.t
    rows = [
        [Button(t.plain("{n} min", n=n), cb("mtl", n)) for n in (60, DEFAULT_MINUTES, 120)],
        _cancel_row(t),
    ]
    ctx.say(t.gettext("⏱️ How long will it last? Tap one or write the minutes."), rows)


def _ask_place(ctx: Context) -> None:
    t = ctx.t
    ctx.say(t.gettext("📍 Where is it? Write the place or a link to the video call."), [_cancel_row(t)])


def _ask_agenda(ctx: Context) -> None:
    t = ctx.t
    rows = [[Button(t.plain("➡️ Continue"), cb("mta"))], _cancel_row(t)]
    items = list(ctx.data.get("agenda") or [])
    lines = [t.gettext("📋 Write an agenda item (one per message), or tap Continue.")]
    if items:
        lines.append(t.ngettext("{n} item so far.", "{n} items so far.", len(items)))
    ctx.say(safe_join("\n", lines), rows)


async def meeting_input(ctx: Context) -> None:
    """What was typed during a meeting conversation, by step."""
    step = ctx.step
    if step == MeetingStep.TITLE:
        title = typed_words(ctx, TITLE_MAX)
        if title is not None:
            await ctx.go(Flow.MEETING, MeetingStep.WHEN, title=title)
            _ask_when(ctx)
    elif step == MeetingStep.WHEN:
        at = parse_send_at(ctx.incoming.text or "", ctx.now, ctx.t.zone)
        if at is None:
            _ask_when(ctx, ctx.t.gettext("I could not read that date, or it has already passed."))
            return
        await ctx.go(Flow.MEETING, MeetingStep.LENGTH, at=at.isoformat())
        _ask_length(ctx)
    elif step == MeetingStep.LENGTH:
        minutes = parse_minutes(ctx.incoming.text or "")
        if minutes is None:
            _ask_length(ctx)
            return
        await _length_chosen(ctx, minutes)
    elif step == MeetingStep.PLACE:
        place = typed_words(ctx, PLACE_MAX)
        if place is not None:
            await ctx.go(Flow.MEETING, MeetingStep.AGENDA, place=place)
            _ask_agenda(ctx)
    elif step == MeetingStep.AGENDA:
        item = typed_words(ctx, AGENDA_ITEM_MAX)
        if item is not None:
            items = [*(ctx.data.get("agenda") or []), item][:AGENDA_MAX_ITEMS]
            await ctx.go(Flow.MEETING, MeetingStep.AGENDA, agenda=items)
            _ask_agenda(ctx)
    elif step == MeetingStep.MOVE:
        await _move_written(ctx)
    elif step == MeetingStep.NEW_PLACE:
        await _new_place_written(ctx)
    elif step == MeetingStep.PROPOSE:
        await _proposal_written(ctx)
    elif step == MeetingStep.MINUTES:
        await _minutes_written(ctx)
    elif step == MeetingStep.MINUTES_POLL:
        await _minutes_poll_written(ctx)
    else:
        ctx.say(ctx.t.gettext("Please use the buttons above, or /cancel."))


async def length_tapped(ctx: Context, data: CallbackData) -> None:
    """mtl:<minutes>: how long."""
    minutes = parse_minutes(data.args[0] if data.args else "")
    if ctx.flow != Flow.MEETING or ctx.step != MeetingStep.LENGTH or minutes is None:
        await stale(ctx)
        return
    await _length_chosen(ctx, minutes)


async def _length_chosen(ctx: Context, minutes: int) -> None:
    await ctx.go(Flow.MEETING, MeetingStep.PLACE, minutes=minutes)
    _ask_place(ctx)


def _draft(ctx: Context) -> MeetingDraft | None:
    data = ctx.data
    try:
        body = MeetingBody(data.get("body", ""))
        starts_at = datetime.fromisoformat(data["at"])
        return MeetingDraft(
            body,
            data.get("scope"),
            data["title"],
            starts_at,
            int(data["minutes"]),
            data["place"],
            tuple(data.get("agenda") or ()),
        )
    except (KeyError, ValueError, TypeError):
        return None


async def agenda_done(ctx: Context, data: CallbackData) -> None:
    """mta: no more agenda items; show the meeting to confirm."""
    draft = _draft(ctx)
    if ctx.flow != Flow.MEETING or ctx.step != MeetingStep.AGENDA or draft is None:
        await stale(ctx)
        return
    await ctx.go(Flow.MEETING, MeetingStep.CONFIRM)
    t = ctx.t
    _, name = await body_place(ctx.uow, draft.body, draft.scope_id)
    members = await ctx.uow.meetings.members_count(draft.body, draft.scope_id)
    lines = [
        t.gettext("<b>Ready to invite?</b>"),
        t.gettext("<b>{title}</b> · {body}", title=draft.title, body=body_text(t, draft.body, name)),
        t.gettext("🕒 {when} · {minutes} min", when=t.day_and_time(draft.starts_at), minutes=t.number(draft.minutes)),
        t.gettext("📍 {place}", place=draft.place),
        *(t.gettext("{n}. {item}", n=t.number(i), item=item) for i, item in enumerate(draft.agenda, 1)),
        t.ngettext("{n} person will be invited.", "{n} people will be invited.", members),
    ]
    ctx.show(safe_join("\n", lines), [[Button(t.plain("✅ Send the invitations"), cb("mtc"))], _cancel_row(t)])


async def confirm_tapped(ctx: Context, data: CallbackData) -> None:
    """mtc: store the meeting and invite everyone."""
    draft = _draft(ctx)
    if ctx.flow != Flow.MEETING or ctx.step != MeetingStep.CONFIRM or draft is None or ctx.resident is None:
        await stale(ctx)
        return
    if not await may_call(ctx, draft.body, draft.scope_id):
        refuse(ctx)
        return
    if draft.starts_at <= ctx.now:
        await ctx.go(Flow.MEETING, MeetingStep.WHEN)
        _ask_when(ctx, ctx.t.gettext("I could not read that date, or it has already passed."))
        return
    meeting, count = await call_meeting(ctx.uow, ctx.services.catalogs, draft, ctx.resident.id, ctx.now)
    ctx.wrote_outbox = True
    await ctx.finish()
    ctx.show(
        ctx.t.ngettext(
            "✅ Meeting #{id} called: {n} person invited. /meetings shows the answers.",
            "✅ Meeting #{id} called: {n} people invited. /meetings shows the answers.",
            count,
            id=meeting.id,
        )
    )


async def cancel_tapped(ctx: Context, data: CallbackData) -> None:
    """mtx: leave the meeting conversation."""
    if ctx.flow == Flow.MEETING:
        await ctx.finish()
    ctx.show(ctx.t.gettext("Cancelled: nothing was changed."))


# ---------------------------------------------------------------- answers and /meetings


async def rsvp_tapped(ctx: Context, data: CallbackData) -> None:
    """mtr:<meeting>:<yes|no|maybe>: an invitee's answer."""
    meeting_id = data.int_arg(0)
    answer = data.args[1] if len(data.args) > 1 else ""
    if meeting_id is None or answer not in {r.value for r in Rsvp} or ctx.resident is None:
        await stale(ctx)
        return
    meeting = await ctx.uow.meetings.get(meeting_id)
    if meeting is None or not await ctx.uow.meetings.is_invited(meeting_id, ctx.resident.id):
        await stale(ctx)
        return
    t = ctx.t
    if meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= ctx.now:
        ctx.toast(t.plain("This meeting is no longer open for answers."))
        return
    await ctx.uow.meetings.answer(meeting_id, ctx.resident.id, answer, ctx.now)
    ctx.toast(t.plain("Answer saved: {answer}", answer=rsvp_word(t, answer)))
    card = invitation(t, await view_of(ctx.uow, meeting), ctx.now, answer)
    ctx.show(card.text, card.buttons)


async def list_meetings(ctx: Context) -> None:
    """/meetings: upcoming meetings I am invited to or organise, and held ones awaiting my minutes."""
    t = ctx.t
    assert ctx.resident is not None
    me = ctx.resident.id
    upcoming = await ctx.uow.meetings.upcoming_for(me, ctx.now)
    held = await ctx.uow.meetings.awaiting_minutes(me, ctx.now, ctx.now - MINUTES_WINDOW)
    if not upcoming and not held:
        ctx.say(t.gettext("You have no upcoming meetings."))
        return
    for meeting, rsvp in upcoming:
        view = await view_of(ctx.uow, meeting)
        lines = [
            t.gettext(
                "📅 <b>#{id} {title}</b> · {body}",
                id=meeting.id,
                title=meeting.title,
                body=body_text(t, view.body, view.place_name),
            ),
            *details(t, view),
        ]
        rows: list[list[Button]] = []
        if await ctx.uow.meetings.is_invited(meeting.id, me):
            lines.append(t.gettext("Your answer: {answer}", answer=rsvp_word(t, rsvp)))
            rows.extend([row for row in invitation(t, view, ctx.now).buttons])
            if may_propose(ctx.now, meeting.starts_at):
                rows.append([Button(t.plain("➕ Propose an agenda item"), cb("mti", meeting.id))])
        if meeting.organiser_id == me:
            lines.append(counts_text(t, await ctx.uow.meetings.counts(meeting.id)))
            rows.append(
                [
                    Button(t.plain("🕒 Move"), cb("mtm", meeting.id)),
                    Button(t.plain("📍 Change place"), cb("mtp", meeting.id)),
                    Button(t.plain("❌ Cancel meeting"), cb("mtk", meeting.id)),
                ]
            )
        ctx.say(safe_join("\n", lines), rows)
    for meeting in held:
        counts = await ctx.uow.meetings.counts(meeting.id)
        ctx.say(
            safe_join(
                "\n",
                [
                    t.gettext(
                        "📝 <b>#{id} {title}</b> was held on {when}: its minutes are not published yet.",
                        id=meeting.id,
                        title=meeting.title,
                        when=t.datetime(meeting.starts_at, "short"),
                    ),
                    counts_text(t, counts),
                ],
            ),
            [[Button(t.plain("📝 Publish the minutes"), cb("mtn", meeting.id))]],
        )


async def _organised(ctx: Context, data: CallbackData) -> Meeting | None:
    """The meeting a button names, if the person tapping organises it (or may call its body's meetings)."""
    meeting_id = data.int_arg(0)
    meeting = await ctx.uow.meetings.get(meeting_id, lock=True) if meeting_id else None
    if meeting is None:
        await stale(ctx)
        return None
    mine = ctx.resident is not None and meeting.organiser_id == ctx.resident.id
    if not mine and not await may_call(ctx, MeetingBody(meeting.body), meeting.scope_id):
        refuse(ctx)
        return None
    return meeting


async def _changeable(ctx: Context, data: CallbackData) -> Meeting | None:
    meeting = await _organised(ctx, data)
    if meeting is None:
        return None
    if not may_change(ctx.now, meeting.starts_at, MeetingStatus(meeting.status)):
        ctx.say(ctx.t.gettext("This meeting can no longer be changed."))
        return None
    return meeting


async def move_tapped(ctx: Context, data: CallbackData) -> None:
    """mtm:<meeting>: ask for the new time."""
    meeting = await _changeable(ctx, data)
    if meeting is not None:
        await ctx.go(Flow.MEETING, MeetingStep.MOVE, meeting=meeting.id)
        _ask_when(ctx)


async def place_tapped(ctx: Context, data: CallbackData) -> None:
    """mtp:<meeting>: ask for the new place."""
    meeting = await _changeable(ctx, data)
    if meeting is not None:
        await ctx.go(Flow.MEETING, MeetingStep.NEW_PLACE, meeting=meeting.id)
        _ask_place(ctx)


async def _meeting_in_flow(ctx: Context) -> Meeting | None:
    meeting_id = ctx.data.get("meeting")
    meeting = await ctx.uow.meetings.get(int(meeting_id), lock=True) if isinstance(meeting_id, int) else None
    if meeting is None:
        await ctx.finish()
        await stale(ctx)
    return meeting


async def _changed(ctx: Context, meeting: Meeting, count: int) -> None:
    ctx.wrote_outbox = True
    await ctx.finish()
    ctx.say(
        ctx.t.ngettext(
            "✅ Meeting #{id} changed: {n} person told.",
            "✅ Meeting #{id} changed: {n} people told.",
            count,
            id=meeting.id,
        )
    )


async def _move_written(ctx: Context) -> None:
    meeting = await _meeting_in_flow(ctx)
    if meeting is None:
        return
    at = parse_send_at(ctx.incoming.text or "", ctx.now, ctx.t.zone)
    if at is None:
        _ask_when(ctx, ctx.t.gettext("I could not read that date, or it has already passed."))
        return
    if not may_change(ctx.now, meeting.starts_at, MeetingStatus(meeting.status)):
        await ctx.finish()
        ctx.say(ctx.t.gettext("This meeting can no longer be changed."))
        return
    await _changed(ctx, meeting, await move_meeting(ctx.uow, ctx.services.catalogs, meeting, ctx.now, starts_at=at))


async def _new_place_written(ctx: Context) -> None:
    meeting = await _meeting_in_flow(ctx)
    if meeting is None:
        return
    place = typed_words(ctx, PLACE_MAX)
    if place is None:
        return
    if not may_change(ctx.now, meeting.starts_at, MeetingStatus(meeting.status)):
        await ctx.finish()
        ctx.say(ctx.t.gettext("This meeting can no longer be changed."))
        return
    await _changed(ctx, meeting, await move_meeting(ctx.uow, ctx.services.catalogs, meeting, ctx.now, place=place))


async def cancel_meeting_tapped(ctx: Context, data: CallbackData) -> None:
    """mtk:<meeting>: ask to confirm the cancellation."""
    meeting = await _changeable(ctx, data)
    if meeting is None:
        return
    t = ctx.t
    ctx.show(
        t.gettext("Cancel <b>{title}</b> and tell everyone invited?", title=meeting.title),
        [[Button(t.plain("❌ Yes, cancel it"), cb("mtkc", meeting.id))], _cancel_row(t)],
    )


async def cancel_confirmed(ctx: Context, data: CallbackData) -> None:
    """mtkc:<meeting>: call the meeting off."""
    meeting = await _changeable(ctx, data)
    if meeting is None:
        return
    count = await cancel_meeting(ctx.uow, ctx.services.catalogs, meeting, ctx.now)
    ctx.wrote_outbox = True
    ctx.show(
        ctx.t.ngettext(
            "❌ Meeting #{id} cancelled: {n} person told.",
            "❌ Meeting #{id} cancelled: {n} people told.",
            count,
            id=meeting.id,
        )
    )


# ---------------------------------------------------------------- agenda proposals and minutes


async def propose_tapped(ctx: Context, data: CallbackData) -> None:
    """mti:<meeting>: an invitee proposes an agenda item."""
    meeting_id = data.int_arg(0)
    meeting = await ctx.uow.meetings.get(meeting_id) if meeting_id else None
    if meeting is None or ctx.resident is None or not await ctx.uow.meetings.is_invited(meeting.id, ctx.resident.id):
        await stale(ctx)
        return
    if not _in_time(ctx, meeting):
        return
    await ctx.go(Flow.MEETING, MeetingStep.PROPOSE, meeting=meeting.id)
    ctx.say(ctx.t.gettext("✏️ Write the agenda item you propose, in one message."), [_cancel_row(ctx.t)])


def _in_time(ctx: Context, meeting: Meeting) -> bool:
    if meeting.status == MeetingStatus.SCHEDULED and may_propose(ctx.now, meeting.starts_at):
        return True
    ctx.say(
        ctx.t.gettext(
            "⛔ Agenda items could be proposed until {deadline}: it is too late for this meeting.",
            deadline=ctx.t.datetime(agenda_deadline(meeting.starts_at), "short"),
        )
    )
    return False


async def _proposal_written(ctx: Context) -> None:
    meeting = await _meeting_in_flow(ctx)
    if meeting is None or ctx.resident is None:
        return
    item = typed_words(ctx, AGENDA_ITEM_MAX)
    if item is None:
        return
    await ctx.finish()
    if not _in_time(ctx, meeting):
        return
    if len(await ctx.uow.meetings.agenda(meeting.id)) >= AGENDA_MAX_ITEMS:
        ctx.say(ctx.t.gettext("The agenda of this meeting is full."))
        return
    await ctx.uow.meetings.add_agenda_item(meeting.id, item, ctx.resident.id, ctx.now)
    ctx.say(ctx.t.gettext("✅ Added to the agenda of {title}.", title=meeting.title))
    organiser = await ctx.uow.residents.get(meeting.organiser_id) if meeting.organiser_id else None
    if organiser is not None and organiser.id != ctx.resident.id:
        name = ctx.resident.first_name
        await ctx.notify(
            organiser,
            lambda t: _proposal_notice(t, meeting.id, meeting.title, name, item),
            "meeting.agenda",
            about=ctx.resident,
            ref=f"meeting:{meeting.id}",
        )


def _proposal_notice(t: Translator, meeting_id: int, title: str, name: str, item: str) -> Reply:
    return Reply(
        t.gettext(
            "📋 {name} proposed an agenda item for #{id} {title}: {item}",
            name=name,
            id=meeting_id,
            title=title,
            item=item,
        )
    )


async def minutes_tapped(ctx: Context, data: CallbackData) -> None:
    """mtn:<meeting>: the chair writes the minutes."""
    meeting = await _organised(ctx, data)
    if meeting is None:
        return
    if not may_publish_minutes(ctx.now, meeting.starts_at, MeetingStatus(meeting.status)):
        ctx.say(ctx.t.gettext("Minutes can be published once the meeting has taken place."))
        return
    if meeting.minutes_at is not None:
        ctx.say(ctx.t.gettext("The minutes of this meeting are already published."))
        return
    await ctx.go(Flow.MEETING, MeetingStep.MINUTES, meeting=meeting.id)
    ctx.say(ctx.t.gettext("✏️ Write the minutes in one message."), [_cancel_row(ctx.t)])


async def _minutes_written(ctx: Context) -> None:
    meeting = await _meeting_in_flow(ctx)
    if meeting is None:
        return
    cleaned = clean_long_text(ctx.incoming.text or "", MINUTES_TEXT_MAX)
    if cleaned.problem or not cleaned.text:
        ctx.say(
            ctx.t.gettext(
                "Please write the minutes as one message of at most {max} characters.",
                max=ctx.t.number(MINUTES_TEXT_MAX),
            )
        )
        return
    t = ctx.t
    await ctx.go(Flow.MEETING, MeetingStep.MINUTES_POLL, text=cleaned.text)
    ctx.say(
        t.gettext("🗳️ Did the meeting decide something put to a poll of this body? Write the poll's number, or tap No."),
        [[Button(t.plain("No poll"), cb("mtnp"))], _cancel_row(t)],
    )


async def _minutes_poll_written(ctx: Context) -> None:
    meeting = await _meeting_in_flow(ctx)
    if meeting is None:
        return
    raw = (ctx.incoming.text or "").strip().lstrip("#")
    poll = await ctx.uow.polls.get(int(raw)) if raw.isdigit() and int(raw) < 2**62 else None
    if poll is None or not poll_matches(MeetingBody(meeting.body), meeting.scope_id, poll.scope_kind, poll.scope_id):
        ctx.say(
            ctx.t.gettext("That is not a poll of this body. Write its number, or tap No."),
            [[Button(ctx.t.plain("No poll"), cb("mtnp"))], _cancel_row(ctx.t)],
        )
        return
    await _publish(ctx, meeting, poll.id, poll.question)


async def no_poll_tapped(ctx: Context, data: CallbackData) -> None:
    """mtnp: minutes with no poll."""
    if ctx.flow != Flow.MEETING or ctx.step != MeetingStep.MINUTES_POLL:
        await stale(ctx)
        return
    meeting = await _meeting_in_flow(ctx)
    if meeting is not None:
        await _publish(ctx, meeting, None, None)


async def _publish(ctx: Context, meeting: Meeting, poll_id: int | None, question: str | None) -> None:
    text = str(ctx.data.get("text") or "")
    published = meeting.minutes_at is not None  # once: a second tap must not tell everyone again
    if published or not text or not may_publish_minutes(ctx.now, meeting.starts_at, MeetingStatus(meeting.status)):
        await ctx.finish()
        await stale(ctx)
        return
    await ctx.uow.meetings.publish_minutes(meeting, text, poll_id, ctx.now)
    await ctx.finish()
    count = await publish_minutes_notices(ctx, meeting, text, poll_id, question)
    ctx.say(ctx.t.ngettext("✅ Minutes published: {n} person told.", "✅ Minutes published: {n} people told.", count))


async def publish_minutes_notices(
    ctx: Context, meeting: Meeting, text: str, poll_id: int | None, question: str | None
) -> int:
    """Send the minutes to everyone invited, in their languages."""
    view = await view_of(ctx.uow, meeting)
    poll = (poll_id, question or "") if poll_id is not None else None
    count = 0
    for person in await ctx.uow.meetings.invitees(meeting.id):
        if person.status != "active":
            continue
        reply = minutes_notice(ctx.services.catalogs.translator(person.locale), view, text, poll)
        await ctx.uow.outbox.add(
            person.chat_id,
            reply.to_dict(),
            "meeting.minutes",
            ctx.now,
            resident_id=person.resident_id,
            ref=f"meeting:{meeting.id}",
        )
        count += 1
    ctx.wrote_outbox = True
    return count


ROUTES = Routes(
    commands={
        "meeting": Command(start_meeting, Action.CALL_MEETING),
        "meetings": Command(list_meetings, Action.ATTEND_MEETING),
    },
    callbacks={
        "mtb": Callback(body_tapped, Action.CALL_MEETING),
        "mtl": Callback(length_tapped, Action.CALL_MEETING),
        "mta": Callback(agenda_done, Action.CALL_MEETING),
        "mtc": Callback(confirm_tapped, Action.CALL_MEETING),
        "mtm": Callback(move_tapped, Action.CALL_MEETING),
        "mtp": Callback(place_tapped, Action.CALL_MEETING),
        "mtk": Callback(cancel_meeting_tapped, Action.CALL_MEETING),
        "mtkc": Callback(cancel_confirmed, Action.CALL_MEETING),
        "mtn": Callback(minutes_tapped, Action.CALL_MEETING),
        "mtnp": Callback(no_poll_tapped, Action.CALL_MEETING),
        "mtr": Callback(rsvp_tapped, Action.ATTEND_MEETING),
        "mti": Callback(propose_tapped, Action.ATTEND_MEETING),
        "mtx": Callback(cancel_tapped, Action.CANCEL),
    },
    step_inputs=any_input(Flow.MEETING, meeting_input),
)
