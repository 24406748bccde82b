"""Throughput and latency of Vecinos registrations against a bare aiogram echo bot, in one run.

Both bots run as separate processes against the same fake Bot API server (in this process, with the load
driver). Simulated users each wait for the bot's answer before sending their next update (closed loop), so
latency is what a person would feel and updates/s is what the bot sustains. Prints JSON: each bot's figures,
Vecinos / echo ratios (the echo bot measured in the same run), and Vecinos' database round trips per update
(statements, BEGINs and COMMITs sent, read from each process's /metrics `vecinos_db_statements_total`).

Usage:
    python bench/throughput.py                                   # SQLite, aiogram, 200 users
    python bench/throughput.py --database-url postgresql://root@127.0.0.1:5432/test   # a fresh database
    python bench/throughput.py --database-url postgresql://... --webhook-processes 2  # also two webhook
                                                                 # processes behind a round-robin balancer
    python bench/throughput.py --users 50 --engine both          # fewer users; python-telegram-bot too
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

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


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def statement_counts(ports: list[int]) -> dict[str, float]:
    """`vecinos_db_statements_total` by kind, summed over the processes serving /metrics on `ports`."""
    counts: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for port in ports:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                for line in (await resp.text()).splitlines():
                    if line.startswith("vecinos_db_statements_total{"):
                        kind = line.split('kind="', 1)[1].split('"', 1)[0]
                        counts[kind] = counts.get(kind, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


async def measure(label: str, sessions: list, pids: list[int], metrics_ports: list[int] | None = None) -> dict:
    """Run the sessions concurrently and summarise, with the bot processes' CPU time per update and (when
    they serve /metrics) their database round trips per update."""
    cpu_before, own_before = sum(cpu_seconds(pid) for pid in pids), time.process_time()
    statements_before = await statement_counts(metrics_ports) if metrics_ports else {}
    started = time.perf_counter()
    results = await asyncio.gather(*sessions)
    elapsed = time.perf_counter() - started
    cpu, own = sum(cpu_seconds(pid) for pid in pids) - cpu_before, time.process_time() - own_before
    statements_after = await statement_counts(metrics_ports) if metrics_ports else {}
    latencies = [x for r in results for x in r]
    extra: dict = {}
    if metrics_ports:
        sent = {kind: statements_after[kind] - statements_before.get(kind, 0.0) for kind in statements_after}
        extra["round_trips_per_update"] = round(sum(sent.values()) / len(latencies), 2)
        extra["round_trips_by_kind_per_update"] = {k: round(v / len(latencies), 2) for k, v in sorted(sent.items())}
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
        **extra,
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


def bot_env(url: str, token: str, engine: str, database_url: str | None, workdir: Path, http_port: int) -> dict:
    """The environment of a Vecinos process under test."""
    return {
        **os.environ,
        "VECINOS_BOT_TOKEN": token,
        "VECINOS_TELEGRAM_API_URL": url,
        "VECINOS_DATABASE_URL": database_url or f"sqlite:///{workdir}/bench-{engine}.db",
        "VECINOS_ENGINE": engine,
        "VECINOS_HTTP_PORT": str(http_port),
        # Answers take turns of Telegram's global send rate (30/s by default), which would cap this bench at
        # that rate; the fake server enforces none, so allow paid broadcasts' 1000/s and measure the bot itself.
        "VECINOS_SEND_RATE_PER_SECOND": os.environ.get("VECINOS_SEND_RATE_PER_SECOND", "1000"),
    }


BARRIO, CIRCLE = 2, 7  # Embajadores, Plaza de Lavapiés in the MCD seed


async def warm_up_and_measure(
    fake: FakeTelegram, label: str, token: str, users: int, first_user: int, pids: list[int], ports: list[int]
) -> dict:
    """A few registrations to warm the bot up, then `users` concurrent ones, measured."""
    await asyncio.gather(*(registration(fake, token, first_user + i, BARRIO, CIRCLE) for i in range(5)))
    sessions = [registration(fake, token, first_user + 100 + i, BARRIO, CIRCLE) for i in range(users)]
    return await measure(label, sessions, pids, ports)


async def measure_pair(
    fake: FakeTelegram, url: str, engine: str, users: int, database_url: str | None, workdir: Path, first_user: int
) -> tuple[dict, dict]:
    """Vecinos on one engine, then that engine's bare echo bot, each alone on the machine."""
    vecinos_token, echo_token, echo_script = BOTS[engine]
    http_port = free_port()
    env = bot_env(url, vecinos_token, engine, database_url, workdir, http_port)
    figures = []
    for label, token, command, ports in (
        (f"vecinos ({engine})", vecinos_token, [sys.executable, "-m", "bot", "run"], [http_port]),
        (
            f"{engine} echo",
            echo_token,
            [sys.executable, str(ROOT / "bench" / echo_script), "--token", echo_token, "--api", url],
            [],
        ),
    ):
        process = await start_process(*command, env=env, log=workdir / f"{token.split(':')[0]}.log")
        try:
            await wait_ready(fake, token)
            for port in ports:
                await fully_started(port)
            figures.append(await warm_up_and_measure(fake, label, token, users, first_user, [process.pid], ports))
        finally:
            process.terminate()
            await process.wait()
    return figures[0], figures[1]


async def start_balancer(backends: list[int]) -> tuple[web.AppRunner, int, aiohttp.ClientSession]:
    """A round-robin HTTP balancer in front of the webhook processes (what a reverse proxy does)."""
    turn = itertools.count()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        port = backends[next(turn) % len(backends)]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with session.post(f"http://127.0.0.1:{port}{request.path}", data=body, headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read(), content_type=resp.content_type)

    app = web.Application()
    app.router.add_post("/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port, session


async def measure_webhook_cluster(
    fake: FakeTelegram, url: str, processes: int, users: int, database_url: str, workdir: Path, first_user: int
) -> dict:
    """Vecinos (aiogram) as `processes` webhook processes sharing one database, behind a balancer."""
    token = "555555:bench-vecinos-webhooks"
    ports = [free_port() for _ in range(processes)]
    while len(set(ports)) < processes:
        ports = [free_port() for _ in range(processes)]
    runner, balancer_port, session = await start_balancer(ports)
    started: list[asyncio.subprocess.Process] = []
    try:
        for port in ports:
            env = {
                **bot_env(url, token, "aiogram", database_url, workdir, port),
                "VECINOS_WEBHOOK": "true",
                "VECINOS_WEBHOOK_URL": f"http://127.0.0.1:{balancer_port}/telegram/webhook",
                "VECINOS_WEBHOOK_SECRET": "bench-webhook-secret",
            }
            started.append(
                await start_process(sys.executable, "-m", "bot", "run", env=env, log=workdir / f"webhook-{port}.log")
            )
            # One at a time: the first migrates and seeds the fresh database, the next finds it ready.
            deadline = time.monotonic() + 120
            while not await healthy(port):
                if time.monotonic() > deadline or started[-1].returncode is not None:
                    raise RuntimeError(f"webhook process {len(started)} did not start (see {workdir})")
                await asyncio.sleep(0.2)
        for _ in range(600):
            if fake.state(token)["webhook"].get("url"):
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the webhook was never set")
        for port in ports:
            await fully_started(port)
        label = f"vecinos (aiogram, {processes} webhook processes)"
        return await warm_up_and_measure(fake, label, token, users, first_user, [p.pid for p in started], ports)
    finally:
        for process in started:
            if process.returncode is None:
                process.terminate()
        for process in started:
            await process.wait()
        await session.close()
        await runner.cleanup()


async def fully_started(port: int, timeout: float = 60) -> None:
    """Wait until a bot process is not loading anything in the background (the language detector's models),
    so the measurement sees the steady state, not a load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as resp,
            ):
                if (await resp.json()).get("language_models", "loaded") != "loading":
                    return
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the bot on port {port} did not finish starting")


async def healthy(port: int) -> bool:
    """Whether a bot process answers /healthz."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as resp,
        ):
            return resp.status < 500
    except (aiohttp.ClientError, TimeoutError):
        return False


def ratios(vecinos: dict, echo: dict) -> dict:
    """Vecinos' figures over the echo bot's, measured in the same run."""
    return {
        "throughput_vecinos_to_echo": round(vecinos["updates_per_second"] / echo["updates_per_second"], 3),
        "p99_vecinos_to_echo": round(vecinos["latency_ms"]["p99"] / echo["latency_ms"]["p99"], 2),
    }


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


async def main(users: int, database_url: str | None, engines: list[str], webhook_processes: int) -> dict:
    """Run each engine's Vecinos and bare echo bot under the same load; print figures and ratios."""
    scratch = await fresh_postgres(database_url) if database_url else None
    # The cluster's bot has update ids of its own, which would read as redeliveries in the first database.
    cluster = await fresh_postgres(database_url) if database_url and webhook_processes else None
    try:
        return await run_all(
            users, scratch[0] if scratch else None, engines, webhook_processes, cluster[0] if cluster else None
        )
    finally:
        for made in (scratch, cluster):
            if made and database_url:
                await drop_postgres(database_url, made[1])


async def run_all(
    users: int, database_url: str | None, engines: list[str], webhook_processes: int, cluster_url: str | None
) -> dict:
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
            report["ratios"][engine] = ratios(vecinos, echo)
            if webhook_processes and engine == "aiogram":
                if cluster_url is None:
                    raise SystemExit("--webhook-processes needs --database-url (processes share PostgreSQL)")
                cluster = await measure_webhook_cluster(
                    fake, url, webhook_processes, users, cluster_url, workdir, first_user=50_000
                )
                report["results"].append(cluster)
                report["ratios"][f"aiogram, {webhook_processes} webhook processes"] = ratios(cluster, echo)
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
    parser.add_argument(
        "--webhook-processes",
        type=int,
        default=0,
        help="also measure this many Vecinos webhook processes sharing the database (needs --database-url)",
    )
    args = parser.parse_args()
    engines = ["aiogram"] if args.engine == "aiogram" else ["aiogram", "ptb"]
    print(json.dumps(asyncio.run(main(args.users, args.database_url, engines, args.webhook_processes)), indent=2))
