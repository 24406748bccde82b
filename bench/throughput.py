"""Throughput and latency of Vecinos registrations against a bare aiogram echo bot, in one run.

Both bots run as separate processes against the same fake Bot API server (in this process, with the load
driver). Simulated users each wait for the bot's answer before sending their next update (closed loop), so
latency is what a person would feel and updates/s is what the bot sustains. Prints JSON.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.fakeapi.server import FakeTelegram, start_fake_server  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def wait_ready(fake: FakeTelegram, token: str, timeout: float = 60) -> None:
    """Wait until the bot under test is long-polling."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fake.state(token)["requests"].get("getUpdates", 0) >= 1:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"bot {token} did not start")


async def step(fake: FakeTelegram, token: str, user_id: int, action: str, expect: int) -> float:
    """Send one update and wait until the bot changed `expect` messages in the chat; returns seconds."""
    chat = fake.get_bot(token).chat(user_id)
    baseline = max((m.seq for m in chat.messages.values()), default=0)
    started = time.perf_counter()
    if action.startswith("tap:"):
        latest = max(chat.messages)
        fake.inject_callback(token, user_id, latest, action[4:])
    else:
        fake.inject_message(token, user_id, action, first_name=f"Vecina {user_id}", language_code="es")
    got = await fake.wait_bot_messages(token, user_id, wait=expect, timeout=30, changed_after=baseline)
    if len(got) < expect:
        raise RuntimeError(f"user {user_id}: no answer to {action!r}")
    return time.perf_counter() - started


def registration_script(barrio: int, circle: int) -> list[str]:
    """The six updates of one resident's registration (a command, then five button taps)."""
    return ["/start", "tap:lang:es", "tap:consent:yes", f"tap:barrio:{barrio}", f"tap:circle:{circle}", "tap:nobld"]


async def registration(fake: FakeTelegram, token: str, user_id: int, barrio: int, circle: int) -> list[float]:
    """Send one registration's updates to a bot, each after the bot answered the previous one.
    Vecinos answers 'consent:yes' with an edit and a new message; the echo bot changes one message a step."""
    script = registration_script(barrio, circle)
    vecinos = "bench-vecinos" in token
    expected = [2 if vecinos and action == "tap:consent:yes" else 1 for action in script]
    return [await step(fake, token, user_id, action, n) for action, n in zip(script, expected, strict=True)]


def cpu_seconds(pid: int) -> float:
    """User+system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(label: str, sessions: list, pid: int) -> dict:
    """Run the sessions concurrently and summarise, with the bot process's CPU time per update."""
    cpu_before, own_before = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    results = await asyncio.gather(*sessions)
    elapsed = time.perf_counter() - started
    cpu, own = cpu_seconds(pid) - cpu_before, time.process_time() - own_before
    latencies = [x for r in results for x in r]
    return {
        "bot": label,
        "updates": len(latencies),
        "seconds": round(elapsed, 3),
        "updates_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p99": round(percentile(latencies, 0.99) * 1000, 1),
        },
        "bot_cpu_ms_per_update": round(cpu / len(latencies) * 1000, 3),
        "bot_cpu_busy": round(cpu / elapsed, 2),
        "driver_and_fake_server_cpu_busy": round(own / elapsed, 2),
    }


async def start_process(*args: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Start a bot process, logging to a file."""
    handle = log.open("ab")
    return await asyncio.create_subprocess_exec(*args, cwd=str(ROOT), env=env, stdout=handle, stderr=handle)


BOTS = {
    # engine: (Vecinos token, echo bot token, echo bot script)
    "aiogram": ("111111:bench-vecinos-aiogram", "222222:bench-echo-aiogram", "echo_bot.py"),
    "ptb": ("333333:bench-vecinos-ptb", "444444:bench-echo-ptb", "echo_bot_ptb.py"),
}


async def measure_pair(
    fake: FakeTelegram, url: str, engine: str, users: int, database_url: str | None, workdir: Path, first_user: int
) -> tuple[dict, dict]:
    """Vecinos on one engine, then that engine's bare echo bot, each alone on the machine."""
    vecinos_token, echo_token, echo_script = BOTS[engine]
    env = {
        **os.environ,
        "VECINOS_BOT_TOKEN": vecinos_token,
        "VECINOS_TELEGRAM_API_URL": url,
        "VECINOS_DATABASE_URL": database_url or f"sqlite:///{workdir}/bench-{engine}.db",
        "VECINOS_ENGINE": engine,
        "VECINOS_HTTP_PORT": "0",
    }
    barrio, circle = 2, 7  # Embajadores, Plaza de Lavapiés in the MCD seed
    figures = []
    for label, token, command in (
        (f"vecinos ({engine})", vecinos_token, [sys.executable, "-m", "bot", "run"]),
        (
            f"{engine} echo",
            echo_token,
            [sys.executable, str(ROOT / "bench" / echo_script), "--token", echo_token, "--api", url],
        ),
    ):
        process = await start_process(*command, env=env, log=workdir / f"{token.split(':')[0]}.log")
        try:
            await wait_ready(fake, token)
            await asyncio.gather(*(registration(fake, token, first_user + i, barrio, circle) for i in range(5)))
            sessions = [registration(fake, token, first_user + 100 + i, barrio, circle) for i in range(users)]
            figures.append(await measure(label, sessions, process.pid))
        finally:
            process.terminate()
            await process.wait()
    return figures[0], figures[1]


async def fresh_postgres(url: str) -> tuple[str, str]:
    """A new, empty database next to the one named by `url` (update ids restart with every fake server, so
    a database from an earlier run would take them for redeliveries); returns (its URL, its name)."""
    import uuid

    import asyncpg

    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"vecinos_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return plain.rsplit("/", 1)[0] + "/" + name, name


async def drop_postgres(url: str, name: str) -> None:
    """Drop a database made by fresh_postgres."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main(users: int, database_url: str | None, engines: list[str]) -> dict:
    """Run each engine's Vecinos and bare echo bot under the same load; print figures and ratios."""
    scratch = await fresh_postgres(database_url) if database_url else None
    try:
        return await run_all(users, scratch[0] if scratch else None, engines)
    finally:
        if scratch and database_url:
            await drop_postgres(database_url, scratch[1])


async def run_all(users: int, database_url: str | None, engines: list[str]) -> dict:
    """Measure every engine against one fake server."""
    fake, runner, url = await start_fake_server("127.0.0.1", 0)
    workdir = Path(tempfile.mkdtemp(prefix="vecinos-bench-"))
    report: dict = {
        "workload": f"{users} concurrent residents x 6 registration updates (1 command, 5 taps), sent to each bot",
        "database": "postgresql" if database_url and database_url.startswith("postgres") else "sqlite",
        "results": [],
        "ratios": {},
    }
    try:
        for index, engine in enumerate(engines):
            vecinos, echo = await measure_pair(
                fake, url, engine, users, database_url, workdir, first_user=1000 + index * 100_000
            )
            report["results"] += [vecinos, echo]
            report["ratios"][engine] = {
                "throughput_vecinos_to_echo": round(vecinos["updates_per_second"] / echo["updates_per_second"], 3),
                "p99_vecinos_to_echo": round(vecinos["latency_ms"]["p99"] / echo["latency_ms"]["p99"], 2),
            }
    finally:
        await runner.cleanup()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="concurrent simulated residents")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: fresh SQLite files)")
    parser.add_argument(
        "--engine",
        default="aiogram",
        choices=["aiogram", "ptb", "both"],
        help="aiogram (default); ptb measures python-telegram-bot beside aiogram; both: the same",
    )
    args = parser.parse_args()
    engines = ["aiogram"] if args.engine == "aiogram" else ["aiogram", "ptb"]
    print(json.dumps(asyncio.run(main(args.users, args.database_url, engines)), indent=2))
