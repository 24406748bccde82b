"""`vecinos coexistence`: the anonymous outcome counts of mediation, support and community courts (for the
managers' digests), and the open cases' states and dates. Never a name, never what anyone said."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, Any

from bot.errors import CommandError

if TYPE_CHECKING:
    from bot.app import Vecinos


def add_coexistence_commands(sub: Any) -> None:
    """Add `coexistence` to the `vecinos` parser."""
    coexistence = sub.add_parser("coexistence", help="mediation, support and court: outcome counts, open states")
    actions = coexistence.add_subparsers(dest="action", required=True)
    stats = actions.add_parser("stats", help="closed cases by barrio, kind and outcome (no names)")
    stats.add_argument("--barrio", help="a barrio code (default: every barrio)")
    stats.add_argument("--since", help="from this month on, YYYY-MM")
    stats.add_argument("--format", choices=("json", "csv"), default="json")
    states = actions.add_parser("open", help="open cases: reference, kind, barrio, state and dates only")
    states.add_argument("--barrio", help="a barrio code (default: every barrio)")


async def run_coexistence(app: Vecinos, args: argparse.Namespace) -> None:
    """Carry out `vecinos coexistence ...`."""
    await app.open()
    async with app.db.unit_of_work() as uow:
        barrio_id = None
        if args.barrio:
            barrio = await uow.territory.barrio_by_code(args.barrio)
            if barrio is None:
                raise CommandError(f"no barrio with code {args.barrio!r}")
            barrio_id = barrio.id
        codes = {b.id: b.code for b in await uow.territory.barrios()}
        if args.action == "stats":
            since = args.since
            if since is not None and not (len(since) == 7 and since[4] == "-" and since.replace("-", "").isdigit()):
                raise CommandError("--since takes a month as YYYY-MM")
            from handlers.coexistence_stats import outcome_statistics

            rows = await outcome_statistics(uow, barrio_id, since)
            if args.format == "csv":
                writer = csv.DictWriter(sys.stdout, fieldnames=["barrio", "kind", "outcome", "count"])
                writer.writeheader()
                writer.writerows(rows)
            else:
                print(json.dumps(rows, indent=2))
            return
        cases = await uow.coexistence.in_barrios([barrio_id] if barrio_id else None, limit=10_000)
        print(json.dumps([
            {"ref": c.ref, "kind": c.kind, "barrio": codes.get(c.barrio_id), "status": c.status,
             "opened_at": c.opened_at.isoformat(), "updated_at": c.updated_at.isoformat()}
            for c in cases
        ], indent=2))  # fmt: skip
