"""Local mode: with no bot token, run the fake Bot API server, the bot against it, and a terminal chat."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.app import Vecinos, install_signal_handlers
from bot.config import Settings
from bot.domain.permissions import Grant, Role, ScopeKind, Sector
from bot.errors import CommandError, cannot_listen

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "123456:SANDBOX-local"
VAR = Path("var")
STATE_FILE = VAR / "sandbox.json"
DEMO_CIRCLE = "emb-plaza-lavapies"
# Verified neighbours of the demo circle (`vecinos demo populate`), so counts, polls and charts have people.
DEMO_NEIGHBOURS = 12
# Demo staff so a newcomer can approve requests from a second terminal.
DEMO_STAFF = (
    ("manager", Role.COMMUNITY_MANAGER),
    ("delegate", Role.DELEGATE),
    ("admin", Role.ADMIN),
    ("police", Role.SECTORIAL_MANAGER),
    ("cleaning", Role.SECTORIAL_MANAGER),
    ("mediator", Role.SECTORIAL_MANAGER),
)
# The sectors of the demo's sectorial managers, in Embajadores (the demo circle's barrio).
DEMO_SECTORS = {
    "police": Sector.COMMUNITY_POLICE,
    "cleaning": Sector.ENVIRONMENT_CLEANING,
    "mediator": Sector.MEDIATION,
}


async def run_bot_or_sandbox(
    settings: Settings, *, no_chat: bool = False, sandbox_port: int = 8081, web_port: int = 8082
) -> None:
    """`vecinos run`: the real bot when a token is set, else the local sandbox."""
    stop = asyncio.Event()
    install_signal_handlers(stop)
    app = Vecinos.build(settings)
    if settings.token:
        await app.run(settings.token, settings.telegram_api_url, stop)
        return
    await run_sandbox(app, stop, port=sandbox_port, web_port=web_port, open_chat=not no_chat and sys.stdin.isatty())


@dataclass(frozen=True, slots=True)
class SandboxAddresses:
    """Where a running sandbox listens: the fake Bot API and the web chat page."""

    api_url: str
    web_url: str


async def run_sandbox(
    app: Vecinos,
    stop: asyncio.Event,
    *,
    port: int,
    open_chat: bool,
    web_port: int = 8082,
    var: Path = VAR,
    ready: Callable[[SandboxAddresses], None] | None = None,
) -> None:
    """Fake Telegram + the bot + the web chat page + (optionally) a terminal chat as a resident.

    var: the folder for the sandbox's state (update ids, the address file `vecinos chat` reads, the log).
    ready: called with the addresses once everything listens and the bot runs.
    """
    from bot.fakeapi.server import start_fake_server
    from bot.sandbox.web import start_web_sandbox

    try:
        # Update ids must keep growing across restarts: the bot's database remembers the ones it has handled.
        fake, runner, url = await start_fake_server("127.0.0.1", port, state_dir=var)
    except OSError as exc:
        # Before anything is written: a second `make run` must not take over the running sandbox's var/sandbox.json.
        raise cannot_listen("127.0.0.1", port, exc, "use another port with --sandbox-port N") from None
    try:
        _web, web_runner, web_url = await start_web_sandbox(fake, SANDBOX_TOKEN, app, "127.0.0.1", web_port)
    except OSError as exc:
        await runner.cleanup()
        raise cannot_listen("127.0.0.1", web_port, exc, "use another port with --web-port N (0: any)") from None
    state_file = var / STATE_FILE.name
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"api_url": url, "token": SANDBOX_TOKEN, "web_url": web_url}))
    try:
        await app.open()
        await seed_demo_staff(app)
        first, count = await seed_demo_residents(app)
    except BaseException:
        await web_runner.cleanup()
        await runner.cleanup()
        raise
    from bot.sandbox.terminal_chat import persona

    for name, _role in DEMO_STAFF:
        # As if the staff had pressed Start in Telegram: the bot may write to them before they open a chat.
        user_id, first_name, locale = persona(name)
        fake.register_user(SANDBOX_TOKEN, user_id, open_chat=True, first_name=first_name, language_code=locale)
    # The demo neighbours have chats too, so what the circle is sent reaches them instead of failing.
    if count:
        fake.register_users(SANDBOX_TOKEN, first, count)
    print(f"Sandbox: fake Telegram at {url}, bot token {SANDBOX_TOKEN}, database {app.settings.database_url}")
    print(f"Web chat (several people side by side): open {web_url} in a browser")
    print("In another terminal, approve requests as the community manager:  .venv/bin/vecinos chat --as manager")
    if open_chat:
        # The chat owns the terminal: the bot's log goes to a file.
        log_file = var / "vecinos.log"
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        print(f"The bot's log is in {log_file}.")
    sys.stdout.flush()
    bot_task = asyncio.create_task(app.run(SANDBOX_TOKEN, url, stop, webhook=False))
    try:
        if ready is not None:
            ready(SandboxAddresses(url, web_url))
        if open_chat:
            print("You are chatting as a new resident (Lucía). Type /start; a number taps a button; /quit exits.")
            await chat_as("resident", url, SANDBOX_TOKEN)
            stop.set()
        else:
            print("Headless sandbox running; press Ctrl+C to stop.")
            await stop.wait()
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await bot_task
        await web_runner.cleanup()
        await runner.cleanup()


async def seed_demo_residents(app: Vecinos) -> tuple[int, int]:
    """A few verified demo neighbours in the demo circle, once; (first Telegram id, how many there are)."""
    async with app.db.unit_of_work() as uow:
        existing = await uow.demo.demo_residents()
        if existing:
            return existing
        circle = await uow.territory.circle_by_code(DEMO_CIRCLE)
        if circle is None:
            return 0, 0
        from bot.i18n import SUPPORTED_LOCALES

        first, last = await uow.demo.populate(DEMO_NEIGHBOURS, [circle.id], SUPPORTED_LOCALES, app.services.clock())
        await uow.commit()
    return first, last - first + 1


async def seed_demo_staff(app: Vecinos) -> None:
    """Register the sandbox personas 'manager', 'delegate' and 'admin' with their roles (idempotent)."""
    from bot.sandbox.terminal_chat import persona

    now = datetime.now(UTC)
    async with app.db.unit_of_work() as uow:
        circle = await uow.territory.circle_by_code(DEMO_CIRCLE)
        barrios = await uow.territory.barrios()
        for name, role in DEMO_STAFF:
            user_id, first_name, locale = persona(name)
            resident = await uow.residents.by_telegram_id(user_id)
            if resident is None:
                resident = await uow.residents.register(
                    user_id, user_id, first_name, locale or "es", now, legal_basis="public_task"
                )
            if role is Role.DELEGATE and circle is not None:
                await uow.roles.grant(Grant(role, ScopeKind.CIRCLE, circle.id), now, resident_id=resident.id)
                if await uow.memberships.current(resident.id) is None:
                    await uow.memberships.add_verified_member(resident.id, circle.id, now)
            elif role is Role.COMMUNITY_MANAGER:
                for barrio in barrios:
                    await uow.roles.grant(Grant(role, ScopeKind.BARRIO, barrio.id), now, resident_id=resident.id)
            elif role is Role.ADMIN:
                await uow.roles.grant(Grant(role, ScopeKind.DISTRICT), now, resident_id=resident.id)
            elif role is Role.SECTORIAL_MANAGER and circle is not None:
                grant = Grant(role, ScopeKind.BARRIO, circle.barrio_id, DEMO_SECTORS[name])
                await uow.roles.grant(grant, now, resident_id=resident.id)
        await uow.commit()


async def chat_as(name: str, api_url: str | None, token: str | None) -> None:
    """`vecinos chat --as NAME`: talk to the sandbox bot in this terminal."""
    from bot.fakeapi.client import FakeTelegramError
    from bot.sandbox.terminal_chat import persona, run_terminal_chat

    how = "start one with `make run` in this folder (or pass --api and --token)"
    if api_url is None or token is None:
        if not STATE_FILE.exists():
            raise CommandError(f"no sandbox is running in this folder (there is no {STATE_FILE}): {how}")
        try:
            state = json.loads(STATE_FILE.read_text(encoding="utf-8"))
            api_url, token = api_url or str(state["api_url"]), token or str(state["token"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{STATE_FILE} is unreadable ({exc}): {how}") from None
    user_id, first_name, language = persona(name)
    try:
        await run_terminal_chat(api_url, token, user_id, first_name, language)
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        # Errors during the chat are shown in it; only the first contact ends up here.
        log.debug("no contact with %s: %r", api_url, exc)
        raise CommandError(f"no sandbox is running at {api_url}: {how}") from None
    except (aiohttp.ClientError, FakeTelegramError) as exc:
        raise CommandError(f"the fake Telegram server at {api_url} did not answer as expected ({exc}): {how}") from None
