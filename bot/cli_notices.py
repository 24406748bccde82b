"""`vecinos notices`: queue a notice from an office computer, follow its delivery live, print its report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain.notices import ROLE_AUDIENCES, TEXT_MAX, NoticeKind, NoticeScope, NoticeScopeKind
from bot.domain.text import clean_long_text
from bot.errors import CommandError
from bot.i18n import SUPPORTED_LOCALES

if TYPE_CHECKING:
    from bot.app import Vecinos
    from storage.notices import Progress


def add_notice_commands(sub: Any) -> None:
    """Add `notices` to the `vecinos` parser."""
    notices = sub.add_parser("notices", help="send notices to the district, a barrio, a circle or a role")
    actions = notices.add_subparsers(dest="action", required=True)
    send = actions.add_parser("send", help="queue a notice as the district's office; prints its id")
    send.add_argument(
        "--scope",
        required=True,
        help="district, barrio:ID, circle:ID, or role:NAME[:BARRIO] (NAME: " + ", ".join(ROLE_AUDIENCES) + ")",
    )
    send.add_argument("--text", required=True, type=Path, metavar="FILE", help="the original text (- for stdin)")
    send.add_argument("--language", default=None, choices=SUPPORTED_LOCALES,
                      help="the original's language (default VECINOS_DEFAULT_LANGUAGE)")  # fmt: skip
    for code in SUPPORTED_LOCALES:
        send.add_argument(f"--text-{code}", type=Path, metavar="FILE", help=f"the version in {code}")
    send.add_argument("--urgent", action="store_true", help="safety: ignores quiet hours and mutes")
    send.add_argument("--at", help="ISO 8601 date and time to send it (default now)")
    send.add_argument("--photo", help="a Telegram file id of a photo to attach")
    send.add_argument("--document", help="a Telegram file id of a document to attach")
    send.add_argument("--author", type=int, help="the Telegram user id it is sent for (they get the report)")
    follow = actions.add_parser("follow", help="a live progress bar until everything that can go out has gone")
    follow.add_argument("notice", type=int, metavar="ID")
    follow.add_argument("--json", action="store_true", help="no bar: print the final figures as JSON")
    follow.add_argument("--interval", type=float, default=0.5, help="seconds between readings")
    report = actions.add_parser("report", help="print a notice's delivery figures as JSON")
    report.add_argument("notice", type=int, metavar="ID")


async def run_notices(app: Vecinos, args: argparse.Namespace) -> None:
    """Carry out `vecinos notices ...`."""
    await app.open()
    if args.action == "send":
        notice_id, recipients, seconds = await send_notice(app, args)
        print(notice_id)
        if recipients is not None:
            print(f"notice {notice_id}: {recipients} recipients queued in {seconds:.2f} s", file=sys.stderr)
        else:
            print(f"notice {notice_id}: scheduled", file=sys.stderr)
    elif args.action == "report":
        print(json.dumps(await _figures(app, args.notice), ensure_ascii=False))
    else:
        await _follow(app, args.notice, as_json=args.json, interval=args.interval)


def _read(path: Path, flag: str) -> str:
    try:
        raw = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{flag} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{flag} {path}: not UTF-8 text") from None
    cleaned = clean_long_text(raw, TEXT_MAX)
    if cleaned.problem == "empty":
        raise CommandError(f"{flag} {path}: the file is empty")
    if cleaned.problem == "too_long":
        raise CommandError(f"{flag} {path}: {len(raw)} characters; a notice has at most {TEXT_MAX}")
    return cleaned.text


async def _scope(app: Vecinos, text: str) -> NoticeScope:
    kind, _, rest = text.strip().partition(":")
    usage = "use district, barrio:ID, circle:ID or role:NAME[:BARRIO]"
    if kind == NoticeScopeKind.DISTRICT and not rest:
        return NoticeScope(NoticeScopeKind.DISTRICT)
    async with app.db.unit_of_work() as uow:
        if kind == NoticeScopeKind.ROLE:
            name, _, barrio_ident = rest.partition(":")
            if name not in ROLE_AUDIENCES:
                raise CommandError(f"--scope {text!r}: no role {name!r} (one of {', '.join(ROLE_AUDIENCES)})")
            if not barrio_ident:
                return NoticeScope(NoticeScopeKind.ROLE, None, name)
            barrio = await (
                uow.territory.barrio(int(barrio_ident))
                if barrio_ident.isdigit()
                else uow.territory.barrio_by_code(barrio_ident)
            )
            if barrio is None:
                raise CommandError(f"--scope {text!r}: there is no barrio {barrio_ident!r}")
            return NoticeScope(NoticeScopeKind.ROLE, barrio.id, name)
        if kind not in (NoticeScopeKind.BARRIO, NoticeScopeKind.CIRCLE) or not rest:
            raise CommandError(f"--scope {text!r}: {usage}")
        if kind == NoticeScopeKind.CIRCLE:
            place = await (uow.territory.circle(int(rest)) if rest.isdigit() else uow.territory.circle_by_code(rest))
        else:
            place = await (uow.territory.barrio(int(rest)) if rest.isdigit() else uow.territory.barrio_by_code(rest))
    if place is None:
        raise CommandError(f"--scope {text!r}: there is no {kind} {rest!r}")
    return NoticeScope(NoticeScopeKind(kind), place.id)


async def send_notice(app: Vecinos, args: argparse.Namespace) -> tuple[int, int | None, float]:
    """Store a notice and queue its deliveries now (or schedule it): its id, how many recipients (None when
    scheduled) and the seconds queuing took."""
    from handlers.notice_delivery import queue_notice

    if args.photo and args.document:
        raise CommandError("--photo and --document: a notice carries one attachment")
    scope = await _scope(app, args.scope)
    original = args.language or app.settings.default_language
    texts = {original: _read(args.text, "--text")}
    for code in SUPPORTED_LOCALES:
        path = getattr(args, f"text_{code}", None)
        if path is not None:
            if code == original:
                raise CommandError(f"--text-{code}: {code} is the original's language; give it with --text")
            texts[code] = _read(path, f"--text-{code}")
    now = app.services.clock()
    at = now
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise CommandError(f"--at {args.at!r} is not an ISO 8601 date and time") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=app.settings.zone)
        at = at.astimezone(UTC)
        if at < now:
            raise CommandError(f"--at {args.at!r} has already passed")
    began = time.perf_counter()
    made = await _machine_translations(app, scope, texts, original) if at <= now else {}
    async with app.db.unit_of_work() as uow:
        author_id = None
        if args.author is not None:
            author = await uow.residents.by_telegram_id(args.author)
            if author is None:
                raise CommandError(f"--author {args.author}: nobody with that Telegram id has written to the bot")
            author_id = author.id
        media_kind = "photo" if args.photo else "document" if args.document else None
        notice = await uow.notices.create(
            author_id=author_id,
            kind=NoticeKind.OFFICIAL.value,
            scope_kind=scope.kind.value,
            scope_id=scope.id,
            role=scope.role,
            texts=texts,
            original_locale=original,
            urgent=bool(args.urgent),
            media_kind=media_kind,
            media_file_id=args.photo or args.document,
            status="scheduled",
            send_at=at,
            created_at=now,
        )
        recipients = None
        await uow.translations.keep(texts[original], original, made, now)
        if at <= now:
            recipients = await queue_notice(uow, app.services.notices, app.settings.zone, notice, now)
        await uow.commit()
        notice_id = notice.id
    return notice_id, recipients, time.perf_counter() - began


async def _machine_translations(
    app: Vecinos, scope: NoticeScope, texts: dict[str, str], original: str
) -> dict[str, str]:
    """With a machine translator set: the original in each language its audience reads and no version covers
    (none cached yet), as far as the translator manages within its timeout; outside any transaction."""
    translator = app.services.machine_translator
    if translator is None:
        return {}
    from handlers.notice_delivery import languages_to_translate

    async with app.db.unit_of_work() as uow:
        _audience, wanted = await languages_to_translate(uow, scope, texts, original, besides=None)
    if not wanted:
        return {}
    try:
        made = await translator.translate_many(texts[original], original, wanted)
    finally:
        close = getattr(translator, "close", None)
        if close is not None:
            await close()
    if len(made) < len(wanted):
        print(f"machine translation: {len(wanted) - len(made)} languages get the original", file=sys.stderr)
    return made


async def _figures(app: Vecinos, notice_id: int) -> dict[str, Any]:
    """A notice's delivery figures now (without counts while it is still scheduled)."""
    async with app.db.unit_of_work() as uow:
        notice = await uow.notices.get(notice_id)
        if notice is None:
            raise CommandError(f"there is no notice {notice_id}")
        figures: dict[str, Any] = {"notice": notice.id, "status": notice.status, "send_at": notice.send_at.isoformat()}
        if notice.status == "scheduled":
            return figures
        progress: Progress = await uow.notices.progress(notice_id, app.services.clock())
    return {
        **figures,
        "recipients": progress.total,
        "sent": progress.sent,
        "unreachable": progress.unreachable,
        "muted": progress.muted,
        "in_weekly_digest": progress.digest,
        "failed": progress.failed,
        "waiting_for_quiet_hours": progress.waiting,
        "still_going_out": progress.due,
        "by_language": progress.by_locale,
    }


async def _follow(app: Vecinos, notice_id: int, *, as_json: bool, interval: float) -> None:
    """Read the notice's progress every `interval` seconds until nothing due is left to send."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=as_json)
    figures = await _figures(app, notice_id)
    columns = (
        TextColumn("[bold]notice {task.fields[id]}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[details]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=as_json) as bar:
        task = bar.add_task("sending", total=None, id=notice_id, details="")
        while True:
            if "recipients" not in figures:
                bar.update(task, details=f"scheduled for {figures['send_at']}")
            else:
                details = (
                    f"sent {figures['sent']} · waiting {figures['waiting_for_quiet_hours']} · muted "
                    f"{figures['muted']} · unreachable {figures['unreachable']} · failed {figures['failed']}"
                )
                done = figures["recipients"] - figures["still_going_out"]
                bar.update(task, total=figures["recipients"], completed=done, details=details)
                if figures["still_going_out"] == 0:
                    break
            await asyncio.sleep(interval)
            figures = await _figures(app, notice_id)
    if as_json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    console.print(
        f"notice {notice_id}: {figures['sent']} sent, {figures['unreachable']} unreachable, {figures['muted']} muted, "
        f"{figures['waiting_for_quiet_hours']} waiting for quiet hours, {figures['failed']} failed"
    )
    for locale, counts in sorted(figures["by_language"].items()):
        console.print(f"  {locale}: {counts.get('sent', 0)} sent of {sum(counts.values())}")
