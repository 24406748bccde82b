"""`vecinos polls ...` and `vecinos demo populate`: polls for offices and checks, and synthetic residents."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain.ballots import PollKind
from bot.domain.polls import (
    PollScope,
    PollStatus,
    PollTerms,
    ScopeKind,
    TermsProblem,
    check_terms,
    parse_duration,
    quorum_met,
)
from bot.errors import CommandError

if TYPE_CHECKING:
    from bot.app import Vecinos

PROBLEM_LINES = {
    TermsProblem.QUESTION_EMPTY: "--question must not be empty",
    TermsProblem.QUESTION_LONG: "--question is too long (at most 300 characters)",
    TermsProblem.TOO_FEW_OPTIONS: "give at least two --option (or --kind yesno)",
    TermsProblem.TOO_MANY_OPTIONS: "at most 10 --option",
    TermsProblem.OPTION_EMPTY: "an --option is empty",
    TermsProblem.OPTION_LONG: "an --option is longer than 100 characters",
    TermsProblem.OPTIONS_REPEATED: "two --option are the same",
    TermsProblem.MAX_CHOICES: "--max-choices must be between 1 and the number of options (approval polls)",
    TermsProblem.CLOSES_TOO_SOON: "the poll must stay open at least 5 minutes",
    TermsProblem.CLOSES_TOO_LATE: "a poll can stay open at most 90 days",
    TermsProblem.QUORUM: "--quorum is a percentage from 0 to 100",
    TermsProblem.THRESHOLD: "--threshold is a percentage from 0 to 99",
}


def add_commands(sub: Any) -> None:
    """Add `polls` and `demo` to the `vecinos` parser."""
    polls = sub.add_parser("polls", help="create, close and inspect polls").add_subparsers(dest="action", required=True)
    create = polls.add_parser("create", help="open a poll now; prints its id")
    create.add_argument(
        "--scope", required=True, help="circle:ID, barrio:ID, council:BARRIO (ids or codes) or district"
    )
    create.add_argument("--question", required=True)
    create.add_argument("--option", action="append", default=[], help="an option (repeat for each)")
    create.add_argument("--kind", choices=[k.value for k in PollKind], help="default: single, or yesno without options")
    create.add_argument("--max-choices", type=int, help="approval: how many each voter may tick")
    closing = create.add_mutually_exclusive_group()
    closing.add_argument("--closes-in", default=None, help="e.g. 90m, 2h, 3d, 1w (default 3d)")
    closing.add_argument("--closes-at", default=None, help="ISO 8601 with a time zone, e.g. 2026-12-20T20:00+01:00")
    shown = create.add_mutually_exclusive_group()
    shown.add_argument("--results-hidden", dest="results_visible", action="store_false", help="(default)")
    shown.add_argument("--results-visible", dest="results_visible", action="store_true")
    create.set_defaults(results_visible=False)
    create.add_argument("--quorum", type=int, default=0, help="minimum turnout in percent (default 0)")
    create.add_argument("--threshold", type=int, default=50, help="yes/no: yes must be more than this percent")
    create.add_argument("--vote-change", action="store_true", help="let voters change their vote with their receipt")
    for verb, text in (
        ("close", "close a poll now: count and announce"),
        ("results", "print a poll's result as JSON"),
        ("ballots", "write a closed poll's anonymised ballots as JSON"),
    ):
        action = polls.add_parser(verb, help=text)
        action.add_argument("poll", type=int, metavar="ID")
        if verb == "ballots":
            action.add_argument("--output", type=Path, help="a file (default: standard output)")
            action.add_argument("--format", choices=["json", "blt"], default="json", help="json (default) or blt")

    demo = sub.add_parser("demo", help="synthetic residents").add_subparsers(dest="action", required=True)
    populate = demo.add_parser("populate", help="create N verified demo residents across circles and languages")
    populate.add_argument("--residents", type=int, required=True)
    populate.add_argument("--circle", help="only this circle (id or code)")
    populate.add_argument("--force", action="store_true", help="even if the database holds real residents")


async def run_polls(app: Vecinos, args: argparse.Namespace) -> None:
    """`vecinos polls ...`."""
    await app.open()
    if args.action == "create":
        print(await _create(app, args))
    elif args.action == "close":
        from handlers.poll_ticks import close_now

        result = await close_now(app.services, args.poll)
        if result is None:
            raise CommandError(f"poll {args.poll} is not open (see vecinos polls results {args.poll})")
        print(json.dumps(await _results(app, args.poll), ensure_ascii=False))
    elif args.action == "results":
        print(json.dumps(await _results(app, args.poll), ensure_ascii=False))
    else:
        await write_ballots(app, args.poll, args.output, args.format)


async def _scope(app: Vecinos, text: str) -> PollScope:
    kind, _, ident = text.strip().partition(":")
    if kind == ScopeKind.DISTRICT and not ident:
        return PollScope(ScopeKind.DISTRICT)
    if kind not in (ScopeKind.CIRCLE, ScopeKind.BARRIO, ScopeKind.COUNCIL) or not ident:
        raise CommandError(f"--scope {text!r}: use circle:ID, barrio:ID, council:BARRIO or district")
    async with app.db.unit_of_work() as uow:
        if kind == ScopeKind.CIRCLE:
            place = await (uow.territory.circle(int(ident)) if ident.isdigit() else uow.territory.circle_by_code(ident))
        else:
            place = await (uow.territory.barrio(int(ident)) if ident.isdigit() else uow.territory.barrio_by_code(ident))
    if place is None:
        raise CommandError(f"--scope {text!r}: there is no {'barrio' if kind == ScopeKind.COUNCIL else kind} {ident!r}")
    return PollScope(ScopeKind(kind), place.id)


async def _create(app: Vecinos, args: argparse.Namespace) -> int:
    from handlers.poll_schedule import create_poll

    scope = await _scope(app, args.scope)
    kind = PollKind(args.kind) if args.kind else (PollKind.SINGLE if args.option else PollKind.YESNO)
    if kind is PollKind.YESNO and args.option:
        raise CommandError("--kind yesno takes no --option (its options are yes, no and abstain)")
    now = app.services.clock()
    if args.closes_at:
        try:
            closes = datetime.fromisoformat(args.closes_at)
        except ValueError:
            raise CommandError(f"--closes-at {args.closes_at!r} is not an ISO 8601 date and time") from None
        if closes.tzinfo is None:
            raise CommandError("--closes-at needs a time zone, e.g. 2026-12-20T20:00+01:00 or ...Z")
    else:
        duration = parse_duration(args.closes_in or "3d")
        if duration is None:
            raise CommandError(f"--closes-in {args.closes_in!r}: use a number and m, h, d or w, e.g. 2h")
        closes = now + duration
    terms = PollTerms(
        kind=kind,
        question=args.question.strip(),
        options=tuple(o.strip() for o in args.option),
        opens_at=now,
        closes_at=closes,
        max_choices=args.max_choices if kind is PollKind.APPROVAL else None,
        quorum_percent=args.quorum,
        threshold_percent=args.threshold,
        results_visible=args.results_visible,
        vote_change=args.vote_change,
    )
    problems = check_terms(terms, now)
    if problems:
        raise CommandError(PROBLEM_LINES[problems[0]])
    async with app.db.unit_of_work() as uow:
        if await uow.polls.members_of(scope) == 0:
            raise CommandError(f"nobody could vote: {scope.key} has no verified members")
        poll = await create_poll(uow, app.catalogs, terms, scope, now, app.services.polls, created_by=None)
        await uow.commit()
        return poll.id


async def _results(app: Vecinos, poll_id: int) -> dict[str, Any]:
    from handlers.poll_cards import load_card
    from handlers.poll_schedule import count_poll

    async with app.db.unit_of_work() as uow:
        poll = await uow.polls.get(poll_id)
        if poll is None:
            raise CommandError(f"there is no poll {poll_id}")
        voted = await uow.ballots.turnout(poll_id)
        status = "closed" if poll.status in (PollStatus.COUNTED, PollStatus.CLOSED) else "open"
        result = poll.result
        if result is None and poll.results_visible and poll.status == PollStatus.OPEN:
            result, _document = await count_poll(uow, poll, await load_card(uow, poll))
        eligible, quorum, sha = poll.eligible_count, poll.quorum_percent, poll.published_sha256
    report: dict[str, Any] = {
        "poll": poll_id,
        "status": status,
        "eligible": eligible,
        "voted": voted,
        "quorum_met": result["quorum_met"] if result else quorum_met(voted, eligible, quorum),
        "results": result["results"] if result else [],
        "winners": result["winners"] if result and status == "closed" else [],
    }
    if result:
        report["rounds"] = result["rounds"]
        report["tie_break_order"] = result["tie_break_order"]
    if sha:
        report["ballots_sha256"] = sha
    return report


async def write_ballots(app: Vecinos, poll_id: int, output: Path | None, form: str = "json") -> None:
    """A closed poll's anonymised ballots (the document its result publishes), to a file or standard output."""
    from bot.domain.ballot_files import to_blt
    from bot.domain.ballots import canonical_json
    from handlers.poll_schedule import published_ballots

    async with app.db.unit_of_work() as uow:
        poll = await uow.polls.get(poll_id)
        if poll is None:
            raise CommandError(f"there is no poll {poll_id}")
        if poll.status not in (PollStatus.COUNTED, PollStatus.CLOSED):
            raise CommandError(f"poll {poll_id} is still open: its ballots are published when it closes")
        document = await published_ballots(uow, poll)
        sha = poll.published_sha256
    if document is None:
        raise CommandError(f"poll {poll_id} had fewer than 5 ballots: only its totals are published")
    content = to_blt(document).encode("utf-8") if form == "blt" else canonical_json(document) + b"\n"
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        output.write_bytes(content)
        print(f"wrote {len(document['ballots'])} ballots of poll {poll_id} to {output} (sha256 {sha})")


async def run_demo(app: Vecinos, args: argparse.Namespace) -> None:
    """`vecinos demo populate`."""
    from bot.i18n import SUPPORTED_LOCALES

    if args.residents < 1 or args.residents > 1_000_000:
        raise CommandError("--residents must be between 1 and 1000000")
    await app.open()
    async with app.db.unit_of_work() as uow:
        real = await uow.demo.real_residents()
        if real and not args.force:
            raise CommandError(
                f"this database holds {real} real residents: demo residents would mix with them (add --force)"
            )
        if args.circle:
            circle = await (
                uow.territory.circle(int(args.circle))
                if args.circle.isdigit()
                else uow.territory.circle_by_code(args.circle)
            )
            if circle is None:
                raise CommandError(f"--circle {args.circle!r}: there is no such circle")
            circles = [circle.id]
        else:
            circles = [c.id for c in await uow.territory.circles()]
        first, last = await uow.demo.populate(args.residents, circles, SUPPORTED_LOCALES, app.services.clock())
        await uow.commit()
    print(
        f"created {args.residents} demo residents (Telegram ids {first}-{last}) in {len(circles)} circles, "
        f"languages {', '.join(SUPPORTED_LOCALES)}"
    )
