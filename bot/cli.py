"""The `vecinos` command: run, chat, fake-telegram, seed, migrate, invites, roles."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.errors import CommandError, cannot_listen

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

    roles = sub.add_parser("roles", help="manage roles").add_subparsers(dest="action", required=True)
    grant = roles.add_parser("grant", help="grant a role to a registered resident")
    grant.add_argument("--user", type=int, required=True, help="the resident's Telegram user id")
    grant.add_argument(
        "--role",
        required=True,
        choices=["delegate", "community_manager", "sectorial_manager", "council_member", "admin"],
    )
    grant.add_argument("--place", help="circle code (delegate) or barrio code (managers, council members)")
    grant.add_argument("--sector", help="sector, for sectorial managers")
    return parser


def _latency(text: str) -> tuple[float, float]:
    from bot.fakeapi.server import parse_latency

    try:
        return parse_latency(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vecinos` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
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
        return asyncio.run(_dispatch(args, settings))
    except ConfigError as exc:
        print(f"vecinos: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"vecinos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from bot.sandbox.local import run_bot_or_sandbox

        await run_bot_or_sandbox(settings, no_chat=args.no_chat, sandbox_port=args.sandbox_port)
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
        elif args.command == "invites":
            await app.open()
            await _create_invites(app, args)
        elif args.command == "roles":
            await app.open()
            await _grant(app, args)
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
    from storage.models import Building, Circle

    if bool(args.circle) == bool(args.building):
        raise CommandError("give exactly one of --circle or --building")
    if args.count < 1 or (not args.unlimited and args.uses < 1) or args.expires_days <= 0:
        raise CommandError("--count and --uses must be at least 1 and --expires-days positive")
    now = datetime.now(UTC)
    async with app.db.unit_of_work() as uow:
        building = await uow.territory.by_code(Building, args.building) if args.building else None
        if args.building and building is None:
            raise CommandError(f"no building with code {args.building!r}")
        circle_id = building.circle_id if building else None
        if args.circle:
            circle = await uow.territory.by_code(Circle, args.circle)
            if circle is None:
                raise CommandError(f"no circle with code {args.circle!r} (see storage/seed/mcd.yaml)")
            circle_id = circle.id
        uses = None if args.unlimited else args.uses
        for _ in range(args.count):
            invite = await uow.invites.create(
                code=new_invite_code(),
                circle_id=circle_id,
                building_id=building.id if building else None,
                uses_left=uses,
                max_uses=uses,
                expires_at=now + timedelta(days=args.expires_days),
                created_at=now,
            )
            print(f"https://t.me/{app.settings.bot_username}?start={invite.code}")
        await uow.commit()


async def _grant(app: Vecinos, args: argparse.Namespace) -> None:
    from bot.domain.permissions import ROLE_SCOPE, Grant, Role, ScopeKind, Sector, grant_is_well_formed
    from storage.models import Barrio, Circle

    role = Role(args.role)
    scope = ROLE_SCOPE[role]
    try:
        sector = Sector(args.sector) if args.sector else None
    except ValueError:
        raise CommandError(f"unknown sector {args.sector!r}; one of {', '.join(Sector)}") from None
    async with app.db.unit_of_work() as uow:
        scope_id = None
        if scope is not ScopeKind.DISTRICT:
            model = Circle if scope is ScopeKind.CIRCLE else Barrio
            place = await uow.territory.by_code(model, args.place or "")
            if place is None:
                raise CommandError(f"--place must be a {scope.value} code for the role {role.value}")
            scope_id = place.id
        grant = Grant(role, scope, scope_id, sector)
        if not grant_is_well_formed(grant):
            raise CommandError("sectorial managers need --sector; other roles take none")
        resident = await uow.residents.by_telegram_id(args.user)
        if resident is None:
            raise CommandError(f"user {args.user} is not registered: they must send /start to the bot first")
        created = await uow.roles.grant(resident.id, grant, None, datetime.now(UTC))
        await uow.commit()
    print(("granted " if created else "already had ") + f"{role.value} to {resident.first_name} ({args.user})")


if __name__ == "__main__":
    raise SystemExit(main())
