"""The `vecinos` command: run, chat, fake-telegram, seed, migrate, invites, roles, polls, elections, notices,
meetings, coexistence, stats, demo."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli_coexistence import add_coexistence_commands
from bot.cli_elections import add_election_commands
from bot.cli_meetings import add_meeting_commands
from bot.cli_notices import add_notice_commands
from bot.cli_polls import add_commands as add_poll_commands
from bot.cli_stats import add_stats_command
from bot.cli_tally import add_tally_command, run_tally
from bot.config import ConfigError, Settings, load_settings
from bot.errors import EXIT_TASK_ENDED, CommandError, TaskEnded, cannot_listen
from bot.logs import configure_logging

__all__ = ["CommandError", "build_parser", "main"]

if TYPE_CHECKING:
    from bot.app import Vecinos

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="vecinos", description="Vecinos, the MCD resident-participation bot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot (with no VECINOS_BOT_TOKEN: the local sandbox)")
    run.add_argument(
        "--engine",
        choices=["aiogram", "ptb"],
        default=None,
        help="chat framework: aiogram or ptb (python-telegram-bot); default VECINOS_ENGINE or aiogram",
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook (needs VECINOS_WEBHOOK_URL and VECINOS_WEBHOOK_SECRET)",
    )
    run.add_argument("--no-chat", action="store_true", help="sandbox: do not open the terminal chat")
    run.add_argument("--sandbox-port", type=int, default=8081, help="sandbox: fake Bot API port")
    run.add_argument("--web-port", type=int, default=8082, help="sandbox: web chat page port (0: any free port)")

    fake = sub.add_parser("fake-telegram", help="run the fake Telegram Bot API server")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8081)
    fake.add_argument(
        "--latency",
        type=_latency,
        default=(0.0, 0.0),
        metavar="MIN-MAX",
        help="answer send*/edit* calls after a random delay in this range of milliseconds, e.g. 30-250",
    )
    fake.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep update ids growing across restarts in DIR/fake-telegram.json (e.g. var)",
    )

    chat = sub.add_parser("chat", help="chat with the sandbox bot in this terminal")
    chat.add_argument(
        "--as",
        dest="persona",
        default="resident",
        help="resident, amina, john, delegate, manager, admin, a user id or any name",
    )
    chat.add_argument("--api", default=None, help="fake Bot API URL (default: the running sandbox)")
    chat.add_argument("--token", default=None, help="bot token (default: the running sandbox)")

    seed = sub.add_parser("seed", help="load the district territory (idempotent)")
    seed.add_argument("--file", type=Path, default=None, help="YAML seed file (default: MCD)")

    sub.add_parser("migrate", help="apply database migrations")

    invites = sub.add_parser("invites", help="manage invitations").add_subparsers(dest="action", required=True)
    create = invites.add_parser("create", help="create an invite link for a circle or building")
    create.add_argument("--circle", help="circle code, e.g. emb-plaza-lavapies")
    create.add_argument("--building", help="building code (implies its circle)")
    uses = create.add_mutually_exclusive_group()
    uses.add_argument("--uses", type=int, default=1, help="how many residents may use it (default 1)")
    uses.add_argument("--unlimited", action="store_true", help="any number of uses")
    create.add_argument("--expires-days", type=float, default=30.0, help="days until it expires (default 30)")
    create.add_argument("--count", type=int, default=1, help="how many invites to create")
    from bot.invite_sheet import add_sheet_command  # the PDF libraries it uses load only when it runs

    add_sheet_command(invites)

    roles = sub.add_parser("roles", help="manage roles").add_subparsers(dest="action", required=True)
    role_names = ["delegate", "community_manager", "sectorial_manager", "council_member", "admin"]
    sectors = [
        "community_police",
        "local_police",
        "social_services",
        "environment_cleaning",
        "mediation",
        "community_justice",
    ]
    for verb, text in (
        ("grant", "give a role (also to someone who has not written to the bot yet)"),
        ("revoke", "take a role away"),
    ):
        action = roles.add_parser(verb, help=text)
        action.add_argument("--user", type=int, required=True, help="the person's Telegram user id")
        action.add_argument("--role", required=True, choices=role_names)
        action.add_argument(
            "--place", help="circle code (delegate) or barrio code (managers, council members); none for admin"
        )
        action.add_argument("--sector", choices=sectors, help="sector, for sectorial managers")
    listing = roles.add_parser("list", help="list who holds which role")
    listing.add_argument("--user", type=int, help="only this Telegram user id")
    listing.add_argument("--role", choices=role_names, help="only this role")
    add_poll_commands(sub)
    add_tally_command(sub)
    add_election_commands(sub)
    add_notice_commands(sub)
    add_meeting_commands(sub)
    add_coexistence_commands(sub)
    add_stats_command(sub)
    from bot.cli_admin import add_admin_commands

    add_admin_commands(sub)
    return parser


def _latency(text: str) -> tuple[float, float]:
    from bot.fakeapi.server import parse_latency

    try:
        return parse_latency(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_event_loop(main: Coroutine[Any, Any, int], kind: str) -> int:
    """Run the bot's main coroutine on uvloop (about a third less CPU per message sent than asyncio's own loop,
    which is what lets one process keep up with paid broadcasts' 1000/s), or on asyncio's loop if asked."""
    if kind == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vecinos` console script."""
    args = build_parser().parse_args(argv)
    if args.command != "run":
        gc.enable()  # paused while modules load (bot/__main__.py); `run` turns it back on once it is up
    # Read before the settings: a configuration error must already come out in the chosen format.
    configure_logging(logging.DEBUG if args.verbose else logging.INFO, os.environ.get("VECINOS_LOG_FORMAT"))
    # Framework chatter (every HTTP request, at INFO) drowns what Vecinos says; their warnings still show.
    for chatty in ("aiogram", "apscheduler", "alembic", "httpx", "httpcore", "telegram", "aiohttp.access"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        if args.command == "tally":
            return run_tally(args)
        if args.command == "fake-telegram":
            from bot.fakeapi.server import run_fake_server

            try:
                run_fake_server(args.host, args.port, send_latency_ms=args.latency, state_dir=args.state_dir)
            except OSError as exc:
                raise cannot_listen(args.host, args.port, exc, "pick another one with --port N") from None
            return 0
        overrides: dict[str, object] = {}
        if args.command == "run":
            if args.engine:
                overrides["engine"] = args.engine
            if args.webhook:
                overrides["webhook"] = True
        settings = load_settings(**overrides)
        if args.command == "run":
            return run_event_loop(_dispatch(args, settings), settings.event_loop)
        return asyncio.run(_dispatch(args, settings))
    except ConfigError as exc:
        print(f"vecinos: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"vecinos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TaskEnded as exc:
        # The log already holds the reason with its traceback; this is the one line for whoever started us.
        print(f"vecinos: stopped because {exc}", file=sys.stderr)
        return EXIT_TASK_ENDED
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from bot.sandbox.local import run_bot_or_sandbox

        await run_bot_or_sandbox(settings, no_chat=args.no_chat, sandbox_port=args.sandbox_port, web_port=args.web_port)
        return 0
    if args.command == "chat":
        from bot.sandbox.local import chat_as

        await chat_as(args.persona, args.api, args.token)
        return 0
    from bot.app import Vecinos  # imported late: a configuration error should not wait for aiogram

    app = Vecinos.build(settings)
    try:
        if args.command == "migrate":
            await app.db.migrate()
            print("database is up to date")
        elif args.command == "seed":
            await _seed(app, args.file)
        elif args.command == "invites" and args.action == "sheet":
            from bot.invite_sheet import run_sheet

            await app.open()
            await run_sheet(app, args)
        elif args.command == "invites":
            await app.open()
            await _create_invites(app, args)
        elif args.command in ("territory", "export", "backup"):
            from bot.cli_admin import run_admin

            await run_admin(app, args)
        elif args.command == "roles":
            await app.open()
            if args.action == "list":
                await _list_roles(app, args)
            else:
                await _change_role(app, args)
        elif args.command == "polls":
            from bot.cli_polls import run_polls

            await run_polls(app, args)
        elif args.command == "elections":
            from bot.cli_elections import run_elections

            await run_elections(app, args)
        elif args.command == "bodies":
            from bot.cli_elections import run_bodies

            await run_bodies(app, args)
        elif args.command == "notices":
            from bot.cli_notices import run_notices

            await run_notices(app, args)
        elif args.command == "meetings":
            from bot.cli_meetings import run_meetings

            await run_meetings(app, args)
        elif args.command == "coexistence":
            from bot.cli_coexistence import run_coexistence

            await run_coexistence(app, args)
        elif args.command == "stats":
            from bot.cli_stats import run_stats

            await run_stats(app, args)
        elif args.command == "demo":
            from bot.cli_polls import run_demo

            await run_demo(app, args)
    finally:
        await app.db.dispose()
    return 0


async def _seed(app: Vecinos, path: Path | None) -> None:
    from storage.seed import DEFAULT_SEED, SeedError, read_seed, seed_territory

    await app.db.migrate()
    try:
        data = read_seed(path or DEFAULT_SEED)
    except SeedError as exc:
        raise CommandError(str(exc)) from None
    async with app.db.unit_of_work() as uow:
        counts = await seed_territory(uow, data)
        await uow.commit()
    print(
        f"territory loaded: {counts['districts']} districts, {counts['barrios']} barrios, "
        f"{counts['circles']} circles, {counts['buildings']} buildings"
    )


async def _create_invites(app: Vecinos, args: argparse.Namespace) -> None:
    from bot.domain.residents import new_invite_code

    if bool(args.circle) == bool(args.building):
        raise CommandError("give exactly one of --circle or --building")
    if args.count < 1 or (not args.unlimited and args.uses < 1) or args.expires_days <= 0:
        raise CommandError("--count and --uses must be at least 1 and --expires-days positive")
    now = datetime.now(UTC)
    async with app.db.unit_of_work() as uow:
        building = await uow.territory.building_by_code(args.building) if args.building else None
        if args.building and building is None:
            raise CommandError(f"no building with code {args.building!r}")
        circle_id = building.circle_id if building else None
        if args.circle:
            circle = await uow.territory.circle_by_code(args.circle)
            if circle is None:
                raise CommandError(f"no circle with code {args.circle!r} (see storage/seed/mcd.yaml)")
            circle_id = circle.id
        assert circle_id is not None
        for _ in range(args.count):
            invite = await uow.invites.create(
                new_invite_code(),
                circle_id,
                now,
                building_id=building.id if building else None,
                uses=None if args.unlimited else args.uses,
                expires_at=now + timedelta(days=args.expires_days),
            )
            print(f"https://t.me/{app.settings.bot_username}?start={invite.code}")
        await uow.commit()


async def _change_role(app: Vecinos, args: argparse.Namespace) -> None:
    """`roles grant` and `roles revoke`."""
    from bot.domain.identifiers import parse_user_id
    from bot.domain.permissions import ROLE_SCOPE, Grant, Role, ScopeKind, Sector, grant_is_well_formed

    role = Role(args.role)
    scope = ROLE_SCOPE[role]
    if parse_user_id(str(args.user)) is None:
        raise CommandError(f"--user {args.user} is not a Telegram user id (a positive number)")
    sector = Sector(args.sector) if args.sector else None
    if (role is Role.SECTORIAL_MANAGER) != (sector is not None):
        raise CommandError(
            "sectorial managers need --sector" if sector is None else "--sector is only for sectorial managers"
        )
    async with app.db.unit_of_work() as uow:
        scope_id, where = None, "the whole district"
        if scope is ScopeKind.DISTRICT:
            if args.place and args.place.lower() != "district":
                raise CommandError(f"{role.value} holds the whole district: leave out --place (or give district)")
        else:
            place = (
                await uow.territory.circle_by_code(args.place or "")
                if scope is ScopeKind.CIRCLE
                else await uow.territory.barrio_by_code(args.place or "")
            )
            if place is None:
                raise CommandError(f"--place must be a {scope.value} code for the role {role.value}")
            scope_id, where = place.id, place.name
        grant = Grant(role, scope, scope_id, sector)
        assert grant_is_well_formed(grant)
        label = role.value + (f" ({sector.value})" if sector else "") + f" of {where}"
        resident = await uow.residents.by_telegram_id(args.user)
        holder = {"resident_id": resident.id} if resident else {"telegram_user_id": args.user}
        who = f"{resident.first_name} ({args.user})" if resident else f"user {args.user}"
        if args.action == "grant":
            changed = await uow.roles.grant(grant, datetime.now(UTC), **holder)
            if not changed:
                message = f"{who} already has the role {label}"
            elif resident is None:
                message = (
                    f"granted {label} to {who}, who has not written to the bot yet: "
                    "the role is theirs from their first /start"
                )
            else:
                message = f"granted {label} to {who}"
        else:
            changed = await uow.roles.revoke(grant, **holder)
            message = f"revoked {label} from {who}" if changed else f"{who} does not have the role {label}"
        await uow.commit()
    print(message)


async def _list_roles(app: Vecinos, args: argparse.Namespace) -> None:
    """`roles list`: one line per grant."""
    async with app.db.unit_of_work() as uow:
        holders = await uow.roles.holders()
        lines = []
        for holder in holders:
            grant = holder.grant
            if (args.user and holder.telegram_user_id != args.user) or (args.role and grant.role != args.role):
                continue
            if grant.scope_id is None:
                where = "district"
            elif grant.scope == "circle":
                circle = await uow.territory.circle(grant.scope_id)
                where = circle.code if circle else str(grant.scope_id)
            else:
                barrio = await uow.territory.barrio(grant.scope_id)
                where = barrio.code if barrio else str(grant.scope_id)
            name = holder.first_name or "(has not written to the bot yet)"
            sector = f" {grant.sector.value}" if grant.sector else ""
            lines.append((grant.role.value, where, holder.telegram_user_id, f"{name}\t{grant.role.value}{sector}"))
    rows = [f"{user_id}\t{rest}\t{where}" for _role, where, user_id, rest in sorted(lines)]
    print("\n".join(rows) if rows else "nobody holds a role yet")


if __name__ == "__main__":
    raise SystemExit(main())
