"""Meetings' rules as plain values: whose meeting it is, when reminders go and to whom, the agenda's
deadline, when minutes may be published and which polls they may link to."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

DEFAULT_MINUTES = 90
MINUTES_RANGE = (5, 12 * 60)
TITLE_MAX = 120
PLACE_MAX = 200
AGENDA_ITEM_MAX = 200
AGENDA_MAX_ITEMS = 20
MINUTES_TEXT_MAX = 3500
# Reminders before the start, latest last; each is sent at most once.
REMINDER_OFFSETS: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
# Invitees may propose agenda items until this long before the start, so the chair can order the agenda.
AGENDA_DEADLINE = timedelta(hours=24)


class MeetingBody(StrEnum):
    """Who meets: a circle's assembly or a body (scope id: the circle, or the barrio; the Forum: none)."""

    CIRCLE = "circle"
    COUNCIL = "council"
    GOVERNANCE = "governance"
    FORUM = "forum"


class Rsvp(StrEnum):
    """An invitee's answer."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class MeetingStatus(StrEnum):
    """A meeting is scheduled until the organiser cancels it."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


def parse_body(text: str) -> tuple[MeetingBody, str] | None:
    """A `--body KIND:CODE` value (council:embajadores, governance:cortes, forum:mcd); None if malformed."""
    kind, _, code = text.strip().partition(":")
    if kind not in {b.value for b in MeetingBody} or kind == MeetingBody.CIRCLE or not code:
        return None
    return MeetingBody(kind), code


def parse_minutes(text: str) -> int | None:
    """A duration in whole minutes within the allowed range; None otherwise."""
    raw = text.strip()
    if not raw.isdigit():
        return None
    value = int(raw)
    return value if MINUTES_RANGE[0] <= value <= MINUTES_RANGE[1] else None


def ends_at(starts_at: datetime, minutes: int) -> datetime:
    """When the meeting ends (absolute time: a DST change inside it does not stretch it)."""
    return starts_at + timedelta(minutes=minutes)


def local_start(starts_at: datetime, zone: ZoneInfo) -> datetime:
    """The start as the wall-clock time in `zone` (Europe/Madrid), daylight saving included."""
    return starts_at.astimezone(zone)


def next_reminder(starts_at: datetime, after: datetime) -> datetime | None:
    """The first reminder time strictly after `after` and before the start; None when none is left. A
    reminder whose time passed before the meeting was created (or moved) is skipped, not sent late."""
    for offset in REMINDER_OFFSETS:
        at = starts_at - offset
        if after < at < starts_at:
            return at
    return None


def reminder_due(starts_at: datetime, remind_at: datetime | None, now: datetime) -> bool:
    """Whether a claimed reminder should still go: it is due and the meeting has not started."""
    return remind_at is not None and remind_at <= now < starts_at


def is_reminded(rsvp: Rsvp | None) -> bool:
    """Reminders go to those who said yes and those who have not answered; not to a no, nor to a maybe (they
    answered, and may still change it from /meetings)."""
    return rsvp is None or rsvp is Rsvp.YES


def agenda_deadline(starts_at: datetime) -> datetime:
    """Until when invitees may propose agenda items."""
    return starts_at - AGENDA_DEADLINE


def may_propose(now: datetime, starts_at: datetime) -> bool:
    """Whether an agenda item proposed now is still in time."""
    return now < agenda_deadline(starts_at)


def may_publish_minutes(now: datetime, starts_at: datetime, status: MeetingStatus) -> bool:
    """Minutes are published once the meeting has started, and never for a cancelled one."""
    return status is MeetingStatus.SCHEDULED and now >= starts_at


def may_change(now: datetime, starts_at: datetime, status: MeetingStatus) -> bool:
    """A meeting can be moved or cancelled until it starts."""
    return status is MeetingStatus.SCHEDULED and now < starts_at


def poll_scope_for(body: MeetingBody, scope_id: int | None) -> tuple[str, int | None] | None:
    """The poll scope (kind, id) whose polls a meeting's minutes may link to: a circle's polls for its
    assembly, a council's polls for the council; other bodies have no polls of their own yet."""
    if body is MeetingBody.CIRCLE:
        return ("circle", scope_id)
    if body is MeetingBody.COUNCIL:
        return ("council", scope_id)
    return None


def poll_matches(body: MeetingBody, scope_id: int | None, poll_scope_kind: str, poll_scope_id: int | None) -> bool:
    """Whether a poll belongs to the meeting's body, so its minutes may cite it as a decision."""
    wanted = poll_scope_for(body, scope_id)
    return wanted is not None and wanted == (poll_scope_kind, poll_scope_id)


def meeting_uid(meeting_id: int) -> str:
    """The calendar UID: stable for the meeting's life, so updates replace the event in calendars."""
    return f"meeting-{meeting_id}@vecinos.mcd"
