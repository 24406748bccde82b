"""Reports under load: 2,000 verified residents each file a report through the fake Bot API server, beside the
registration throughput of the same bot measured in the same run. Prints JSON.

Vecinos runs as its own process against the fake server in this process (as bench/throughput.py does). Every
resident walks the real wizard (/report, category, text, no photo, "my circle", "mine is different" when
similar cases are shown, anonymity, send), waiting for each answer before the next step, 200 at a time. The
handling staff of each barrio are registered, so every report also fans out to them through the outbox.
SQL statements per report are counted separately, on the same database kind, through the real dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import (  # noqa: E402
    cpu_seconds,
    drop_postgres,
    fresh_postgres,
    percentile,
    registration,
    start_process,
    wait_ready,
)

from bot.channels.base import Incoming, IncomingKind  # noqa: E402
from bot.config import normalise_database_url  # noqa: E402
from bot.domain.permissions import Grant, Role, ScopeKind, Sector  # noqa: E402
from bot.fakeapi.server import FakeTelegram, start_fake_server  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.seed import DEFAULT_SEED, read_seed, seed_territory  # noqa: E402

TOKEN = "555555:bench-reports"
FIRST_RESIDENT = 2_000_000
STAFF = 1_900_000
CATEGORIES = ["noise", "cleanliness", "public_space", "safety", "antisocial", "other"]
TEXTS = [
    "Música muy alta por las noches en el bajo del portal, desde hace dos semanas.",
    "Contenedores desbordados y bolsas en la acera junto a la fuente.",
    "Una baldosa suelta en la acera: alguien va a tropezar.",
    "Farola apagada en la esquina, la calle queda a oscuras.",
]


async def prepare(database_url: str, residents: int) -> list[tuple[int, int]]:
    """The territory, `residents` verified residents spread over every circle, and each barrio's staff.
    Returns (user id, circle id) of the residents."""
    db = Database(database_url)
    await db.migrate()
    now = datetime.now(UTC)
    placed: list[tuple[int, int]] = []
    async with db.unit_of_work() as uow:
        await seed_territory(uow, read_seed(DEFAULT_SEED))
        circles = await uow.territory.circles()
        for index, barrio in enumerate(await uow.territory.barrios()):
            for offset, (role, sector) in enumerate(
                ((Role.COMMUNITY_MANAGER, None), (Role.SECTORIAL_MANAGER, Sector.ENVIRONMENT_CLEANING),
                 (Role.SECTORIAL_MANAGER, Sector.COMMUNITY_POLICE))
            ):  # fmt: skip
                user = STAFF + index * 10 + offset
                person = await uow.residents.register(user, user, f"Staff {user}", "es", now, legal_basis="public_task")
                await uow.roles.grant(Grant(role, ScopeKind.BARRIO, barrio.id, sector), now, resident_id=person.id)
        for n in range(residents):
            user = FIRST_RESIDENT + n
            circle = circles[n % len(circles)]
            locale = ("es", "ar", "en")[n % 3]
            person = await uow.residents.register(user, user, f"Vecina {n}", locale, now)
            await uow.memberships.add_verified_member(person.id, circle.id, now)
            placed.append((user, circle.id))
        await uow.commit()
    await db.dispose()
    return placed


def open_chats(fake: FakeTelegram, users: list[int]) -> None:
    """As if every resident and staff member had pressed Start: the bot may write to them."""
    for user in users:
        fake.register_user(TOKEN, user, open_chat=True, first_name=f"User {user}", language_code="es")


async def step(fake: FakeTelegram, user: int, action: str) -> tuple[float, list]:
    """One update from a resident, waiting for the bot's answer; (seconds, the chat's changed messages)."""
    chat = fake.get_bot(TOKEN).chat(user)
    baseline = max((m.seq for m in chat.messages.values()), default=0)
    started = time.perf_counter()
    if action.startswith("tap:"):
        fake.inject_callback(TOKEN, user, max(chat.messages), action[4:])
    else:
        fake.inject_message(TOKEN, user, action, first_name=f"Vecina {user}", language_code="es")
    got = await fake.wait_bot_messages(TOKEN, user, wait=1, timeout=60, changed_after=baseline)
    if not got:
        raise RuntimeError(f"user {user}: no answer to {action!r}")
    return time.perf_counter() - started, got


def _buttons(messages: list) -> list[str]:
    return [
        b.get("callback_data", "")
        for m in messages
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


async def file_report(fake: FakeTelegram, user: int, n: int) -> tuple[list[float], float]:
    """The whole wizard for one resident; (each step's latency, the report's total)."""
    category, text = CATEGORIES[n % len(CATEGORIES)], TEXTS[n % len(TEXTS)]
    latencies = []
    started = time.perf_counter()
    for action in ("/report", f"tap:rc:{category}", text, "tap:rph", "tap:rlc"):
        seconds, got = await step(fake, user, action)
        latencies.append(seconds)
    if "rnew" in _buttons(got):
        seconds, got = await step(fake, user, "tap:rnew")
        latencies.append(seconds)
    for action in ("tap:ran:no", "tap:rok"):
        seconds, got = await step(fake, user, action)
        latencies.append(seconds)
    return latencies, time.perf_counter() - started


async def in_waves(jobs, concurrency: int) -> list:  # type: ignore[no-untyped-def]
    """Run coroutine factories `concurrency` at a time."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job):  # type: ignore[no-untyped-def]
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def statements_per_report(database_url: str, samples: int = 30) -> float:
    """SQL statements one report costs through the real dispatcher (the whole wizard, its fan-out included)."""
    from sqlalchemy import event

    from bot.i18n import Catalogs
    from handlers import Dispatcher
    from handlers.context import Services

    db = Database(database_url)
    counted = {"n": 0}

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(*_args) -> None:  # type: ignore[no-untyped-def]
        counted["n"] += 1

    from datetime import timedelta

    services = Services(db, Catalogs("es"), "bench", timedelta(hours=48), lambda: datetime.now(UTC))
    dispatcher = Dispatcher(services)
    update_id = 9_000_000
    async with db.unit_of_work() as uow:
        circle = (await uow.territory.circles())[0]
        now = datetime.now(UTC)
        people = []
        for n in range(samples):
            user = 3_000_000 + n
            person = await uow.residents.register(user, user, f"Muestra {n}", "es", now)
            await uow.memberships.add_verified_member(person.id, circle.id, now)
            people.append(user)
        await uow.commit()
    counted["n"] = 0
    for n, user in enumerate(people):
        steps = [("c", "/report"), ("t", f"rc:{CATEGORIES[n % 6]}"), ("x", TEXTS[n % 4]), ("t", "rph"), ("t", "rlc")]
        for kind, value in steps:
            update_id += 1
            await dispatcher.handle(_incoming(update_id, user, kind, value))
        conversation = await _step_of(db, user)
        if conversation == "similar":
            update_id += 1
            await dispatcher.handle(_incoming(update_id, user, "t", "rnew"))
        for value in ("ran:no", "rok"):
            update_id += 1
            await dispatcher.handle(_incoming(update_id, user, "t", value))
    statements = counted["n"]
    await db.dispose()
    return statements / samples


async def _step_of(db: Database, user: int) -> str:
    from sqlalchemy import text

    async with db.unit_of_work() as uow:
        return (
            await uow.session.execute(text("SELECT step FROM conversation WHERE chat_id = :c"), {"c": user})
        ).scalar()


def _incoming(update_id: int, user: int, kind: str, value: str) -> Incoming:
    base = {"update_id": update_id, "chat_id": user, "user_id": user, "first_name": "Muestra", "language_code": "es"}
    if kind == "c":
        return Incoming(kind=IncomingKind.COMMAND, text=value, command=value[1:], **base)
    if kind == "t":
        return Incoming(
            kind=IncomingKind.CALLBACK, callback_id=str(update_id), callback_data=value, message_id=1, **base
        )
    return Incoming(kind=IncomingKind.TEXT, text=value, **base)


async def run(residents: int, concurrency: int, database_url: str | None) -> dict:
    """Registrations first (the baseline), then every resident's report, against one Vecinos process."""
    workdir = Path(tempfile.mkdtemp(prefix="vecinos-bench-reports-"))
    url_for_bot = normalise_database_url(database_url or f"sqlite:///{workdir}/reports.db")
    placed = await prepare(url_for_bot, residents)
    fake, runner, url = await start_fake_server("127.0.0.1", 0)
    open_chats(fake, [user for user, _ in placed] + [STAFF + i * 10 + o for i in range(6) for o in range(3)])
    env = {
        **__import__("os").environ,
        "VECINOS_BOT_TOKEN": TOKEN,
        "VECINOS_TELEGRAM_API_URL": url,
        "VECINOS_DATABASE_URL": url_for_bot,
        "VECINOS_HTTP_PORT": "0",
        "VECINOS_SEND_RATE_PER_SECOND": "1000",
        "VECINOS_PER_CHAT_INTERVAL_SECONDS": "0.05",
    }
    process = await start_process(sys.executable, "-m", "bot", "run", env=env, log=workdir / "bot.log")
    try:
        await wait_ready(fake, TOKEN)
        # Baseline in the same run and process: registrations (six updates each) of new people.
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        sessions = [registration(fake, TOKEN, 2_900_000 + i, 2, 7) for i in range(concurrency)]
        registered = [x for r in await asyncio.gather(*sessions) for x in r]
        registration_seconds = time.perf_counter() - started
        registration_cpu = cpu_seconds(process.pid) - cpu_before
        # The reports.
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        jobs = [lambda user=user, n=n: file_report(fake, user, n) for n, (user, _circle) in enumerate(placed)]
        results = await in_waves(jobs, concurrency)
        elapsed = time.perf_counter() - started
        report_cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        await process.wait()
        await runner.cleanup()
    step_latencies = [x for steps, _total in results for x in steps]
    totals = [total for _steps, total in results]
    statements = await statements_per_report(url_for_bot)
    updates = len(step_latencies)
    return {
        "workload": f"{residents} verified residents each file a report ({concurrency} at a time), one Vecinos "
        "process (aiogram), the handling staff of every barrio told through the outbox",
        "database": "postgresql" if url_for_bot.startswith("postgres") else "sqlite",
        "registration_baseline": {
            "updates": len(registered),
            "updates_per_second": round(len(registered) / registration_seconds, 1),
            "p99_ms": round(percentile(registered, 0.99) * 1000, 1),
            "bot_cpu_ms_per_update": round(registration_cpu / len(registered) * 1000, 3),
        },
        "reports": {
            "reports": len(results),
            "seconds": round(elapsed, 2),
            "reports_per_second": round(len(results) / elapsed, 1),
            "updates": updates,
            "updates_per_second": round(updates / elapsed, 1),
            "update_latency_ms": {
                "p50": round(statistics.median(step_latencies) * 1000, 1),
                "p99": round(percentile(step_latencies, 0.99) * 1000, 1),
            },
            "whole_report_p99_ms": round(percentile(totals, 0.99) * 1000, 1),
            "bot_cpu_ms_per_update": round(report_cpu / updates * 1000, 3),
            "sql_statements_per_report": round(statements, 1),
        },
        "ratio_report_updates_per_second_to_registration": round(
            (updates / elapsed) / (len(registered) / registration_seconds), 3
        ),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    scratch = await fresh_postgres(args.database_url) if args.database_url else None
    try:
        report = await run(args.residents, args.concurrency, scratch[0] if scratch else None)
    finally:
        if scratch and args.database_url:
            await drop_postgres(args.database_url, scratch[1])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
