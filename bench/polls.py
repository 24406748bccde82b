"""A district poll under load: 20,000 synthetic residents get a ballot through the fake Bot API server, all vote
within a minute, then the poll closes and the result with its chart goes back to every one of them. Prints JSON.

Vecinos runs as its own process (aiogram, the outbox at Telegram's paid-broadcast rate of 1,000 messages a
second) against the fake server in this process, as bench/throughput.py does. Phases, each timed:
1. baseline: registrations by new people in the same process (updates/s), for the ratio;
2. opening: the poll is created (electorate frozen, 20,000 ballots queued) and the outbox delivers them;
3. voting: every resident taps an option at a moment spread evenly over 60 s (an open loop: taps do not wait
   for each other); a tap's latency runs from the tap to the edit that shows its receipt;
4. the close: the time from the closing moment to the poll counted (count, reseal) and to the result queued
   to everyone (chart drawn once), then until every result was delivered (one upload, then file ids).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
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

from bot.config import normalise_database_url  # noqa: E402
from bot.domain.ballots import PollKind  # noqa: E402
from bot.domain.polls import DEFAULT_POLICY, PollScope, PollTerms, ScopeKind  # noqa: E402
from bot.fakeapi.server import FakeTelegram, start_fake_server  # noqa: E402
from bot.i18n import Catalogs  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.demo import DEMO_FIRST_USER_ID  # noqa: E402
from storage.seed import DEFAULT_SEED, read_seed, seed_territory  # noqa: E402

TOKEN = "666666:bench-vecinos-polls"
QUESTION = "¿Peatonalizamos el centro los domingos?"
OPTIONS = ("Sí, todo el día", "Solo por la mañana", "No")


async def prepare(database_url: str, residents: int) -> None:
    """The territory and `residents` verified demo residents over every circle and language."""
    db = Database(database_url)
    await db.migrate()
    async with db.unit_of_work() as uow:
        await seed_territory(uow, read_seed(DEFAULT_SEED))
        circles = [c.id for c in await uow.territory.circles()]
        await uow.demo.populate(residents, circles, ("es", "en", "ar"), datetime.now(UTC))
        await uow.commit()
    await db.dispose()


async def open_district_poll(database_url: str) -> tuple[int, float]:
    """Create and open the poll as `vecinos polls create` does; (poll id, seconds to freeze and queue)."""
    from handlers.poll_schedule import create_poll

    db = Database(database_url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    async with db.unit_of_work() as uow:
        terms = PollTerms(PollKind.SINGLE, QUESTION, OPTIONS, now, now + timedelta(days=3))
        poll = await create_poll(uow, Catalogs(), terms, PollScope(ScopeKind.DISTRICT), now, DEFAULT_POLICY,
                                 created_by=None)  # fmt: skip
        await uow.commit()
        poll_id = poll.id
    seconds = time.perf_counter() - started
    await db.dispose()
    return poll_id, seconds


async def poll_status(database_url: str, poll_id: int) -> tuple[str, int]:
    """(status, ballots) of the poll."""
    from sqlalchemy import text

    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            status = (await uow.session.execute(text("SELECT status FROM poll WHERE id = :p"), {"p": poll_id})).scalar()
            ballots = (
                await uow.session.execute(text("SELECT count(*) FROM poll_ballot WHERE poll_id = :p"), {"p": poll_id})
            ).scalar()
        return str(status), int(ballots or 0)
    finally:
        await db.dispose()


async def close_at_once(database_url: str, poll_id: int) -> None:
    """Bring the closing time to now: the bot's next scheduler tick closes it."""
    from sqlalchemy import text

    db = Database(database_url)
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            text("UPDATE poll SET closes_at = :now, due_at = :now WHERE id = :p"), {"now": now, "p": poll_id}
        )
        await uow.commit()
    await db.dispose()


def delivered(fake: FakeTelegram, users: range, kind: str | None = None, marker: str = "") -> int:
    """How many of `users` have a message of `kind` (any) whose text or caption contains `marker`."""
    bot = fake.get_bot(TOKEN)
    count = 0
    for user in users:
        chat = bot.chats.get(user)
        if chat is None:
            continue
        for message in chat.messages.values():
            if (kind is None or message.kind == kind) and marker in (message.raw_text or ""):
                count += 1
                break
    return count


async def wait_delivered(fake: FakeTelegram, users: range, kind: str | None, marker: str, timeout: float) -> float:
    """Seconds until every user has such a message."""
    started = time.perf_counter()
    while delivered(fake, users, kind, marker) < len(users):
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"only {delivered(fake, users, kind, marker)} of {len(users)} got {marker!r}")
        await asyncio.sleep(0.25)
    return time.perf_counter() - started


def ballot_message(fake: FakeTelegram, user: int, poll_id: int) -> tuple[int, list[str]]:
    """The ballot's message id and option buttons in a user's chat."""
    chat = fake.get_bot(TOKEN).chat(user)
    for message_id in sorted(chat.messages, reverse=True):
        markup = chat.messages[message_id].reply_markup or {}
        data = [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]
        votes = [d for d in data if d.startswith(f"pv:{poll_id}:")]
        if votes:
            return message_id, votes
    raise RuntimeError(f"user {user} has no ballot")


async def vote(fake: FakeTelegram, user: int, poll_id: int, at: float, n: int) -> float:
    """Tap an option at time `at` (perf_counter), and wait for the receipt; the tap's latency."""
    message_id, votes = ballot_message(fake, user, poll_id)
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    chat = fake.get_bot(TOKEN).chat(user)
    baseline = max((m.seq for m in chat.messages.values()), default=0)
    started = time.perf_counter()
    fake.inject_callback(TOKEN, user, message_id, votes[n % len(votes)])
    got = await fake.wait_bot_messages(TOKEN, user, wait=1, timeout=300, changed_after=baseline)
    if not got:
        raise RuntimeError(f"user {user}: no receipt")
    return time.perf_counter() - started


async def run(residents: int, window: float, database_url: str | None) -> dict:
    """Every phase against one Vecinos process."""
    workdir = Path(tempfile.mkdtemp(prefix="vecinos-bench-polls-"))
    url = normalise_database_url(database_url or f"sqlite:///{workdir}/polls.db")
    await prepare(url, residents)
    users = range(DEMO_FIRST_USER_ID, DEMO_FIRST_USER_ID + residents)
    fake, runner, api = await start_fake_server("127.0.0.1", 0)
    for user in users:
        fake.register_user(TOKEN, user, open_chat=True, first_name=f"Vecino {user}", language_code="es")
    env = {
        **os.environ,
        "VECINOS_BOT_TOKEN": TOKEN,
        "VECINOS_TELEGRAM_API_URL": api,
        "VECINOS_DATABASE_URL": url,
        "VECINOS_HTTP_PORT": "0",
        "VECINOS_SEND_RATE_PER_SECOND": "1000",
        "VECINOS_PER_CHAT_INTERVAL_SECONDS": "0.05",
        "VECINOS_SCHEDULER_TICK_SECONDS": "0.5",
    }
    process = await start_process(sys.executable, "-m", "bot", "run", env=env, log=workdir / "bot.log")
    try:
        await wait_ready(fake, TOKEN)
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        sessions = [registration(fake, TOKEN, 2_900_000 + i, 2, 7) for i in range(200)]
        baseline = [x for r in await asyncio.gather(*sessions) for x in r]
        baseline_seconds = time.perf_counter() - started
        baseline_cpu = cpu_seconds(process.pid) - cpu_before

        poll_id, open_seconds = await open_district_poll(url)
        ballots_seconds = await wait_delivered(fake, users, "text", QUESTION, timeout=600)

        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        taps = [vote(fake, user, poll_id, started + window * i / residents, i) for i, user in enumerate(users)]
        latencies = await asyncio.gather(*taps)
        voting_seconds = time.perf_counter() - started
        voting_cpu = cpu_seconds(process.pid) - cpu_before
        status, ballots = await poll_status(url, poll_id)

        await close_at_once(url, poll_id)
        closing = time.perf_counter()
        counted_seconds = announced_seconds = None
        while announced_seconds is None:
            status, _ = await poll_status(url, poll_id)
            if status in ("counted", "closed") and counted_seconds is None:
                counted_seconds = time.perf_counter() - closing
            if status == "closed":
                announced_seconds = time.perf_counter() - closing
            await asyncio.sleep(0.05)
        results_seconds = await wait_delivered(fake, users, "photo", QUESTION, timeout=600)
        uploads = distinct_photos(fake, users)
    finally:
        process.terminate()
        await process.wait()
        await runner.cleanup()
    count_ms = await count_in_process(url, poll_id)
    return {
        "workload": f"a district poll to {residents} demo residents (es, en, ar) over every circle; each taps an "
        f"option at a moment spread evenly over {window:.0f} s; one Vecinos process (aiogram), outbox at 1,000/s",
        "database": "postgresql" if url.startswith("postgres") else "sqlite",
        "registration_baseline": {
            "updates": len(baseline),
            "updates_per_second": round(len(baseline) / baseline_seconds, 1),
            "p99_ms": round(percentile(baseline, 0.99) * 1000, 1),
            "bot_cpu_ms_per_update": round(baseline_cpu / len(baseline) * 1000, 3),
        },
        "opening": {
            "freeze_and_queue_seconds": round(open_seconds, 2),
            "ballots_delivered_seconds": round(ballots_seconds, 1),
            "ballots_per_second": round(residents / ballots_seconds, 1),
        },
        "voting": {
            "taps": residents,
            "ballots_counted": ballots,
            "offered_taps_per_second": round(residents / window, 1),
            "seconds_until_last_receipt": round(voting_seconds, 1),
            "votes_per_second_applied": round(ballots / voting_seconds, 1),
            "tap_latency_ms": {
                "p50": round(statistics.median(latencies) * 1000, 1),
                "p99": round(percentile(latencies, 0.99) * 1000, 1),
                "max": round(max(latencies) * 1000, 1),
            },
            "bot_cpu_ms_per_vote": round(voting_cpu / residents * 1000, 3),
        },
        "close": {
            "closing_to_counted_seconds": round(counted_seconds or 0, 2),
            "closing_to_result_queued_seconds": round(announced_seconds, 2),
            "count_in_process_ms": round(count_ms, 1),
            "results_delivered_seconds": round(results_seconds, 1),
            "distinct_chart_files": uploads,
        },
        "ratio_votes_per_second_to_registration_updates_per_second": round(
            (ballots / voting_seconds) / (len(baseline) / baseline_seconds), 3
        ),
    }


def distinct_photos(fake: FakeTelegram, users: range) -> int:
    """How many different images the users received (1: the chart was uploaded once, then sent by file id)."""
    bot = fake.get_bot(TOKEN)
    return len(
        {m.file_id for user in users for m in bot.chat(user).messages.values() if m.kind == "photo" and m.file_id}
    )


async def count_in_process(database_url: str, poll_id: int) -> float:
    """Milliseconds to count the closed poll's ballots again (read, tally, outcome, published document)."""
    from handlers.poll_cards import load_card
    from handlers.poll_schedule import count_poll

    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            poll = await uow.polls.get(poll_id)
            assert poll is not None
            card = await load_card(uow, poll)
            started = time.perf_counter()
            await count_poll(uow, poll, card)
            return (time.perf_counter() - started) * 1000
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which everyone votes")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    scratch = await fresh_postgres(args.database_url) if args.database_url else None
    try:
        report = await run(args.residents, args.window, scratch[0] if scratch else None)
    finally:
        if scratch and args.database_url:
            await drop_postgres(args.database_url, scratch[1])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
