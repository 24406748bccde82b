"""Start-up time and memory of `vecinos run`, against the bare echo bots and bare imports, in one run.

For each engine (aiogram, ptb) and each population (2,000 and 100,000 demo residents in the database), the bot
is started several times as its own process against the fake Bot API server in this process: the figures are
the median time from exec to the first getUpdates the fake server receives, and to the answer to a /start that
was waiting for it (aiogram's types are built when first used, so the first update costs more). The engine's
bare echo bot (bench/echo_bot.py, bench/echo_bot_ptb.py) and, with `--compare DIR`, the bot of another
checkout (e.g. an older commit unpacked with `git archive`) are started in turn with it, start after start, so a
burst of load on a shared machine falls on all alike. Then each is started once more and answers 2,000 updates
(half /help from residents already in the database, half /start from people new to the bot, many at once); its
resident set size (VmRSS) is read right after that start and after the updates. `python -c "import aiogram"`
and the like are measured in the same run too, so every figure can be read as a ratio. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import drop_postgres, fresh_postgres  # noqa: E402
from bot.fakeapi.server import FakeTelegram, start_fake_server  # noqa: E402
from storage.demo import DEMO_FIRST_USER_ID  # noqa: E402

ECHO_SCRIPTS = {"aiogram": "echo_bot.py", "ptb": "echo_bot_ptb.py"}
FRAMEWORK_MODULE = {"aiogram": "aiogram", "ptb": "telegram"}
# People new to the bot start from here, far from the demo residents' ids.
NEW_USERS_FROM = 5_000_000


def rss_mb(pid: int) -> float:
    """A process's resident set size in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def spread(values: list[float]) -> dict[str, float]:
    """Median, minimum and maximum, rounded to milliseconds."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


async def start_until_polling(
    fake: FakeTelegram, token: str, command: list[str], *, cwd: Path, env: dict[str, str], log: Path, user_id: int
) -> tuple[float, float, asyncio.subprocess.Process]:
    """Start a bot process with a /start from `user_id` waiting for it; (seconds from exec to its first
    getUpdates, seconds from exec to its answer to that /start, the process)."""
    bot = fake.get_bot(token)
    before = bot.request_counts.get("getUpdates", 0)
    fake.inject_message(token, user_id, "/start", first_name=f"Vecina {user_id}", language_code="es")
    handle = log.open("ab")
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*command, cwd=str(cwd), env=env, stdout=handle, stderr=handle)
    deadline = started + 120
    while bot.request_counts.get("getUpdates", 0) <= before:
        if process.returncode is not None or time.perf_counter() > deadline:
            raise RuntimeError(f"{' '.join(command)} did not start polling; see {log}")
        await asyncio.sleep(0.002)
    polling = time.perf_counter() - started
    if not await fake.wait_bot_messages(token, user_id, wait=1, timeout=60):
        raise RuntimeError(f"{' '.join(command)} did not answer the /start sent before it started; see {log}")
    return polling, time.perf_counter() - started, process


async def stop(process: asyncio.subprocess.Process) -> None:
    """Terminate a bot process and wait for it."""
    if process.returncode is None:
        process.terminate()
        await process.wait()


async def answer_load(fake: FakeTelegram, token: str, updates: int, first_new_user: int, concurrency: int) -> float:
    """Send `updates` updates from as many people, `concurrency` at a time, each waiting for its answer; half
    /help from demo residents already in the database, half /start from new people. Returns updates/s."""
    bot = fake.get_bot(token)
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for i in range(updates):
        if i % 2:
            queue.put_nowait((first_new_user + i, "/start"))
        else:
            queue.put_nowait((DEMO_FIRST_USER_ID + i, "/help"))

    async def person() -> None:
        while not queue.empty():
            user_id, text = queue.get_nowait()
            chat = bot.chat(user_id)
            baseline = max((m.seq for m in chat.messages.values()), default=0)
            fake.inject_message(token, user_id, text, first_name=f"Vecina {user_id}", language_code="es")
            got = await fake.wait_bot_messages(token, user_id, wait=1, timeout=60, changed_after=baseline)
            if not got:
                raise RuntimeError(f"user {user_id}: no answer to {text}")

    started = time.perf_counter()
    await asyncio.gather(*(person() for _ in range(concurrency)))
    return round(updates / (time.perf_counter() - started), 1)


@dataclass
class Subject:
    """One bot to measure: how to start it, and where its figures go."""

    figures: dict
    token: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    first_new_user: int
    seconds: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)


async def start_subject(
    fake: FakeTelegram, subject: Subject, user_id: int
) -> tuple[float, float, asyncio.subprocess.Process]:
    """Start one subject until it polls and has answered `user_id`'s waiting /start."""
    return await start_until_polling(
        fake, subject.token, subject.command, cwd=subject.cwd, env=subject.env, log=subject.log, user_id=user_id
    )


async def measure_interleaved(fake: FakeTelegram, subjects: list[Subject], args: argparse.Namespace) -> None:
    """Start every subject `args.starts` times, taking turns, so a burst of load on the shared machine falls on
    all of them alike; then start each once more, read its RSS, have it answer the load, read it again."""
    for attempt in range(args.starts):
        for subject in subjects:
            polling, answer, process = await start_subject(
                fake, subject, subject.first_new_user + args.updates + attempt
            )
            await stop(process)
            subject.seconds.append(polling)
            subject.answered.append(answer)
    for subject in subjects:
        _, _, process = await start_subject(fake, subject, subject.first_new_user + args.updates + args.starts)
        try:
            rss_started = rss_mb(process.pid)
            rate = await answer_load(fake, subject.token, args.updates, subject.first_new_user, args.concurrency)
            rss_loaded = rss_mb(process.pid)
        finally:
            await stop(process)
        subject.figures.update(
            {
                "seconds_to_first_getupdates": spread(subject.seconds),
                "seconds_to_first_answer": spread(subject.answered),
                "rss_mb_after_start": rss_started,
                "rss_mb_after_updates": rss_loaded,
                "updates": args.updates,
                "updates_per_second": rate,
            }
        )


def measure_import(statement: str, starts: int) -> dict:
    """`python -c statement`: median seconds from exec to exit, and the RSS it ends with."""
    code = f"{statement}\nprint(open('/proc/self/status').read())"
    seconds, rss = [], 0.0
    for _ in range(starts):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        seconds.append(time.perf_counter() - started)
        line = next(line for line in out.splitlines() if line.startswith("VmRSS:"))
        rss = round(int(line.split()[1]) / 1024, 1)
    return {"python -c": statement, "seconds_to_exit": spread(seconds), "rss_mb": rss}


def populate(database_url: str, residents: int, workdir: Path) -> None:
    """Migrate, seed the MCD territory and add `residents` demo residents (`vecinos demo populate`)."""
    env = {**os.environ, "VECINOS_DATABASE_URL": database_url}
    env.pop("VECINOS_BOT_TOKEN", None)
    with (workdir / "populate.log").open("ab") as log:
        subprocess.run(
            [sys.executable, "-m", "bot", "demo", "populate", "--residents", str(residents)],
            cwd=str(ROOT),
            env=env,
            check=True,
            stdout=log,
            stderr=log,
        )


async def fresh_database(base_url: str | None, name: str, workdir: Path) -> tuple[str, str | None]:
    """A new empty database: a SQLite file in `workdir`, or a new PostgreSQL database beside `base_url`."""
    if not base_url:
        return f"sqlite:///{workdir}/{name}.db", None
    return await fresh_postgres(base_url)


async def run(args: argparse.Namespace) -> dict:
    """Measure the baselines, then every checkout x engine x population against one fake server."""
    checkouts = [("this checkout", ROOT)] + [(f"compare: {path}", Path(path).resolve()) for path in args.compare]
    report: dict = {
        "what": (
            "seconds from exec to the first getUpdates and to the answer to a /start waiting for the bot (median of "
            "starts), VmRSS right after start and after "
            "answering the updates; python -c: seconds from exec to exit and the RSS it ends with"
        ),
        "database": "postgresql" if args.database_url else "sqlite",
        "starts": args.starts,
        "imports": [
            measure_import(statement, args.starts) for statement in ("pass", "import aiogram", "import telegram")
        ],
        "echo": [],
        "vecinos": [],
        "ratios": [],
    }
    fake, runner, url = await start_fake_server("127.0.0.1", 0)
    workdir = Path(tempfile.mkdtemp(prefix="vecinos-startup-"))
    users = iter(range(NEW_USERS_FROM, 10**9, args.updates + args.starts + 1))
    scratches: list[str] = []
    try:
        for engine in args.engines:
            token = f"{700000 + len(report['echo'])}:startup-echo-{engine}"
            echo = Subject(
                {"bot": f"{engine} echo", "engine": engine},
                token,
                [sys.executable, str(ROOT / "bench" / ECHO_SCRIPTS[engine]), "--token", token, "--api", url],
                ROOT,
                dict(os.environ),
                workdir / f"echo-{engine}.log",
                next(users),
            )
            subjects = [echo]
            for residents in args.residents:
                for index, (checkout, path) in enumerate(checkouts):
                    name = f"{residents}-{index}-{engine}"
                    database_url, scratch = await fresh_database(args.database_url, name.replace("-", "_"), workdir)
                    if scratch:
                        scratches.append(scratch)
                    populate(database_url, residents, workdir)
                    token = f"{800000 + len(report['vecinos']) + len(subjects)}:startup-vecinos-{name}"
                    env = {
                        **os.environ,
                        "VECINOS_BOT_TOKEN": token,
                        "VECINOS_TELEGRAM_API_URL": url,
                        "VECINOS_DATABASE_URL": database_url,
                        "VECINOS_ENGINE": engine,
                        "VECINOS_HTTP_PORT": "0",
                    }
                    figures = {"bot": "vecinos run", "checkout": checkout, "engine": engine, "residents": residents}
                    command = [sys.executable, "-m", "bot", "run"]
                    log = workdir / f"vecinos-{name}.log"
                    subjects.append(Subject(figures, token, command, path, env, log, next(users)))
            await measure_interleaved(fake, subjects, args)
            report["echo"].append(echo.figures)
            for subject in subjects[1:]:
                figures = subject.figures
                report["vecinos"].append(figures)
                report["ratios"].append(
                    {
                        "checkout": figures["checkout"],
                        "engine": engine,
                        "residents": figures["residents"],
                        "start_vecinos_to_echo": round(
                            figures["seconds_to_first_getupdates"]["median"]
                            / echo.figures["seconds_to_first_getupdates"]["median"],
                            2,
                        ),
                        "rss_after_updates_vecinos_to_echo": round(
                            figures["rss_mb_after_updates"] / echo.figures["rss_mb_after_updates"], 2
                        ),
                    }
                )
    finally:
        await runner.cleanup()
        for scratch in scratches:
            await drop_postgres(args.database_url, scratch)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="both", choices=["aiogram", "ptb", "both"])
    parser.add_argument(
        "--residents", type=int, nargs="+", default=[2_000, 100_000], help="demo residents in the database"
    )
    parser.add_argument("--starts", type=int, default=5, help="starts per figure (the median is reported)")
    parser.add_argument("--updates", type=int, default=2_000, help="updates answered before the second RSS")
    parser.add_argument("--concurrency", type=int, default=50, help="people waiting for an answer at once")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: fresh SQLite files)")
    parser.add_argument(
        "--compare", action="append", default=[], metavar="DIR", help="also measure the bot in this checkout"
    )
    args = parser.parse_args()
    args.engines = ["aiogram", "ptb"] if args.engine == "both" else [args.engine]
    print(json.dumps(asyncio.run(run(args)), indent=2))
