"""`vecinos elections`: call an election from an office, move it to its next phase now, print its result."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain.elections import ELECTORATE_OF, ElectionStatus, ElectorateKind, Office, check_phases
from bot.domain.permissions import Sector
from bot.domain.polls import parse_duration
from bot.errors import CommandError
from storage.elections import COMMISSION

if TYPE_CHECKING:
    from bot.app import Vecinos


def add_election_commands(sub: Any) -> None:
    """Add `elections` to the `vecinos` parser."""
    elections = sub.add_parser("elections", help="call elections, advance them, print results")
    actions = elections.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="open nominations now; prints the election's id")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--circle", help="a circle (id or code): it elects its delegates")
    where.add_argument("--council", help="a barrio (id or code): its council elects --office")
    create.add_argument("--office", choices=[o.value for o in Office], default=None,
                        help="delegate (a circle), forum or governance (a council)")  # fmt: skip
    create.add_argument("--seats", type=int, help="default: VECINOS_DELEGATE_SEATS, or VECINOS_FORUM_SEATS, or 1")
    nominations = create.add_mutually_exclusive_group()
    nominations.add_argument("--nominations-close", help="ISO 8601 with a time zone")
    nominations.add_argument("--nominations-in", help="e.g. 2d, 12h (default VECINOS_ELECTION_NOMINATION_DAYS)")
    voting = create.add_mutually_exclusive_group()
    voting.add_argument("--voting-closes", help="ISO 8601 with a time zone")
    voting.add_argument("--voting-in", help="after nominations close, e.g. 5d (default VECINOS_ELECTION_VOTING_DAYS)")
    for verb, text in (("advance", "end the current phase now (nominations, or voting)"),
                       ("results", "print an election's candidates and result as JSON")):  # fmt: skip
        action = actions.add_parser(verb, help=text)
        action.add_argument("election", type=int, metavar="ID")

    bodies = sub.add_parser("bodies", help="the bodies above the councils: Governance Commission seats, listing")
    verbs = bodies.add_subparsers(dest="action", required=True)
    seat = verbs.add_parser("seat", help="give an institution's member a seat in a barrio's Governance Commission")
    seat.add_argument("--barrio", required=True, help="barrio id or code")
    seat.add_argument("--user", type=int, required=True, help="the member's Telegram user id (they wrote to the bot)")
    seat.add_argument("--institution", required=True, help="e.g. 'Policía Municipal'")
    commission = verbs.add_parser("commission", help="record a council member the council chose for a commission")
    commission.add_argument("--barrio", required=True, help="barrio id or code")
    commission.add_argument("--sector", required=True, choices=[s.value for s in Sector])
    commission.add_argument("--user", type=int, required=True, help="the council member's Telegram user id")
    listing = verbs.add_parser("list", help="print every council, Forum and Governance Commission member as JSON")
    listing.add_argument("--barrio", help="only this barrio (id or code)")


def _moment(text: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{flag} {text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise CommandError(f"{flag} needs a time zone, e.g. 2026-12-20T20:00+01:00 or ...Z")
    return moment


def _duration(text: str, flag: str) -> timedelta:
    duration = parse_duration(text)
    if duration is None:
        raise CommandError(f"{flag} {text!r}: use a number and m, h, d or w, e.g. 2d")
    return duration


async def run_elections(app: Vecinos, args: argparse.Namespace) -> None:
    """`vecinos elections ...`."""
    await app.open()
    if args.action == "create":
        print(await _create(app, args))
    elif args.action == "advance":
        print(json.dumps(await _advance(app, args.election), ensure_ascii=False))
    else:
        print(json.dumps(await _results(app, args.election), ensure_ascii=False))


async def run_bodies(app: Vecinos, args: argparse.Namespace) -> None:
    """`vecinos bodies ...`."""
    await app.open()
    async with app.db.unit_of_work() as uow:
        barrios = await uow.territory.barrios()
        if args.barrio:
            chosen = [b for b in barrios if str(b.id) == args.barrio or b.code == args.barrio]
            if not chosen:
                raise CommandError(f"there is no barrio {args.barrio!r}")
            barrios = chosen
        if args.action == "commission":
            resident = await uow.residents.by_telegram_id(args.user)
            council = {p.resident_id for p in await uow.elections.council(barrios[0].id)}
            if resident is None or resident.id not in council:
                raise CommandError(f"user {args.user} is not a member of the {barrios[0].name} council")
            added = await uow.elections.add_commission_member(barrios[0].id, resident.id, args.sector,
                                                              app.services.clock())  # fmt: skip
            await uow.commit()
            print(f"{resident.first_name} {'sits' if added else 'already sits'} in the {args.sector} commission "
                  f"of {barrios[0].name}")  # fmt: skip
            return
        if args.action == "seat":
            resident = await uow.residents.by_telegram_id(args.user)
            if resident is None:
                raise CommandError(f"user {args.user} has not written to the bot yet: ask them to send /start")
            if not args.institution.strip():
                raise CommandError("--institution must name the institution")
            await uow.elections.add_institution_seat(barrios[0].id, resident.id, args.institution.strip(),
                                                     app.services.clock())  # fmt: skip
            await uow.commit()
            print(f"{resident.first_name} sits in the Governance Commission of {barrios[0].name} for "
                  f"{args.institution.strip()}")  # fmt: skip
            return
        report = []
        for barrio in barrios:
            council = [p.first_name for p in await uow.elections.council(barrio.id)]
            governance = [{"name": p.first_name, "seat": seat.source, "institution": seat.label or None}
                          for seat, p in await uow.elections.body_seats(Office.GOVERNANCE, barrio.id)]  # fmt: skip
            forum = [p.first_name for seat, p in await uow.elections.body_seats(Office.FORUM, barrio.id)]
            commissions: dict[str, list[str]] = {}
            for seat, person in await uow.elections.body_seats(COMMISSION, barrio.id):
                commissions.setdefault(seat.label, []).append(person.first_name)
            report.append({"barrio": barrio.code, "council": council, "commissions": commissions,
                           "governance_commission": governance, "forum_representatives": forum})  # fmt: skip
    print(json.dumps(report, ensure_ascii=False))


async def _create(app: Vecinos, args: argparse.Namespace) -> int:
    from handlers.election_life import call_election, electorate_scope

    policy = app.services.elections
    kind = ElectorateKind.CIRCLE if args.circle else ElectorateKind.COUNCIL
    office = Office(args.office) if args.office else (Office.DELEGATE if args.circle else Office.FORUM)
    if ELECTORATE_OF[office] is not kind:
        raise CommandError(f"--office {office}: elected by a {ELECTORATE_OF[office]}, not a {kind}")
    default_seats = {Office.DELEGATE: policy.delegate_seats, Office.FORUM: policy.forum_seats}.get(office, 1)
    seats = args.seats if args.seats is not None else default_seats
    if seats < 1 or seats > 10:
        raise CommandError("--seats must be between 1 and 10")
    now = app.services.clock()
    close = (_moment(args.nominations_close, "--nominations-close") if args.nominations_close
             else now + (_duration(args.nominations_in, "--nominations-in") if args.nominations_in
                         else policy.nominations))  # fmt: skip
    voting = (_moment(args.voting_closes, "--voting-closes") if args.voting_closes
              else close + (_duration(args.voting_in, "--voting-in") if args.voting_in else policy.voting))  # fmt: skip
    problem = check_phases(now, close, voting)
    if problem:
        raise CommandError(problem)
    async with app.db.unit_of_work() as uow:
        ident = args.circle or args.council
        if kind is ElectorateKind.CIRCLE:
            place = await (uow.territory.circle(int(ident)) if ident.isdigit() else uow.territory.circle_by_code(ident))
        else:
            place = await (uow.territory.barrio(int(ident)) if ident.isdigit() else uow.territory.barrio_by_code(ident))
        if place is None:
            raise CommandError(f"there is no {'circle' if kind is ElectorateKind.CIRCLE else 'barrio'} {ident!r}")
        if await uow.elections.active_for(kind, place.id, office) is not None:
            raise CommandError(f"an election of {office} is already under way there")
        if await uow.polls.members_of(electorate_scope(kind, place.id)) == 0:
            raise CommandError(f"nobody could stand or vote: the {kind} of {place.name} has no members yet")
        election = await call_election(uow, app.catalogs, electorate_kind=kind, scope_id=place.id, office=office,
                                       seats=seats, nominations_close=close, voting_closes=voting, created_by=None,
                                       now=now)  # fmt: skip
        await uow.commit()
        return election.id


async def _advance(app: Vecinos, election_id: int) -> dict[str, Any]:
    from handlers.election_life import close_nominations
    from handlers.poll_ticks import close_now

    now = app.services.clock()
    async with app.db.unit_of_work() as uow:
        election = await uow.elections.get(election_id, lock=True)
        if election is None:
            raise CommandError(f"there is no election {election_id}")
        status, poll_id = election.status, election.poll_id
        if status == ElectionStatus.NOMINATING:
            await close_nominations(uow, app.catalogs, election, now, app.services.elections, app.services.polls)
            await uow.commit()
    if status == ElectionStatus.VOTING and poll_id is not None:
        await close_now(app.services, poll_id)
    elif status not in (ElectionStatus.NOMINATING, ElectionStatus.VOTING):
        raise CommandError(f"election {election_id} is over ({status})")
    app.services.on_outbox()
    return await _results(app, election_id)


async def _results(app: Vecinos, election_id: int) -> dict[str, Any]:
    async with app.db.unit_of_work() as uow:
        election = await uow.elections.get(election_id)
        if election is None:
            raise CommandError(f"there is no election {election_id}")
        candidacies = await uow.elections.candidacies(election.id)
        poll = await uow.polls.get(election.poll_id) if election.poll_id else None
        receipts = await uow.ballots.ballot_count(poll.id) if poll else 0
        return _report(election, candidacies, poll, receipts)


def _report(election: Any, candidacies: list[Any], poll: Any, receipts: int) -> dict[str, Any]:
    standing = [c for c in candidacies if c.status == "standing"]
    by_place = sorted((c for c in standing if c.place is not None), key=lambda c: c.place or 0)
    report: dict[str, Any] = {
        "election": election.id,
        "status": election.status,
        "office": election.office,
        "electorate": f"{election.scope_kind}:{election.scope_id}",
        "poll": election.poll_id,
        "seats": election.seats,
        "nominations_close": election.nominations_close_at.isoformat(),
        "voting_closes": election.voting_closes_at.isoformat(),
        "candidates": [
            {"name": c.name, "statement": c.statement, "outcome": c.outcome, "place": c.place}
            for c in sorted(standing, key=lambda c: c.id)
        ],
        # Elected by the count (in order), and who holds the seats now (a substitute may have taken one).
        "winners": [c.name for c in by_place if c.place is not None and c.place <= election.seats],
        "seated": [c.name for c in by_place if c.outcome in ("elected", "replaced")],
        "substitutes": [c.name for c in by_place if c.outcome == "substitute"],
        "receipts": receipts,
    }
    if poll is not None and poll.result:
        report["method"] = "stv"
        report["winners"] = poll.result.get("winners", [])
        report["quota"] = poll.result.get("quota")
        report["rounds"] = poll.result.get("rounds", [])
        report["tie_break_order"] = poll.result.get("tie_break_order", [])
        report["ballots_sha256"] = poll.published_sha256
    return report
