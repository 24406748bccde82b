"""The .ics of a meeting parses back with icalendar: stable UID, rising SEQUENCE, CANCEL on cancellation, and
Madrid local times right on both sides of the October 2026 daylight-saving change."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.meeting_calendar import CalendarEvent, meeting_ics

STAMP = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def event(starts_at: datetime, *, sequence: int = 0, cancelled: bool = False) -> CalendarEvent:
    return CalendarEvent(
        41,
        sequence,
        starts_at,
        90,
        "Consejo de Embajadores",
        "Casino de la Reina",
        "1. Presupuesto\n2. Fiestas",
        cancelled=cancelled,
    )


def parse(data: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


@pytest.mark.parametrize(
    ("utc", "local"),
    [
        # The last Sunday of October 2026: Madrid is back on UTC+1, so 10:00 local is 09:00 UTC.
        (datetime(2026, 10, 25, 9, 0, tzinfo=UTC), datetime(2026, 10, 25, 10, 0)),
        # The day before, still summer time (UTC+2): 10:00 local is 08:00 UTC.
        (datetime(2026, 10, 24, 8, 0, tzinfo=UTC), datetime(2026, 10, 24, 10, 0)),
    ],
)
def test_times_are_madrid_local_across_daylight_saving(utc: datetime, local: datetime) -> None:
    data = meeting_ics(event(utc), STAMP)
    calendar, vevent = parse(data)
    start = vevent.decoded("dtstart")  # type: ignore[attr-defined]
    assert start.replace(tzinfo=None) == local
    assert str(start.tzinfo) == "Europe/Madrid"
    assert start.astimezone(UTC) == utc
    assert (vevent.decoded("dtend") - start).total_seconds() == 90 * 60  # type: ignore[attr-defined]
    assert b"DTSTART;TZID=Europe/Madrid:" in data
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Madrid"]


def test_invitation_fields() -> None:
    calendar, vevent = parse(meeting_ics(event(datetime(2026, 12, 10, 17, 0, tzinfo=UTC)), STAMP))
    assert str(calendar["METHOD"]) == "REQUEST"
    assert "Vecinos" in str(calendar["PRODID"])
    assert str(vevent["UID"]) == "meeting-41@vecinos.mcd"  # type: ignore[index]
    assert int(vevent["SEQUENCE"]) == 0  # type: ignore[index]
    assert str(vevent["SUMMARY"]) == "Consejo de Embajadores"  # type: ignore[index]
    assert str(vevent["LOCATION"]) == "Casino de la Reina"  # type: ignore[index]
    assert "2. Fiestas" in str(vevent["DESCRIPTION"])  # type: ignore[index]
    assert vevent.decoded("dtstamp") == STAMP  # type: ignore[attr-defined]
    start = vevent.decoded("dtstart")  # type: ignore[attr-defined]
    assert start.astimezone(ZoneInfo("Europe/Madrid")).hour == 18


def test_change_and_cancel_keep_the_uid_and_raise_the_sequence() -> None:
    at = datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
    first = parse(meeting_ics(event(at), STAMP))[1]
    moved_calendar, moved = parse(meeting_ics(event(at.replace(hour=18), sequence=1), STAMP))
    cancel_calendar, cancelled = parse(meeting_ics(event(at.replace(hour=18), sequence=2, cancelled=True), STAMP))
    assert str(first["UID"]) == str(moved["UID"]) == str(cancelled["UID"])  # type: ignore[index]
    assert [int(e["SEQUENCE"]) for e in (first, moved, cancelled)] == [0, 1, 2]  # type: ignore[index]
    assert str(moved_calendar["METHOD"]) == "REQUEST"
    assert str(cancel_calendar["METHOD"]) == "CANCEL"
    assert str(cancelled["STATUS"]) == "CANCELLED"  # type: ignore[index]
