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

VECINOS_TOKEN = "111111:bench-vecinos"
ECHO_TOKEN = "222222:bench-echo"


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
    expected = [2 if token == VECINOS_TOKEN and action == "tap:consent:yes" else 1 for action in script]
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


async def main(users: int, database_url: str | None, engine: str) -> dict:
    """Run both bots under the same load and print their figures and ratio."""
    fake, runner, url = await start_fake_server("127.0.0.1", 0)
    workdir = Path(tempfile.mkdtemp(prefix="vecinos-bench-"))
    env = {
        **os.environ,
        "VECINOS_BOT_TOKEN": VECINOS_TOKEN,
        "VECINOS_TELEGRAM_API_URL": url,
        "VECINOS_DATABASE_URL": database_url or f"sqlite:///{workdir}/bench.db",
        "VECINOS_ENGINE": engine,
    }
    processes = []
    try:
        vecinos = await start_process(sys.executable, "-m", "bot", "run", env=env, log=workdir / "vecinos.log")
        processes.append(vecinos)
        echo = await start_process(
            sys.executable,
            str(ROOT / "bench" / "echo_bot.py"),
            "--token",
            ECHO_TOKEN,
            "--api",
            url,
            env=dict(os.environ),
            log=workdir / "echo.log",
        )
        processes.append(echo)
        await wait_ready(fake, VECINOS_TOKEN)
        await wait_ready(fake, ECHO_TOKEN)
        barrio, circle = 2, 7  # Embajadores, Plaza de Lavapiés in the MCD seed
        # Warm up both (imports, first connections, SQLite pages).
        for token in (VECINOS_TOKEN, ECHO_TOKEN):
            await asyncio.gather(*(registration(fake, token, 10 + i, barrio, circle) for i in range(5)))
        echo_figures = await measure(
            "aiogram echo", [registration(fake, ECHO_TOKEN, 1000 + i, barrio, circle) for i in range(users)], echo.pid
        )
        vecinos_figures = await measure(
            f"vecinos ({engine})",
            [registration(fake, VECINOS_TOKEN, 1000 + i, barrio, circle) for i in range(users)],
            vecinos.pid,
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        await runner.cleanup()
    ratio = vecinos_figures["updates_per_second"] / echo_figures["updates_per_second"]
    return {
        "workload": f"{users} concurrent residents x 6 registration updates (1 command, 5 taps), sent to each bot",
        "database": "postgresql" if database_url and database_url.startswith("postgres") else "sqlite",
        "results": [vecinos_figures, echo_figures],
        "ratio_vecinos_to_echo": round(ratio, 3),
        "p99_ratio_vecinos_to_echo": round(vecinos_figures["latency_ms"]["p99"] / echo_figures["latency_ms"]["p99"], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="concurrent simulated residents")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--engine", default="aiogram", choices=["aiogram"])
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.users, args.database_url, args.engine)), indent=2))
