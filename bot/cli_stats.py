"""`vecinos stats`: a barrio's figures for a period (cases, deadlines, "me too", turnout), as JSON or CSV."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain.stats import CSV_COLUMNS, figures_as_dict, figures_rows
from bot.errors import CommandError

if TYPE_CHECKING:
    from bot.app import Vecinos


def add_stats_command(sub: Any) -> None:
    """Add `stats` to the `vecinos` parser."""
    stats = sub.add_parser("stats", help="a barrio's figures for a period: cases, deadlines, 'me too', turnout")
    stats.add_argument("--barrio", required=True, metavar="ID", help="the barrio's code (e.g. embajadores) or id")
    stats.add_argument("--since", required=True, type=_day, metavar="YYYY-MM-DD",
                       help="first day (the district's time zone), included")  # fmt: skip
    stats.add_argument("--until", type=_day, metavar="YYYY-MM-DD",
                       help="last day (the district's time zone), included (default: up to now)")  # fmt: skip
    stats.add_argument("--format", choices=("json", "csv"), default="json", help="JSON (default) or flat CSV rows")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


async def run_stats(app: Vecinos, args: argparse.Namespace) -> None:
    """Carry out `vecinos stats ...`: print the figures on standard output."""
    from handlers.stats_figures import barrio_figures

    await app.open()
    now = app.services.clock()
    zone = app.settings.zone
    # Days are the district's days (Madrid midnight to midnight); the last one is included: the period ends at
    # the midnight after it (or now, when no day is given).
    since = datetime.combine(args.since, time(), tzinfo=zone).astimezone(UTC)
    until = datetime.combine(args.until + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC) if args.until else now
    if until <= since:
        raise CommandError("--until must not be before --since")
    async with app.db.unit_of_work() as uow:
        barrio = await uow.territory.barrio_by_code(args.barrio)
        if barrio is None and args.barrio.isdigit():
            barrio = await uow.territory.barrio(int(args.barrio))
        if barrio is None:
            raise CommandError(f"no barrio with code {args.barrio!r}")
        figures = await barrio_figures(uow, barrio.id, since, until, now)
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(figures_rows(figures))
    else:
        print(json.dumps(figures_as_dict(figures), ensure_ascii=False, indent=2))
