"""End-to-end fixtures: the fake Bot API server over HTTP, and Vecinos on real aiogram against it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import Vecinos
from bot.config import load_settings
from bot.domain.permissions import ROLE_SCOPE, Grant, Role, ScopeKind, Sector
from bot.fakeapi.client import FakeTelegramClient
from bot.fakeapi.server import start_fake_server
from storage.db import Database
from tests.conftest import POSTGRES_URL, database_params, drop_database, fresh_database_url, open_seeded

TOKEN = "424242:E2E-test-token"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=database_params())
async def database_url(request, tmp_path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated and seeded database: SQLite, and PostgreSQL when configured."""
    url = await fresh_database_url(request.param, tmp_path)
    db = await open_seeded(url)
    await db.dispose()
    yield url
    await drop_database(url)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[str, FakeTelegramClient]]:
    """The fake Telegram server on a free port, and a control client for it."""
    _state, runner, url = await start_fake_server("127.0.0.1", 0)
    async with FakeTelegramClient(url, TOKEN) as client:
        yield url, client
    await runner.cleanup()


def bot_settings(api_url: str, database_url: str, **extra: Any):  # type: ignore[no-untyped-def]
    """Settings for a bot under test: fast outbox pacing and scheduler ticks."""
    return load_settings(
        bot_token=TOKEN,
        telegram_api_url=api_url,
        database_url=database_url,
        per_chat_interval_seconds=0.05,
        send_rate_per_second=200,
        scheduler_tick_seconds=0.5,
        # The Monday digest is tested on its own; elsewhere it would be one more message nobody waits for.
        **{"weekly_digests": False, **extra},
    )


@dataclass
class InProcessBot:
    """Vecinos running polling in this event loop."""

    app: Vecinos
    stop: asyncio.Event
    task: asyncio.Task

    async def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 10)


ENGINES = ("aiogram", "ptb")
MODES = ("polling", "webhook")
WEBHOOK_SECRET = "e2e-webhook-secret-0123456789"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=[(e, m) for e in ENGINES for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}")
def runtime(request) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Every end-to-end scenario runs on both engines, by polling and by webhook."""
    return request.param


async def start_in_process(
    api_url: str,
    database_url: str,
    client: FakeTelegramClient,
    engine: str,
    mode: str,
    clock: Callable[[], datetime] | None = None,
    **extra: Any,
) -> InProcessBot:
    """Start Vecinos in this event loop and wait until it listens (getUpdates or webhook installed); `clock`
    replaces the real time for everything the bot decides (quiet hours, deadlines)."""
    port = free_port()
    settings = bot_settings(
        api_url,
        database_url,
        engine=engine,
        webhook=mode == "webhook",
        http_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        webhook_secret=WEBHOOK_SECRET,
        **extra,
    )
    app = Vecinos.build(settings, clock) if clock is not None else Vecinos.build(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(TOKEN, api_url, stop))
    bot = InProcessBot(app, stop, task)
    for _ in range(200):
        state = await client.state()
        ready = state["webhook"].get("url") if mode == "webhook" else state.get("requests", {}).get("getUpdates")
        if ready:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    return bot


ENGINE_DATABASE = [(e, d) for e in ENGINES for d in database_params()]
# Both engines and both databases in two runs, for long journeys: aiogram on SQLite, PTB on PostgreSQL.
CROSSED = {("aiogram", "sqlite"), ("ptb", "postgres")}
ENGINE_DATABASE_CROSSED = [(e, d) for e, d in ENGINE_DATABASE if (e, d.values[0]) in CROSSED]


def engine_database_id(param: tuple[str, Any]) -> str:
    """A test id such as aiogram-sqlite."""
    return f"{param[0]}-{param[1].values[0]}"


@contextlib.asynccontextmanager
async def journey_bot(
    param: tuple[str, Any], fake: tuple[str, FakeTelegramClient], tmp_path: Path, **extra: Any
) -> AsyncIterator[tuple[InProcessBot, str]]:
    """Vecinos polling on one engine and database (a fresh seeded one) against the fake server; its URL."""
    engine, database = param
    kind = database.values[0]
    if kind == "postgres" and not POSTGRES_URL:
        pytest.skip("needs VECINOS_TEST_POSTGRES_URL")
    url = await fresh_database_url(kind, tmp_path)
    db = await open_seeded(url)
    await db.dispose()
    api_url, client = fake
    bot = await start_in_process(api_url, url, client, engine, "polling", **extra)
    try:
        yield bot, url
    finally:
        await bot.close()
        await drop_database(url)


@pytest.fixture
async def running_bot(fake, database_url, runtime) -> AsyncIterator[InProcessBot]:  # type: ignore[no-untyped-def]
    """Vecinos on each engine and mode, against the fake server."""
    api_url, client = fake
    engine, mode = runtime
    bot = await start_in_process(api_url, database_url, client, engine, mode)
    yield bot
    await bot.close()


class DatabaseProbe:
    """Direct reads of the bot's database (for assertions) and staff setup."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.unit_of_work() as uow:
            return (await uow.session.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db.unit_of_work() as uow:
            return list((await uow.session.execute(text(sql), params)).all())

    async def grant(self, user_id: int, role: str, place: str | None) -> None:
        async with self.db.unit_of_work() as uow:
            resident = await uow.residents.by_telegram_id(user_id)
            assert resident is not None, f"{user_id} is not registered"
            r = Role(role)
            scope = ROLE_SCOPE[r]
            scope_id = None
            if scope is ScopeKind.CIRCLE:
                scope_id = (await uow.territory.circle_by_code(place or "")).id  # type: ignore[union-attr]
            elif scope is ScopeKind.BARRIO:
                scope_id = (await uow.territory.barrio_by_code(place or "")).id  # type: ignore[union-attr]
            await uow.roles.grant(Grant(r, scope, scope_id), datetime.now(UTC), resident_id=resident.id)
            await uow.commit()

    async def grant_waiting(self, user_id: int, role: str, place: str, sector: str | None = None) -> None:
        """A role for a Telegram user who has not written yet (as `vecinos roles grant` gives it)."""
        async with self.db.unit_of_work() as uow:
            r = Role(role)
            scope = ROLE_SCOPE[r]
            view = (
                await uow.territory.circle_by_code(place)
                if scope is ScopeKind.CIRCLE
                else await uow.territory.barrio_by_code(place)
            )
            grant = Grant(r, scope, view.id, Sector(sector) if sector else None)  # type: ignore[union-attr]
            await uow.roles.grant(grant, datetime.now(UTC), telegram_user_id=user_id)
            await uow.commit()

    async def dump(self) -> str:
        from storage.models import Base

        tables = sorted(Base.metadata.tables)
        out = []
        async with self.db.unit_of_work() as uow:
            for table in tables:
                for row in (await uow.session.execute(text(f"SELECT * FROM {table}"))).all():
                    out.append(" | ".join(str(v) for v in row))
        return "\n".join(out)

    async def close(self) -> None:
        await self.db.dispose()


@pytest.fixture
async def db(database_url) -> AsyncIterator[DatabaseProbe]:  # type: ignore[no-untyped-def]
    """Read access to the bot's database."""
    reader = DatabaseProbe(database_url)
    yield reader
    await reader.close()


_STARTED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
async def no_bot_outlives_its_test() -> AsyncIterator[None]:
    """Kill any bot process a test started and did not stop (a failed assertion must not leave one polling)."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def start_subprocess_bot(
    api_url: str, database_url: str, log_path: Path, engine: str = "aiogram", **env_extra: str
) -> asyncio.subprocess.Process:
    """Vecinos as a separate OS process (`python -m bot run`), for crash tests."""
    env = {
        **os.environ,
        "VECINOS_BOT_TOKEN": TOKEN,
        "VECINOS_TELEGRAM_API_URL": api_url,
        "VECINOS_DATABASE_URL": database_url,
        "VECINOS_PER_CHAT_INTERVAL_SECONDS": "0.05",
        "VECINOS_SEND_RATE_PER_SECOND": "200",
        "VECINOS_ENGINE": engine,
        "VECINOS_LEADER_RETRY_SECONDS": "0.5",
        "VECINOS_WEEKLY_DIGESTS": "false",
        "VECINOS_HTTP_PORT": "0",
        **env_extra,
    }
    log = log_path.open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=str(ROOT), env=env, stdout=log, stderr=log
    )
    _STARTED.append(process)
    return process


from tests.e2e.cli import cli  # noqa: E402, F401  (the in-process `vecinos` fixture)
