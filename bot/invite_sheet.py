"""`vecinos invites sheet`: printable invitations, one A4 page per building of a circle with its QR code.

Each building gets an unlimited invitation (as `invites create --building B --unlimited`). Re-printing reuses a
building's newest unlimited invitation while it stays valid for at least REUSE_MIN_DAYS more days, so the sheets
already on the walls keep working and re-printing does not multiply invitations; `--new` always creates fresh
ones. A circle without buildings gets one page with a circle invitation."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import CommandError

if TYPE_CHECKING:
    from bot.app import Vecinos
    from bot.i18n import Translator
    from bot.sheet_pdf import SheetPage

DEFAULT_LANGUAGE = "es"
MAX_LANGUAGES = 4
REUSE_MIN_DAYS = 7
DEFAULT_EXPIRES_DAYS = 180.0


def add_sheet_command(invites: Any) -> None:
    """Add `invites sheet` to the `invites` subcommands."""
    sheet = invites.add_parser("sheet", help="a printable PDF: one page per building with its invitation QR code")
    sheet.add_argument("--circle", required=True, help="circle code (or id), e.g. emb-plaza-lavapies")
    sheet.add_argument("--building", help="only this building (code or id) of the circle")
    sheet.add_argument("--out", type=Path, required=True, metavar="FILE.pdf", help="where to write the PDF")
    sheet.add_argument(
        "--languages",
        help="comma-separated locales in page order, e.g. es,ar,bn,zh_Hans "
        f"(default: the circle's residents' languages, most used first, with Spanish, at most {MAX_LANGUAGES})",
    )
    sheet.add_argument(
        "--expires-days",
        type=float,
        default=DEFAULT_EXPIRES_DAYS,
        help=f"days new invitations stay valid (default {DEFAULT_EXPIRES_DAYS:g})",
    )
    sheet.add_argument(
        "--new",
        action="store_true",
        help=f"always create new invitations (default: reuse one still valid for {REUSE_MIN_DAYS}+ days)",
    )


def sheet_languages(usage: Sequence[tuple[str, int]], printable: Sequence[str]) -> list[str]:
    """The languages of a sheet: those the residents chose, most used first, always with Spanish, at most
    MAX_LANGUAGES (Spanish takes the last place when it is not among the most used)."""
    chosen = [locale for locale, _count in usage if locale in printable][:MAX_LANGUAGES]
    if DEFAULT_LANGUAGE not in chosen:
        chosen = [*chosen[: MAX_LANGUAGES - 1], DEFAULT_LANGUAGE]
    return chosen


def parse_languages(text: str, printable: Sequence[str]) -> list[str]:
    """`--languages es,ar,bn`: known catalogs only, each once, in the given order."""
    wanted = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not wanted:
        raise CommandError("--languages needs at least one locale, e.g. es,ar")
    unknown = [code for code in wanted if code not in printable]
    if unknown:
        raise CommandError(f"--languages: no catalog for {', '.join(unknown)} (have {', '.join(printable)})")
    return wanted


async def run_sheet(app: Vecinos, args: argparse.Namespace) -> None:
    """Find or create the invitations, then write the PDF with a progress bar."""
    from bot.i18n import catalog_locales
    from bot.sheet_pdf import FontMissing, fonts_for

    # fontTools reports every glyph it keeps when it subsets a font, at INFO.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    if args.expires_days <= 0:
        raise CommandError("--expires-days must be positive")
    printable = catalog_locales()
    languages = parse_languages(args.languages, printable) if args.languages else None
    if languages is not None:
        try:
            fonts_for(languages)
        except FontMissing as exc:
            raise CommandError(str(exc)) from None
    pages, languages, created, reused = await _pages(app, args, languages, printable)
    translators = [app.services.catalogs.translator_for_print(code) for code in languages]
    try:
        content = _render_with_progress(pages, translators)
    except FontMissing as exc:
        raise CommandError(str(exc)) from None
    try:
        args.out.write_bytes(content)
    except OSError as exc:
        raise CommandError(f"{args.out}: cannot be written ({exc})") from None
    print(
        f"wrote {len(pages)} pages to {args.out} (languages {', '.join(languages)}; "
        f"{created} new invitations, {reused} reused)"
    )


async def _pages(
    app: Vecinos, args: argparse.Namespace, languages: list[str] | None, printable: Sequence[str]
) -> tuple[list[SheetPage], list[str], int, int]:
    from bot.domain.residents import new_invite_code
    from bot.sheet_pdf import SheetPage

    now = datetime.now(UTC)
    created = reused = 0
    pages: list[SheetPage] = []
    async with app.db.unit_of_work() as uow:
        territory = uow.territory
        circle = await (
            territory.circle(int(args.circle)) if args.circle.isdigit() else territory.circle_by_code(args.circle)
        )
        if circle is None:
            raise CommandError(f"no circle with code {args.circle!r} (see storage/seed/mcd.yaml)")
        barrio = await territory.barrio(circle.barrio_id)
        buildings: list[Any] = await territory.buildings_in_circle(circle.id)
        if args.building:
            buildings = [b for b in buildings if args.building in (b.code, str(b.id))]
            if not buildings:
                raise CommandError(f"no building {args.building!r} in the circle {circle.code}")
        if languages is None:
            languages = sheet_languages(await uow.memberships.languages_in_circle(circle.id), printable)
        for building in buildings or [None]:
            building_id = building.id if building is not None else None
            invite = None
            if not args.new:
                invite = await uow.invites.reusable(circle.id, building_id, now, timedelta(days=REUSE_MIN_DAYS))
            if invite is None:
                invite = await uow.invites.create(
                    new_invite_code(),
                    circle.id,
                    now,
                    building_id=building_id,
                    uses=None,
                    expires_at=now + timedelta(days=args.expires_days),
                )
                created += 1
            else:
                reused += 1
            pages.append(
                SheetPage(
                    circle_name=circle.name,
                    barrio_name=barrio.name if barrio else "",
                    building_address=building.address if building is not None else None,
                    link=f"https://t.me/{app.settings.bot_username}?start={invite.code}",
                    expires_at=invite.expires_at,
                )
            )
        await uow.commit()
    return pages, languages, created, reused


def _render_with_progress(pages: list[SheetPage], translators: list[Translator]) -> bytes:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bot.sheet_pdf import render_sheet

    # On stderr, and only drawn on a terminal: a redirected run prints just its summary line.
    console = Console(stderr=True)
    with Progress(TextColumn("pages"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task("pages", total=len(pages))
        return render_sheet(pages, translators, on_page=lambda: progress.advance(task))
