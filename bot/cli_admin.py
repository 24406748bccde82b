"""`vecinos territory import`, `vecinos export cases|open311|ballots` and `vecinos backup`: an office's
administration, with progress bars on work that can be long (on standard error, drawn only on a terminal)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import CommandError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.app import Vecinos

EXPORT_BATCH = 500
CASE_COLUMNS = (
    "ref",
    "barrio",
    "circle",
    "category",
    "sector",
    "status",
    "open311_status",
    "source",
    "supporters",
    "created_at",
    "updated_at",
    "acknowledge_by",
    "resolve_by",
    "resolved_at",
)


def add_admin_commands(sub: Any) -> None:
    """Add `territory`, `export` and `backup` to the `vecinos` parser."""
    territory = sub.add_parser("territory", help="load the district's territory").add_subparsers(
        dest="action", required=True
    )
    load = territory.add_parser("import", help="load barrios, circles and buildings from YAML or CSV (idempotent)")
    load.add_argument("file", type=Path, metavar="FILE", help="a .yaml seed or a .csv with one row per building")

    export = sub.add_parser("export", help="write cases, Open311 requests or anonymised ballots to a file")
    kinds = export.add_subparsers(dest="kind", required=True)
    cases = kinds.add_parser("cases", help="every case as CSV (no reporter, no text)")
    cases.add_argument("--out", type=Path, required=True, metavar="FILE.csv")
    cases.add_argument("--barrio", help="only this barrio (code)")
    cases.add_argument("--since", help="only cases opened on or after this day (YYYY-MM-DD) or moment (ISO 8601)")
    requests = kinds.add_parser("open311", help="every case as Open311 GeoReport v2 requests (JSON)")
    requests.add_argument("--out", type=Path, required=True, metavar="FILE.json")
    requests.add_argument("--since", help="only cases opened on or after this day or moment")
    ballots = kinds.add_parser("ballots", help="a closed poll's or election's anonymised ballots")
    which = ballots.add_mutually_exclusive_group(required=True)
    which.add_argument("--poll", type=int, metavar="ID")
    which.add_argument("--election", type=int, metavar="ID")
    ballots.add_argument("--out", type=Path, required=True, metavar="FILE")
    ballots.add_argument("--format", choices=["json", "blt"], default="json", help="json (default) or blt")

    backup = sub.add_parser("backup", help="copy the SQLite database safely while the bot runs")
    backup.add_argument("file", type=Path, metavar="FILE", help="where to write the copy")


async def run_admin(app: Vecinos, args: argparse.Namespace) -> None:
    """Run one of the administration commands."""
    if args.command == "backup":
        await _backup(app, args.file)
        return
    if args.command == "territory":
        # Only the schema: on an empty database, this file is the territory, not the bundled MCD seed.
        await app.db.migrate()
        await _import_territory(app, args.file)
        return
    await app.open()
    if args.kind == "cases":
        await _export_cases(app, args.out, args.barrio, _since(args.since))
    elif args.kind == "open311":
        await _export_open311(app, args.out, _since(args.since))
    else:
        await _export_ballots(app, args)


def parse_since(text: str) -> datetime:
    """`--since`: a day (from its midnight, UTC) or an ISO 8601 moment (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--since {text!r}: give a day (2026-01-31) or a moment (2026-01-31T08:00+01:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _since(text: str | None) -> datetime | None:
    return parse_since(text) if text else None


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error; yields `advance(n)`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise CommandError(f"{path}: cannot be written ({exc})") from None


async def _import_territory(app: Vecinos, path: Path) -> None:
    from storage.seed import SeedError, circle_count, read_seed, seed_territory, with_default_categories

    try:
        data = read_seed(path)
    except SeedError as exc:
        raise CommandError(str(exc)) from None
    with progress_bar("circles", circle_count(data)) as advance:
        async with app.db.unit_of_work() as uow:
            if not await uow.cases.categories():
                data = with_default_categories(data)
            counts = await seed_territory(uow, data, on_circle=lambda: advance(1))
            await uow.commit()
    buildings = sum(len(c.get("buildings", [])) for b in data["barrios"] for c in b.get("circles", []))
    print(
        f"territory loaded from {path}: {len(data['barrios'])} barrios, {circle_count(data)} circles, "
        f"{buildings} buildings; the database holds {counts['districts']} districts, {counts['barrios']} barrios, "
        f"{counts['circles']} circles, {counts['buildings']} buildings"
    )


async def _export_cases(app: Vecinos, out: Path, barrio_code: str | None, since: datetime | None) -> None:
    import io

    from bot.domain.reports import CaseStatus, open311_status
    from handlers.open311 import w3

    async with app.db.unit_of_work() as uow:
        barrio = await uow.territory.barrio_by_code(barrio_code) if barrio_code else None
        if barrio_code and barrio is None:
            raise CommandError(f"--barrio {barrio_code!r}: no barrio with that code")
        barrio_id = barrio.id if barrio else None
        total = await uow.cases.export_count(barrio_id=barrio_id, since=since)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CASE_COLUMNS)
    after = 0
    with progress_bar("cases", total) as advance:
        while True:
            async with app.db.unit_of_work() as uow:
                cases = list(await uow.cases.export_batch(after, EXPORT_BATCH, barrio_id=barrio_id, since=since))
                if not cases:
                    break
                for case in cases:
                    case_barrio = await uow.territory.barrio(case.barrio_id)
                    circle = await uow.territory.circle(case.circle_id) if case.circle_id else None
                    writer.writerow(
                        (
                            case.ref,
                            case_barrio.code if case_barrio else "",
                            circle.code if circle else "",
                            case.category,
                            case.sector or "",
                            case.status,
                            open311_status(CaseStatus(case.status)),
                            case.source,
                            case.supporters,
                            *(w3(m) or "" for m in (case.created_at, case.updated_at, case.acknowledge_by)),
                            *(w3(m) or "" for m in (case.resolve_by, case.resolved_at)),
                        )
                    )
                # Read before the unit of work ends: its rollback expires the rows.
                after = cases[-1].id
            advance(len(cases))
    _write(out, buffer.getvalue().encode("utf-8"))
    print(f"wrote {total} cases to {out}")


async def _export_open311(app: Vecinos, out: Path, since: datetime | None) -> None:
    from handlers.open311 import export_requests

    async with app.db.unit_of_work() as uow:
        total = await uow.cases.export_count(since=since)
    with progress_bar("requests", total) as advance:
        requests = await export_requests(app.services, since=since, batch=EXPORT_BATCH, on_batch=advance)
    _write(out, (json.dumps(requests, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    print(f"wrote {len(requests)} Open311 requests to {out}")


async def _export_ballots(app: Vecinos, args: argparse.Namespace) -> None:
    from bot.cli_polls import write_ballots

    poll_id = args.poll
    if args.election is not None:
        async with app.db.unit_of_work() as uow:
            election = await uow.elections.get(args.election)
            if election is None:
                raise CommandError(f"there is no election {args.election}")
            if election.poll_id is None:
                raise CommandError(f"election {args.election} has not been voted yet: it has no ballots")
            poll_id = election.poll_id
    await write_ballots(app, poll_id, args.out, args.format)


async def _backup(app: Vecinos, target: Path) -> None:
    from storage.backup import backup_sqlite, pg_dump_command, sqlite_file

    source = sqlite_file(app.settings.database_url)
    if source is None:
        command, has_password = pg_dump_command(app.settings.database_url, target)
        password = " (its password from ~/.pgpass or PGPASSWORD, never on the command line)" if has_password else ""
        raise CommandError(
            f"the database is PostgreSQL: back it up with pg_dump{password}, restore with pg_restore: {command}"
        )
    if target.resolve() == source.resolve():
        raise CommandError(f"{target} is the database itself: give another file")
    with progress_bar("pages", None) as advance:
        done = 0

        def step(copied: int, _total: int) -> None:
            nonlocal done
            advance(copied - done)
            done = copied

        try:
            pages = await asyncio.to_thread(backup_sqlite, source, target, step)
        except OSError as exc:
            raise CommandError(f"backup failed: {exc}") from None
    print(f"backed up {source} to {target} ({pages} pages, {target.stat().st_size} bytes)")
