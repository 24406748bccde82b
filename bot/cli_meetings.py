"""`vecinos meetings create|move|cancel|show`: meetings of a circle or a body from the command line."""

from __future__ import annotations

import argparse
import json
from datetime import UTC
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.domain.meetings import (
    AGENDA_ITEM_MAX,
    DEFAULT_MINUTES,
    MINUTES_RANGE,
    PLACE_MAX,
    TITLE_MAX,
    MeetingBody,
    MeetingStatus,
    may_change,
    meeting_uid,
    parse_body,
)
from bot.domain.notices import parse_send_at
from bot.errors import CommandError

if TYPE_CHECKING:
    from bot.app import Vecinos
    from storage.models import Meeting
    from storage.uow import UnitOfWork

MADRID = ZoneInfo("Europe/Madrid")


def add_meeting_commands(sub: Any) -> None:
    """Add `meetings` to the `vecinos` parser."""
    meetings = sub.add_parser("meetings", help="call, move, cancel and inspect meetings").add_subparsers(
        dest="action", required=True
    )
    create = meetings.add_parser("create", help="call a meeting and invite its members; prints its id")
    whom = create.add_mutually_exclusive_group(required=True)
    whom.add_argument("--circle", help="a circle's assembly: the circle's code or id")
    whom.add_argument("--body", help="council:BARRIO, governance:BARRIO or forum:DISTRICT (codes or ids)")
    create.add_argument("--title", required=True)
    create.add_argument("--at", required=True, help="ISO 8601; without an offset it is Madrid time")
    create.add_argument("--minutes", type=int, default=DEFAULT_MINUTES, help=f"default {DEFAULT_MINUTES}")
    create.add_argument("--place", default="", help="a place or a link")
    create.add_argument("--agenda", action="append", default=[], help="an agenda item (repeat for each)")
    move = meetings.add_parser("move", help="move a meeting; everyone invited gets an updated .ics")
    move.add_argument("meeting", type=int, metavar="ID")
    move.add_argument("--at", required=True, help="ISO 8601; without an offset it is Madrid time")
    move.add_argument("--place", default=None, help="a new place or link")
    for verb, text in (("cancel", "cancel a meeting and tell everyone invited"), ("show", "print a meeting as JSON")):
        meetings.add_parser(verb, help=text).add_argument("meeting", type=int, metavar="ID")


async def run_meetings(app: Vecinos, args: argparse.Namespace) -> None:
    """`vecinos meetings ...`."""
    from handlers.meeting_life import cancel_meeting, move_meeting

    await app.open()
    now = app.services.clock()
    if args.action == "create":
        print(await _create(app, args))
        return
    async with app.db.unit_of_work() as uow:
        meeting = await uow.meetings.get(args.meeting, lock=True)
        if meeting is None:
            raise CommandError(f"there is no meeting {args.meeting}")
        if args.action == "show":
            print(json.dumps(await _shown(uow, meeting), ensure_ascii=False))
            return
        if not may_change(now, meeting.starts_at, MeetingStatus(meeting.status)):
            raise CommandError(f"meeting {meeting.id} is cancelled or has started: it can no longer change")
        if args.action == "cancel":
            await cancel_meeting(uow, app.catalogs, meeting, now)
        else:
            at = parse_send_at(args.at, now, MADRID)
            if at is None:
                raise CommandError(f"--at {args.at!r} is not a date and time in the future")
            place = args.place.strip()[:PLACE_MAX] if args.place is not None else None
            await move_meeting(uow, app.catalogs, meeting, now, starts_at=at, place=place)
        await uow.commit()
        app.services.on_outbox()
        print(json.dumps(await _shown(uow, meeting), ensure_ascii=False))


async def _whom(uow: UnitOfWork, args: argparse.Namespace) -> tuple[MeetingBody, int | None]:
    if args.circle:
        ident = args.circle.strip()
        circle = await (uow.territory.circle(int(ident)) if ident.isdigit() else uow.territory.circle_by_code(ident))
        if circle is None:
            raise CommandError(f"--circle {ident!r}: there is no such circle")
        return MeetingBody.CIRCLE, circle.id
    parsed = parse_body(args.body)
    if parsed is None:
        raise CommandError(f"--body {args.body!r}: use council:BARRIO, governance:BARRIO or forum:DISTRICT")
    body, ident = parsed
    if body is MeetingBody.FORUM:
        return body, None
    barrio = await (uow.territory.barrio(int(ident)) if ident.isdigit() else uow.territory.barrio_by_code(ident))
    if barrio is None:
        raise CommandError(f"--body {args.body!r}: there is no barrio {ident!r}")
    return body, barrio.id


async def _create(app: Vecinos, args: argparse.Namespace) -> int:
    from handlers.meeting_life import MeetingDraft, call_meeting

    now = app.services.clock()
    title = " ".join(args.title.split())
    if not title or len(title) > TITLE_MAX:
        raise CommandError(f"--title must have 1 to {TITLE_MAX} characters")
    if not MINUTES_RANGE[0] <= args.minutes <= MINUTES_RANGE[1]:
        raise CommandError(f"--minutes must be between {MINUTES_RANGE[0]} and {MINUTES_RANGE[1]}")
    at = parse_send_at(args.at, now, MADRID)
    if at is None:
        raise CommandError(f"--at {args.at!r} is not a date and time in the future")
    async with app.db.unit_of_work() as uow:
        body, scope_id = await _whom(uow, args)
        if await uow.meetings.members_count(body, scope_id) == 0:
            raise CommandError("nobody would be invited: that circle or body has no members yet")
        agenda = tuple(" ".join(item.split())[:AGENDA_ITEM_MAX] for item in args.agenda if item.strip())
        draft = MeetingDraft(body, scope_id, title, at, args.minutes, args.place.strip()[:PLACE_MAX], agenda)
        meeting, _ = await call_meeting(uow, app.catalogs, draft, None, now)
        await uow.commit()
    app.services.on_outbox()
    return meeting.id


async def _shown(uow: UnitOfWork, meeting: Meeting) -> dict[str, Any]:
    counts = await uow.meetings.counts(meeting.id)
    agenda = [item.text for item in await uow.meetings.agenda(meeting.id)]
    return {
        "meeting": meeting.id,
        "uid": meeting_uid(meeting.id),
        "body": meeting.body,
        "scope_id": meeting.scope_id,
        "barrio_id": meeting.barrio_id,
        "title": meeting.title,
        "starts_at": meeting.starts_at.astimezone(UTC).isoformat(),
        "starts_at_madrid": meeting.starts_at.astimezone(MADRID).isoformat(),
        "minutes": meeting.minutes,
        "place": meeting.place,
        "status": meeting.status,
        "sequence": meeting.sequence,
        "agenda": agenda,
        "rsvp": counts,
        "minutes_published": meeting.minutes_at is not None,
        "minutes_poll": meeting.minutes_poll_id,
    }
