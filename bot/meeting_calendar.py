"""A meeting as an iCalendar file (RFC 5545) built with the icalendar library: invitations and updates use
METHOD:REQUEST, a cancellation METHOD:CANCEL; the UID stays and SEQUENCE rises with every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.meetings import ends_at, local_start, meeting_uid

PRODID = "-//Vecinos//Madrid Central District meetings//EN"
ORGANIZER = "mailto:noreply@vecinos.mcd"
MADRID = ZoneInfo("Europe/Madrid")


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """What the file says about a meeting (the summary and description already in the reader's language)."""

    meeting_id: int
    sequence: int
    starts_at: datetime
    minutes: int
    summary: str
    location: str
    description: str
    cancelled: bool = False


def meeting_ics(event: CalendarEvent, stamp: datetime) -> bytes:
    """The .ics bytes: a VCALENDAR with the Europe/Madrid VTIMEZONE and one VEVENT in Madrid local time."""
    # Imported here: most processes never send an invitation, and the bot should not load it to start.
    from icalendar import Calendar, Event, vCalAddress, vText

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if event.cancelled else "REQUEST")
    vevent = Event()
    vevent.add("uid", meeting_uid(event.meeting_id))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", stamp)
    # Local times with TZID: a calendar shows the meeting at the Madrid wall-clock hour whatever the season.
    vevent.add("dtstart", local_start(event.starts_at, MADRID))
    vevent.add("dtend", local_start(ends_at(event.starts_at, event.minutes), MADRID))
    vevent.add("summary", event.summary)
    if event.location:
        vevent.add("location", event.location)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    # iTIP (RFC 5546) wants an ORGANIZER on REQUEST and CANCEL, or calendars may ignore the update; answers
    # come back through the bot's buttons, never by mail, so the address is one that replies nowhere.
    organizer = vCalAddress(ORGANIZER)
    organizer.params["cn"] = vText("Vecinos")
    vevent.add("organizer", organizer)
    calendar.add_component(vevent)
    # Only the transitions around the meeting: the whole 1970-2038 table would triple every invitation's size.
    year = event.starts_at.year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()
