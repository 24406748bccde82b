"""Outbox pacing: the rate the sender achieves against the rate it is configured for, with Telegram-like latency.

The fake Bot API server runs as its own process (`vecinos fake-telegram --latency 30-250`), answering every send
after 30-250 ms as Telegram does; the sender runs here, on a scratch database. For each scenario it prints the
achieved rate divided by the configured one (1.00 is perfect), measured from the times the server accepted each
message; the 429 scenario adds Telegram's flood control in the middle and counts what was accepted during it.
Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_channel, connections_for  # noqa: E402
from bot.channels.base import Reply  # noqa: E402
from bot.fakeapi.client import FakeTelegramClient  # noqa: E402
from bot.i18n import Catalogs  # noqa: E402
from bot.outbox import OutboxSender  # noqa: E402
from storage.db import Database  # noqa: E402

TOKEN = "777000:BENCH-outbox"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(latency: str) -> tuple[asyncio.subprocess.Process, str]:
    """The fake server in its own process, so its CPU is not the sender's."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "fake-telegram", "--port", str(port), "--latency", latency,
        cwd=str(ROOT), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with FakeTelegramClient(url, TOKEN) as client:
        for _ in range(300):
            try:
                await client.state()
                return process, url
            except OSError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the fake server did not start")


def rate(times: list[float]) -> float:
    """Messages per second over a run of accept times."""
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


async def scenario(
    url: str, database_url: str, messages: int, per_second: float, flood_at: int | None, engine: str = "aiogram"
) -> dict:
    """Queue `messages` to distinct chats, send them at `per_second`, optionally with 3 s of flood control."""
    base = 10_000_000 + int(time.time() * 1000) % 1_000_000 * 10
    chats = [base + n for n in range(messages)]
    db = Database(database_url)
    await db.migrate()
    async with FakeTelegramClient(url, TOKEN) as client:
        for chat in chats:
            await client.register_user(chat, open_chat=True, first_name="Vecina")
        now = datetime.now(UTC)
        async with db.unit_of_work() as uow:
            for chat in chats:
                await uow.outbox.add(chat, Reply(f"Aviso {chat}").to_dict(), "bench", now)
            await uow.commit()
        channel = build_channel(engine, TOKEN, url, None, Catalogs("es"), connections=connections_for(per_second))
        began = time.time()
        sender = OutboxSender(db, channel, per_second=per_second, per_chat_interval=1.0)
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        flooded = False
        while sender.sent_count < messages:
            if flood_at is not None and not flooded and sender.sent_count >= flood_at:
                await client.flood(3)
                flooded = True
            await asyncio.sleep(0.01)
        stop.set()
        sender.wake()
        await task
        windows = [tuple(w) for w in (await client.state()).get("flood_windows", []) if w[0] >= began]
        accepted = []
        for chat in chats:
            accepted += [m["accepted_at"] for m in await client.messages(chat)]
        await channel.close()
    async with db.unit_of_work() as uow:
        statuses = await uow.outbox.count_by_status()
    await db.dispose()
    result: dict = {
        "messages": messages,
        "configured_per_second": per_second,
        "statuses": statuses,
    }
    if windows:
        start, end = windows[0]
        before = [t for t in accepted if t < start]
        after = [t for t in accepted if t >= end]
        result.update(
            accepted_during_pause=sum(1 for t in accepted if start <= t < end),
            achieved_over_configured_before_pause=round(rate(before) / per_second, 3),
            achieved_over_configured_after_pause=round(rate(after) / per_second, 3),
        )
    else:
        result["achieved_over_configured"] = round(rate(accepted) / per_second, 3)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None, help="default: a scratch SQLite file")
    parser.add_argument("--latency", default="30-250", help="fake server latency range in ms")
    parser.add_argument("--engine", choices=["aiogram", "ptb"], action="append", help="default: aiogram")
    args = parser.parse_args()
    process, url = await start_server(args.latency)
    results = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for engine in args.engine or ["aiogram"]:
                for messages, per_second, flood_at in ((600, 30.0, None), (3000, 1000.0, None), (300, 30.0, 120)):
                    database_url = args.database_url or f"sqlite+aiosqlite:///{folder}/outbox-{engine}-{messages}.db"
                    outcome = await scenario(url, database_url, messages, per_second, flood_at, engine)
                    name = f"{engine}: {messages} messages at {per_second:g}/s" + (", 429 midway" if flood_at else "")
                    results.append({"scenario": name, **outcome})
    finally:
        process.terminate()
        await process.wait()
    print(json.dumps({"latency_ms": args.latency, "results": results}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
