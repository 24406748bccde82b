"""Meetings' life, shared by the chat, `vecinos meetings` and the scheduler: calling one (its invitees frozen,
each invited in their language with RSVP buttons and an .ics), moving and cancelling it (everyone invited told,
with an updated .ics), reminders 24 h and 1 h before, minutes, and the meetings ahead for a digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.channels.base import Button, Reply
from bot.domain.callbacks import cb
from bot.domain.meetings import (
    MeetingBody,
    MeetingStatus,
    Rsvp,
    agenda_deadline,
    is_reminded,
    may_propose,
    next_reminder,
    reminder_due,
)
from bot.i18n import Catalogs, Safe, Translator, safe_join
from bot.meeting_calendar import CalendarEvent, meeting_ics
from handlers.context import Services
from storage.models import Meeting
from storage.outbox import PRIORITY_BULK, PRIORITY_PERSONAL, QueuedMessage
from storage.uow import UnitOfWork

TOPIC = "meeting"


@dataclass(frozen=True, slots=True)
class MeetingView:
    """A meeting as its messages show it (names resolved; the body's words come from each reader's language)."""

    id: int
    body: MeetingBody
    scope_id: int | None
    barrio_id: int | None
    place_name: str | None
    title: str
    starts_at: datetime
    minutes: int
    place: str
    agenda: tuple[str, ...]
    status: MeetingStatus
    sequence: int
    organiser_id: int | None


@dataclass(frozen=True, slots=True)
class MeetingAhead:
    """A meeting for the weekly digest: what, who meets, when and where, and the answers so far."""

    id: int
    body: str
    scope_id: int | None
    place_name: str | None
    title: str
    starts_at: datetime
    minutes: int
    place: str
    invited: int
    yes: int
    no: int
    maybe: int


async def body_place(uow: UnitOfWork, body: MeetingBody, scope_id: int | None) -> tuple[int | None, str | None]:
    """The barrio a body belongs to (None for the Forum) and the name of its circle or barrio."""
    if body is MeetingBody.CIRCLE and scope_id is not None:
        circle = await uow.territory.circle(scope_id)
        return (circle.barrio_id, circle.name) if circle else (None, None)
    if body is MeetingBody.FORUM or scope_id is None:
        return None, None
    barrio = await uow.territory.barrio(scope_id)
    return (barrio.id, barrio.name) if barrio else (None, None)


def body_text(t: Translator, body: MeetingBody, place_name: str | None) -> str:
    """Who meets, in plain text ('the Citizen Community Council of Embajadores')."""
    place = place_name or "?"
    if body is MeetingBody.CIRCLE:
        return t.plain("the assembly of {place}", place=place)
    if body is MeetingBody.COUNCIL:
        return t.plain("the Citizen Community Council of {place}", place=place)
    if body is MeetingBody.GOVERNANCE:
        return t.plain("the Community Governance Commission of {place}", place=place)
    return t.plain("the District Citizen Forum")


async def view_of(uow: UnitOfWork, meeting: Meeting) -> MeetingView:
    """A stored meeting with its place's name and agenda."""
    body = MeetingBody(meeting.body)
    _, name = await body_place(uow, body, meeting.scope_id)
    agenda = tuple(item.text for item in await uow.meetings.agenda(meeting.id))
    return MeetingView(
        meeting.id,
        body,
        meeting.scope_id,
        meeting.barrio_id,
        name,
        meeting.title,
        meeting.starts_at,
        meeting.minutes,
        meeting.place,
        agenda,
        MeetingStatus(meeting.status),
        meeting.sequence,
        meeting.organiser_id,
    )


# ---------------------------------------------------------------- what invitees read


def rsvp_buttons(t: Translator, meeting_id: int) -> list[list[Button]]:
    """Yes / No / Maybe."""
    return [
        [
            Button(t.plain("✅ I will come"), cb("mtr", meeting_id, Rsvp.YES.value)),
            Button(t.plain("❌ I can't"), cb("mtr", meeting_id, Rsvp.NO.value)),
            Button(t.plain("🤔 Maybe"), cb("mtr", meeting_id, Rsvp.MAYBE.value)),
        ]
    ]


def rsvp_word(t: Translator, rsvp: str | None) -> str:
    """An answer in words."""
    if rsvp == Rsvp.YES:
        return t.plain("you will come")
    if rsvp == Rsvp.NO:
        return t.plain("you can't come")
    if rsvp == Rsvp.MAYBE:
        return t.plain("maybe")
    return t.plain("not answered yet")


def details(t: Translator, view: MeetingView, now: datetime | None = None) -> list[Safe]:
    """When, how long, where, and the agenda."""
    lines = [
        t.gettext("🕒 {when} · {minutes} min", when=t.day_and_time(view.starts_at), minutes=t.number(view.minutes)),
    ]
    if view.place:
        lines.append(t.gettext("📍 {place}", place=view.place))
    if view.agenda:
        lines.append(t.gettext("📋 <b>Agenda</b>"))
        lines.extend(t.gettext("{n}. {item}", n=t.number(i), item=item) for i, item in enumerate(view.agenda, 1))
    if now is not None and may_propose(now, view.starts_at) and view.status is MeetingStatus.SCHEDULED:
        lines.append(
            t.gettext(
                "You can propose agenda items from /meetings until {deadline}.",
                deadline=t.datetime(agenda_deadline(view.starts_at), "short"),
            )
        )
    return lines


def calendar_event(t: Translator, view: MeetingView) -> CalendarEvent:
    """The calendar entry in the reader's language."""
    agenda = [t.plain("{n}. {item}", n=i, item=item) for i, item in enumerate(view.agenda, 1)]
    description = "\n".join([body_text(t, view.body, view.place_name), *agenda])
    return CalendarEvent(
        view.id,
        view.sequence,
        view.starts_at,
        view.minutes,
        view.title,
        view.place,
        description,
        cancelled=view.status is MeetingStatus.CANCELLED,
    )


def ics_reply(t: Translator, view: MeetingView, now: datetime) -> Reply:
    """The .ics document, with a short caption (a document's caption is limited, the details go before it)."""
    caption = (
        t.gettext("📎 Remove it from your calendar with this file.")
        if view.status is MeetingStatus.CANCELLED
        else t.gettext("📎 Add it to your calendar with this file.")
    )
    return Reply(text=caption, document=meeting_ics(calendar_event(t, view), now), filename="meeting.ics")


def invitation(t: Translator, view: MeetingView, now: datetime, rsvp: str | None = None) -> Reply:
    """The invitation card with its RSVP buttons."""
    lines = [
        t.gettext(
            "📅 <b>Meeting</b> of {body}: <b>{title}</b>",
            body=body_text(t, view.body, view.place_name),
            title=view.title,
        ),
        *details(t, view, now),
        t.gettext("Your answer: {answer}", answer=rsvp_word(t, rsvp)) if rsvp else t.gettext("Will you come?"),
    ]
    return Reply(safe_join("\n", lines), rsvp_buttons(t, view.id))


def change_notice(t: Translator, view: MeetingView, now: datetime) -> Reply:
    """A meeting moved or its place changed: the new details, and the answer asked again."""
    lines = [
        t.gettext(
            "🔄 <b>Meeting changed</b>: {title} ({body})",
            title=view.title,
            body=body_text(t, view.body, view.place_name),
        ),
        *details(t, view, now),
        t.gettext("Will you come at the new time?"),
    ]
    return Reply(safe_join("\n", lines), rsvp_buttons(t, view.id))


def cancel_notice(t: Translator, view: MeetingView) -> Reply:
    """A meeting called off."""
    return Reply(
        t.gettext(
            "❌ <b>Meeting cancelled</b>: {title} ({body}), planned for {when}, will not take place.",
            title=view.title,
            body=body_text(t, view.body, view.place_name),
            when=t.day_and_time(view.starts_at),
        )
    )


def reminder(t: Translator, view: MeetingView, now: datetime) -> Reply:
    """A reminder before the start."""
    hours = max(1, round((view.starts_at - now).total_seconds() / 3600))
    lines = [
        t.ngettext(
            "⏰ <b>Reminder</b>: {title} starts in {n} hour.",
            "⏰ <b>Reminder</b>: {title} starts in {n} hours.",
            hours,
            title=view.title,
        ),
        t.gettext("Who meets: {body}", body=body_text(t, view.body, view.place_name)),
        *details(t, view),
    ]
    return Reply(safe_join("\n", lines), rsvp_buttons(t, view.id))


def minutes_notice(t: Translator, view: MeetingView, text: str, poll: tuple[int, str] | None) -> Reply:
    """The chair's minutes, and the poll a decision refers to."""
    lines = [
        t.gettext(
            "📝 <b>Minutes</b> of {title} ({body}, {when})",
            title=view.title,
            body=body_text(t, view.body, view.place_name),
            when=t.datetime(view.starts_at, "short"),
        ),
        t.gettext("{minutes}", minutes=text),
    ]
    if poll is not None:
        lines.append(t.gettext("🗳️ Decision: poll #{id}, {question} (/polls)", id=poll[0], question=poll[1]))
    return Reply(safe_join("\n\n", lines))


# ---------------------------------------------------------------- telling the invitees


async def tell_invitees(
    uow: UnitOfWork, catalogs: Catalogs, view: MeetingView, kind: str, now: datetime, *, reminded_only: bool = False
) -> int:
    """Queue a message for every reachable invitee in their language (`kind`: invite, change, cancel, remind);
    invitations, changes and cancellations carry the .ics. How many were queued."""
    rendered: dict[str, list[dict[str, Any]]] = {}
    messages: list[QueuedMessage] = []
    for person in await uow.meetings.invitees(view.id):
        if person.status != "active":
            continue
        if reminded_only and not is_reminded(Rsvp(person.rsvp) if person.rsvp else None):
            continue
        t = catalogs.translator(person.locale)
        if t.locale not in rendered:
            # One rendering (and one .ics) per language, then rows per person, queued in one statement.
            rendered[t.locale] = [reply.to_dict() for reply in _render(t, view, kind, now)]
        messages.extend(
            QueuedMessage(person.chat_id, person.resident_id, payload, f"meeting:{view.id}")
            for payload in rendered[t.locale]
        )
    # A circle's assembly may invite thousands: it waits behind personal messages like other fan-outs.
    priority = PRIORITY_BULK if view.body is MeetingBody.CIRCLE else PRIORITY_PERSONAL
    await uow.outbox.add_many(messages, f"{TOPIC}.{kind}", now, priority=priority)
    return len({m.chat_id for m in messages})


def _render(t: Translator, view: MeetingView, kind: str, now: datetime) -> list[Reply]:
    if kind == "invite":
        return [invitation(t, view, now), ics_reply(t, view, now)]
    if kind == "change":
        return [change_notice(t, view, now), ics_reply(t, view, now)]
    if kind == "cancel":
        return [cancel_notice(t, view), ics_reply(t, view, now)]
    return [reminder(t, view, now)]


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    """What an organiser chose: whose meeting, what, when, how long, where, and the first agenda items."""

    body: MeetingBody
    scope_id: int | None
    title: str
    starts_at: datetime
    minutes: int
    place: str
    agenda: tuple[str, ...] = ()


async def call_meeting(
    uow: UnitOfWork, catalogs: Catalogs, draft: MeetingDraft, organiser_id: int | None, now: datetime
) -> tuple[Meeting, int]:
    """Store the meeting, freeze its invitees and invite each of them; the meeting and how many were invited."""
    barrio_id, _ = await body_place(uow, draft.body, draft.scope_id)
    meeting = await uow.meetings.create(
        body=draft.body,
        scope_id=draft.scope_id,
        barrio_id=barrio_id,
        title=draft.title,
        place=draft.place,
        starts_at=draft.starts_at,
        minutes=draft.minutes,
        organiser_id=organiser_id,
        remind_at=next_reminder(draft.starts_at, now),
        now=now,
    )
    for item in draft.agenda:
        await uow.meetings.add_agenda_item(meeting.id, item, organiser_id, now)
    await uow.meetings.invite_members(meeting)
    count = await tell_invitees(uow, catalogs, await view_of(uow, meeting), "invite", now)
    return meeting, count


async def move_meeting(
    uow: UnitOfWork,
    catalogs: Catalogs,
    meeting: Meeting,
    now: datetime,
    *,
    starts_at: datetime | None = None,
    place: str | None = None,
) -> int:
    """A new time and/or place: everyone invited is told, with the .ics at a higher SEQUENCE."""
    start = starts_at or meeting.starts_at
    await uow.meetings.reschedule(
        meeting, starts_at=start, place=meeting.place if place is None else place, remind_at=next_reminder(start, now)
    )
    return await tell_invitees(uow, catalogs, await view_of(uow, meeting), "change", now)


async def cancel_meeting(uow: UnitOfWork, catalogs: Catalogs, meeting: Meeting, now: datetime) -> int:
    """Call it off: everyone invited is told, with a cancelling .ics."""
    await uow.meetings.cancel(meeting)
    return await tell_invitees(uow, catalogs, await view_of(uow, meeting), "cancel", now)


def counts_text(t: Translator, counts: dict[str, int]) -> Safe:
    """The answers so far, for the organiser."""
    return t.gettext(
        "✅ {yes} · ❌ {no} · 🤔 {maybe} · ⏳ {none} not answered (of {invited})",
        yes=t.number(counts["yes"]),
        no=t.number(counts["no"]),
        maybe=t.number(counts["maybe"]),
        none=t.number(counts["none"]),
        invited=t.number(counts["invited"]),
    )


# ---------------------------------------------------------------- the scheduler and the digest


async def send_due_meeting_work(services: Services, limit: int = 50) -> int:
    """Tick: reminders 24 h and 1 h before, to invitees who said yes or maybe or have not answered."""
    now = services.clock()
    done = 0
    async with services.db.unit_of_work() as uow:
        for meeting in await uow.meetings.claim_due_reminders(now, limit):
            if meeting.status == MeetingStatus.SCHEDULED and reminder_due(meeting.starts_at, meeting.remind_at, now):
                view = await view_of(uow, meeting)
                done += await tell_invitees(uow, services.catalogs, view, "remind", now, reminded_only=True)
            # Moved past the reminder just handled, so a late tick never sends it twice.
            await uow.meetings.set_next_reminder(meeting, next_reminder(meeting.starts_at, now))
        await uow.commit()
    if done:
        services.on_outbox()
    return done


async def meetings_ahead(uow: UnitOfWork, barrio_id: int, since: datetime, until: datetime) -> list[MeetingAhead]:
    """The barrio's scheduled meetings (its circles', its council's and Governance Commission's) starting in
    [since, until), soonest first, with the answers so far (for the weekly digest)."""
    ahead = []
    for meeting in await uow.meetings.ahead(barrio_id, since, until):
        _, name = await body_place(uow, MeetingBody(meeting.body), meeting.scope_id)
        counts = await uow.meetings.counts(meeting.id)
        ahead.append(
            MeetingAhead(
                meeting.id,
                meeting.body,
                meeting.scope_id,
                name,
                meeting.title,
                meeting.starts_at,
                meeting.minutes,
                meeting.place,
                counts["invited"],
                counts["yes"],
                counts["no"],
                counts["maybe"],
            )
        )
    return ahead
