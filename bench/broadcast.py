"""A district notice to 100,000 residents against a fake Bot API server that enforces Telegram's limit.

The fake server runs as its own process, answers every send after 30-250 ms and refuses (429) any send beyond
the global limit in a sliding second, counted when the request arrives. The bot runs as its own process
(`python -m bot run`, aiogram, SQLite by default). The notice is queued with the real command line
(`vecinos notices send --scope district`, a Spanish text and an Arabic version) while the bot runs.

Phase 1, Telegram's 30/s: the achieved rate (every message the server accepted over a window, answers
included) divided by the enforced limit, the 429s received, the bot's peak RSS; and, while the notice is
sending, a new resident's /start answer and an approval notification to a delegate, against the same figures
measured idle before the notice. Phase 2, paid broadcasts' 1000/s: the bot restarted with the higher rate on
the same queue and the server enforcing 1000/s, sending what is left. At the end: every recipient got the
notice exactly once. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from outbox import start_server  # noqa: E402
from throughput import drop_postgres, fresh_postgres, percentile, start_process  # noqa: E402

from bot.fakeapi.client import FakeTelegramClient  # noqa: E402
from storage.demo import DEMO_FIRST_USER_ID  # noqa: E402

TOKEN = "777001:BENCH-broadcast"
TEXT_ES = "Aviso del distrito: el domingo se corta el tráfico en el centro por la carrera popular."
TEXT_AR = "إعلان من المنطقة: يوم الأحد تُغلق حركة المرور في الوسط بسبب السباق الشعبي."
DELEGATE = 7_900_000
PROBE_FIRST = 7_000_000
CIRCLE_CODE = "emb-plaza-lavapies"


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def prepare(database_url: str, recipients: int) -> tuple[int, int]:
    """Territory, `recipients` demo residents spread over every circle in three languages, and a delegate of
    Plaza de Lavapiés with a chat; returns (its barrio id, its circle id)."""
    from datetime import UTC, datetime

    from bot.app import Vecinos
    from bot.config import load_settings
    from bot.domain.permissions import Grant, Role, ScopeKind

    app = Vecinos.build(load_settings(database_url=database_url))
    await app.open()
    now = datetime.now(UTC)
    async with app.db.unit_of_work() as uow:
        circles = [c.id for b in await uow.territory.barrios() for c in await uow.territory.circles_in_barrio(b.id)]
        await uow.demo.populate(recipients, circles, ["es", "en", "ar"], now)
        circle = await uow.territory.circle_by_code(CIRCLE_CODE)
        assert circle is not None
        delegate = await uow.residents.register(DELEGATE, DELEGATE, "Delia", "es", now)
        await uow.memberships.add_verified_member(delegate.id, circle.id, now)
        await uow.roles.grant(Grant(Role.DELEGATE, ScopeKind.CIRCLE, circle.id), now, resident_id=delegate.id)
        await uow.commit()
    await app.db.dispose()
    return circle.barrio_id, circle.id


async def answer_after(client: FakeTelegramClient, user: int, send: object) -> tuple[float, int]:
    """Seconds from `send` (an awaitable) until the bot sends or edits a message in the user's chat, and the
    id of the chat's latest message (the one whose buttons come next)."""
    baseline = max((m.get("seq", 0) for m in await client.messages(user)), default=0)
    started = time.perf_counter()
    await send  # type: ignore[misc]
    got = await client.messages(user, changed_after=baseline, wait=1, timeout=30)
    if not got:
        raise RuntimeError(f"user {user}: no answer")
    seconds = time.perf_counter() - started
    return seconds, max(m["message_id"] for m in await client.messages(user))


async def start_latency(client: FakeTelegramClient, user: int) -> float:
    """A new person's /start: seconds until the bot's answer arrives."""
    seconds, _ = await answer_after(client, user, client.send_message(user, "/start", first_name="Nueva"))
    return seconds


async def approval_latency(client: FakeTelegramClient, user: int, barrio: int, circle: int) -> float:
    """A new person registers into Plaza de Lavapiés; seconds from the bot's last answer to them until the
    delegate's approval request is accepted by the server (a personal notification, through the outbox)."""
    _, last = await answer_after(client, user, client.send_message(user, "/start", first_name="Nueva"))
    for data in ("lang:es", "consent:yes", f"barrio:{barrio}", f"circle:{circle}"):
        _, last = await answer_after(client, user, client.tap(user, last, data))
    seen = max((m["message_id"] for m in await client.messages(DELEGATE)), default=0)
    await answer_after(client, user, client.tap(user, last, "nobld"))
    answered_at = time.time()
    told = await client.messages(DELEGATE, since=seen, wait=1, timeout=30)
    if not told:
        raise RuntimeError(f"user {user}: the delegate was never asked to approve")
    return max(0.0, min(m["accepted_at"] for m in told) - answered_at)


def summary(values: list[float]) -> dict:
    """p50 and p99 in milliseconds."""
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
    }


async def probes(client: FakeTelegramClient, first: int, starts: int, approvals: int, barrio: int, circle: int) -> dict:
    """/start answers (one person at a time, a few per second) and approval notifications (a second apart)."""
    start_times = []
    for n in range(starts):
        start_times.append(await start_latency(client, first + n))
        await asyncio.sleep(0.2)
    approval_times = []
    for n in range(approvals):
        approval_times.append(await approval_latency(client, first + starts + n, barrio, circle))
        await asyncio.sleep(1.0)
    return {"start": summary(start_times), "approval_notification": summary(approval_times)}


async def wait_ready(client: FakeTelegramClient, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until the bot long-polls (it asked for updates at least twice since the server started)."""
    for _ in range(1200):
        if process.returncode is not None:
            raise RuntimeError(f"the bot exited: {log.read_text()[-2000:]}")
        if len(await client.requests("getUpdates")) >= 1:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not start")


async def sent_rate(client: FakeTelegramClient, seconds: float) -> tuple[float, int]:
    """Sends and edits the server accepted per second over the next `seconds` (all the limit counts: the
    notice and the answers), and the 429s it answered meanwhile."""
    before = await client.counters()
    began = time.perf_counter()
    await asyncio.sleep(seconds)
    after = await client.counters()
    elapsed = time.perf_counter() - began
    counted = after["rate_counted"] - before["rate_counted"]
    return counted / elapsed, after["rate_limited"] - before["rate_limited"]


async def queue_notice(env: dict[str, str], folder: Path) -> tuple[int, float, float]:
    """`vecinos notices send --scope district` as an office would run it: the notice id, the command's wall
    time and the queuing time it reports."""
    (folder / "es.txt").write_text(TEXT_ES, encoding="utf-8")
    (folder / "ar.txt").write_text(TEXT_AR, encoding="utf-8")
    began = time.perf_counter()
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "notices", "send", "--scope", "district",
        "--text", str(folder / "es.txt"), "--text-ar", str(folder / "ar.txt"),
        cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await command.communicate()
    wall = time.perf_counter() - began
    if command.returncode != 0:
        raise RuntimeError(err.decode())
    reported = next(line for line in err.decode().splitlines() if "queued in" in line)
    return int(out.decode().split()[-1]), wall, float(reported.rsplit("queued in ", 1)[1].split()[0])


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, and wait."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def run(recipients: int, window: float, fast_window: float, latency: str, database_url: str | None) -> dict:
    """Both phases; the figures."""
    server, url = await start_server(latency)
    folder = Path(tempfile.mkdtemp(prefix="vecinos-broadcast-"))
    scratch = await fresh_postgres(database_url) if database_url else None
    db_url = scratch[0] if scratch else f"sqlite:///{folder}/broadcast.db"
    result: dict = {"recipients": recipients, "latency_ms": latency, "database": "postgresql" if scratch else "sqlite"}
    try:
        async with FakeTelegramClient(url, TOKEN) as client:
            barrio, circle = await prepare(db_url, recipients)
            await client.register_users(DEMO_FIRST_USER_ID, recipients)
            await client.register_user(DELEGATE, first_name="Delia", language_code="es")
            await client.set_rate_limit(global_per_second=30)
            env = {
                **os.environ,
                "VECINOS_BOT_TOKEN": TOKEN,
                "VECINOS_TELEGRAM_API_URL": url,
                "VECINOS_DATABASE_URL": db_url,
                "VECINOS_HTTP_PORT": "0",
                # The figures must not depend on the hour the bench runs at.
                "VECINOS_QUIET_HOURS": "off",
                "VECINOS_SEND_RATE_PER_SECOND": "30",
            }
            log = folder / "bot.log"
            bot = await start_process(sys.executable, "-m", "bot", "run", env=env, log=log)
            try:
                await wait_ready(client, bot, log)
                idle = await probes(client, PROBE_FIRST, 40, 5, barrio, circle)
                notice_id, wall, queued = await queue_notice(env, folder)
                result["time_to_queue"] = {"command_wall_s": round(wall, 2), "queuing_s": round(queued, 2)}
                await asyncio.sleep(5)  # the sender under way
                measuring = asyncio.create_task(sent_rate(client, window))
                busy = await probes(client, PROBE_FIRST + 1000, 40, 5, barrio, circle)
                rate, limited = await measuring
                result["at_30_per_second"] = {
                    "window_s": window,
                    "achieved_per_s": round(rate, 2),
                    "achieved_over_limit": round(rate / 30, 3),
                    "429s": limited,
                    "bot_peak_rss_mib": peak_rss_mib(bot.pid),
                    "idle": idle,
                    "while_sending": busy,
                    "start_p99_difference_ms": round(busy["start"]["p99_ms"] - idle["start"]["p99_ms"], 1),
                }
            finally:
                await stop(bot)
            await client.set_rate_limit(global_per_second=1000)
            env["VECINOS_SEND_RATE_PER_SECOND"] = "1000"
            bot = await start_process(sys.executable, "-m", "bot", "run", env=env, log=log)
            try:
                await wait_ready(client, bot, log)
                await asyncio.sleep(3)  # recovery and the first claims
                left = recipients - (await client.received(DEMO_FIRST_USER_ID, recipients, "📢"))["reached"]
                span = max(5.0, min(fast_window, left / 1000 - 5))
                rate, limited = await sent_rate(client, span)
                result["at_1000_per_second"] = {
                    "window_s": round(span, 1),
                    "achieved_per_s": round(rate, 1),
                    "achieved_over_limit": round(rate / 1000, 3),
                    "429s": limited,
                }
                for _ in range(int(recipients / 1000 + 60)):
                    if not await _still_going_out(db_url, notice_id):
                        break
                    await asyncio.sleep(2)
                result["at_1000_per_second"]["bot_peak_rss_mib"] = peak_rss_mib(bot.pid)
            finally:
                await stop(bot)
            tally = await client.received(DEMO_FIRST_USER_ID, recipients, "📢")
            result["delivery"] = {
                "reached": tally["reached"],
                "duplicates": tally["duplicates"],
                "report": await _figures(env, notice_id),
            }
    finally:
        server.terminate()
        await server.wait()
        if scratch:
            await drop_postgres(database_url or "", scratch[1])
    return result


async def _still_going_out(database_url: str, notice_id: int) -> int:
    """Deliveries of the notice still due or being sent (read directly: a command a second would cost CPU)."""
    from datetime import UTC, datetime

    from bot.config import normalise_database_url
    from storage.db import Database

    db = Database(normalise_database_url(database_url))
    try:
        async with db.unit_of_work() as uow:
            return (await uow.notices.progress(notice_id, datetime.now(UTC))).due
    finally:
        await db.dispose()


async def _figures(env: dict[str, str], notice_id: int) -> dict:
    """`vecinos notices report ID`."""
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "notices", "report", str(notice_id),
        cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await command.communicate()
    figures = json.loads(out.decode())
    figures.pop("by_language", None)
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=120.0, help="seconds measured at 30/s")
    parser.add_argument("--fast-window", type=float, default=60.0, help="at most this many seconds at 1000/s")
    parser.add_argument("--latency", default="30-250", help="the fake server's answer time range, ms")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (a scratch database is made)")
    args = parser.parse_args()
    figures = await run(args.recipients, args.window, args.fast_window, args.latency, args.database_url)
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
