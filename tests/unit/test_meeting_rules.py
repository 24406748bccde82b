"""Meetings' pure rules as tables: reminder times, who is reminded, the agenda deadline, minutes and polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.meetings import (
    MeetingBody,
    MeetingStatus,
    Rsvp,
    agenda_deadline,
    ends_at,
    is_reminded,
    local_start,
    may_change,
    may_propose,
    may_publish_minutes,
    meeting_uid,
    next_reminder,
    parse_body,
    parse_minutes,
    poll_matches,
    reminder_due,
)

START = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (START - 72 * H, START - 24 * H),  # created days before: the 24 h reminder first
        (START - 24 * H, START - H),  # the 24 h reminder just went: then the 1 h one
        (START - 10 * H, START - H),  # created the evening before: the 24 h one is skipped, not sent late
        (START - H, None),  # the 1 h reminder went: nothing is left
        (START - timedelta(minutes=30), None),
        (START + H, None),  # already started
    ],
)
def test_next_reminder(after: datetime, expected: datetime | None) -> None:
    assert next_reminder(START, after) == expected


@pytest.mark.parametrize(
    ("remind_at", "now", "due"),
    [
        (START - 24 * H, START - 24 * H, True),
        (START - 24 * H, START - 25 * H, False),
        (START - H, START - timedelta(minutes=5), True),  # a late tick still reminds before the start
        (START - H, START + timedelta(minutes=1), False),  # but never once the meeting began
        (None, START - H, False),
    ],
)
def test_reminder_due(remind_at: datetime | None, now: datetime, due: bool) -> None:
    assert reminder_due(START, remind_at, now) is due


@pytest.mark.parametrize(
    ("rsvp", "reminded"),
    [(Rsvp.YES, True), (None, True), (Rsvp.MAYBE, False), (Rsvp.NO, False)],
)
def test_who_is_reminded(rsvp: Rsvp | None, reminded: bool) -> None:
    assert is_reminded(rsvp) is reminded


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (START - 48 * H, True),
        (START - 24 * H - timedelta(seconds=1), True),
        (START - 24 * H, False),  # the deadline itself is too late
        (START - H, False),
        (START + H, False),
    ],
)
def test_agenda_deadline(now: datetime, allowed: bool) -> None:
    assert agenda_deadline(START) == START - 24 * H
    assert may_propose(now, START) is allowed


@pytest.mark.parametrize(
    ("now", "status", "minutes", "change"),
    [
        (START - H, MeetingStatus.SCHEDULED, False, True),
        (START, MeetingStatus.SCHEDULED, True, False),
        (START + 3 * H, MeetingStatus.SCHEDULED, True, False),
        (START - H, MeetingStatus.CANCELLED, False, False),
        (START + H, MeetingStatus.CANCELLED, False, False),
    ],
)
def test_minutes_and_changes(now: datetime, status: MeetingStatus, minutes: bool, change: bool) -> None:
    assert may_publish_minutes(now, START, status) is minutes
    assert may_change(now, START, status) is change


@pytest.mark.parametrize(
    ("body", "scope_id", "poll_kind", "poll_id", "ok"),
    [
        (MeetingBody.COUNCIL, 2, "council", 2, True),
        (MeetingBody.COUNCIL, 2, "council", 3, False),
        (MeetingBody.COUNCIL, 2, "barrio", 2, False),
        (MeetingBody.CIRCLE, 7, "circle", 7, True),
        (MeetingBody.CIRCLE, 7, "council", 7, False),
        (MeetingBody.GOVERNANCE, 2, "council", 2, False),
        (MeetingBody.FORUM, None, "district", None, False),
    ],
)
def test_poll_matches(body: MeetingBody, scope_id: int | None, poll_kind: str, poll_id: int | None, ok: bool) -> None:
    assert poll_matches(body, scope_id, poll_kind, poll_id) is ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("council:embajadores", (MeetingBody.COUNCIL, "embajadores")),
        ("governance:cortes", (MeetingBody.GOVERNANCE, "cortes")),
        ("forum:mcd", (MeetingBody.FORUM, "mcd")),
        ("circle:emb-plaza-lavapies", None),  # circles are named with --circle
        ("council:", None),
        ("parliament:x", None),
    ],
)
def test_parse_body(text: str, expected: tuple[MeetingBody, str] | None) -> None:
    assert parse_body(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("90", 90), ("5", 5), ("720", 720), ("4", None), ("721", None),
                                                ("1h", None), ("", None)])  # fmt: skip
def test_parse_minutes(text: str, expected: int | None) -> None:
    assert parse_minutes(text) == expected


@pytest.mark.parametrize(
    ("utc", "local_hour"),
    [
        (datetime(2026, 10, 24, 8, 0, tzinfo=UTC), 10),  # summer time (UTC+2) the day before the change
        (datetime(2026, 10, 25, 9, 0, tzinfo=UTC), 10),  # winter time (UTC+1) on the last Sunday of October
        (datetime(2026, 3, 29, 8, 0, tzinfo=UTC), 10),  # summer time again from the last Sunday of March
    ],
)
def test_local_start_across_daylight_saving(utc: datetime, local_hour: int) -> None:
    assert local_start(utc, ZoneInfo("Europe/Madrid")).hour == local_hour


def test_end_and_uid() -> None:
    # 25 October 2026 02:00-03:00 happens twice in Madrid: a meeting still lasts its minutes.
    start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert ends_at(start, 90) - start == timedelta(minutes=90)
    assert meeting_uid(15) == "meeting-15@vecinos.mcd"
