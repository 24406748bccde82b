"""Composition: settings -> database, catalogs, dispatcher, channel, outbox sender and scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError, Settings
from bot.domain.coexistence import CoexistencePolicy
from bot.domain.elections import ElectionPolicy
from bot.domain.notices import DEFAULT_NOTICE_POLICY, NoticePolicy, parse_quiet_hours
from bot.domain.polls import PollPolicy
from bot.domain.proposals import SupportRule
from bot.errors import TaskEnded, cannot_listen
from bot.i18n import Catalogs
from bot.language_detection import state as language_models_state
from bot.outbox import OutboxSender
from handlers import Dispatcher
from handlers.context import Services
from handlers.notice_delivery import NoticeFeed
from storage.db import Database
from storage.seed import DEFAULT_SEED, read_seed, seed_territory

if TYPE_CHECKING:
    from aiohttp import web

    from bot.channels.runtime import ChannelRuntime
    from storage.leader import LeaderLock

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 3.0  # seconds a health check waits for the database or Telegram


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class Vecinos:
    """The running bot's parts, built from settings."""

    settings: Settings
    db: Database
    catalogs: Catalogs
    services: Services
    dispatcher: Dispatcher
    wakers: list = field(default_factory=list)
    # Run the notices tick now (a notice waits for machine translations): set while this process leads.
    notice_wakers: list = field(default_factory=list)
    http_port: int | None = None

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> Vecinos:
        """Wire the parts together (nothing is opened yet); `clock` is what every part reads the time from."""
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
        catalogs = Catalogs(settings.default_language, settings.timezone)
        wakers: list = []
        notice_wakers: list = []
        translator = None
        if settings.translate_url:
            from bot.machine_translation import LibreTranslateClient

            translator = LibreTranslateClient(
                settings.translate_url, api_key=settings.translate_api_key, timeout=settings.translate_timeout_seconds
            )
        services = Services(
            db=db,
            catalogs=catalogs,
            bot_username=settings.bot_username,
            reminder_every=timedelta(hours=settings.pending_reminder_hours),
            clock=clock,
            on_outbox=lambda: [wake() for wake in wakers],
            on_notice_due=lambda: [wake() for wake in notice_wakers],
            machine_translator=translator,
            report_follow_up_days=settings.report_follow_up_days,
            open311_keys=settings.open311_keys,
            polls=PollPolicy(
                reminder_before=timedelta(hours=settings.poll_reminder_hours),
                circle_support=SupportRule(settings.proposal_support_circle_percent, settings.proposal_min_support),
                barrio_support=SupportRule(settings.proposal_support_barrio_percent, settings.proposal_min_support),
                proposal_window=timedelta(days=settings.proposal_days),
                proposal_poll_length=timedelta(days=settings.proposal_poll_days),
            ),
            elections=ElectionPolicy(
                delegate_seats=settings.delegate_seats,
                term=timedelta(days=settings.delegate_term_days),
                nominations=timedelta(days=settings.election_nomination_days),
                voting=timedelta(days=settings.election_voting_days),
                forum_seats=settings.forum_seats,
            ),
            notices=NoticePolicy(
                delegate_daily_limit=settings.delegate_broadcasts_per_day,
                quiet=parse_quiet_hours(settings.quiet_hours) or DEFAULT_NOTICE_POLICY.quiet,
                digests=settings.weekly_digests,
            ),
            weekly_digests=settings.weekly_digests,
            coexistence=CoexistencePolicy(
                invite_reminder_after=timedelta(days=settings.coexistence_invite_reminder_days),
                invite_lapses_after=timedelta(days=settings.coexistence_invite_lapse_days),
                check_after=timedelta(days=settings.mediation_check_days),
                retention=timedelta(days=settings.coexistence_retention_days),
            ),
        )
        return cls(settings, db, catalogs, services, Dispatcher(services), wakers, notice_wakers)

    async def open(self) -> None:
        """Migrate the schema and, on an empty database, load the district seed."""
        await self.db.migrate()
        async with self.db.unit_of_work() as uow:
            empty = (await uow.territory.counts())["districts"] == 0
            if empty:
                path = Path(self.settings.seed_file) if self.settings.seed_file else DEFAULT_SEED
                counts = await seed_territory(uow, read_seed(path))
                await uow.commit()
                log.info("seeded territory from %s: %s", path, counts)

    async def run_polling(self, token: str, api_url: str, stop: asyncio.Event | None = None) -> None:
        """Run with long polling (whatever the settings say about webhooks)."""
        await self.run(token, api_url, stop, webhook=False)

    async def run(
        self,
        token: str,
        api_url: str,
        stop: asyncio.Event | None = None,
        *,
        engine: str | None = None,
        webhook: bool | None = None,
    ) -> None:
        """Run the bot until stopped: polling or webhook, on aiogram or python-telegram-bot. Whichever
        process holds the leader lock also runs the outbox sender and the scheduler."""
        stop = stop or asyncio.Event()
        engine = engine or self.settings.engine
        webhook = self.settings.webhook if webhook is None else webhook
        await self.open()
        channel = build_channel(
            engine,
            token,
            api_url,
            self.dispatcher,
            self.catalogs,
            connections=connections_for(self.settings.send_rate_per_second),
        )
        gc.enable()  # paused while the modules loaded, the engine's last (bot/__main__.py)
        sender = OutboxSender(
            self.db,
            channel,
            per_second=self.settings.send_rate_per_second,
            per_chat_interval=self.settings.per_chat_interval_seconds,
            bulk=NoticeFeed(self.catalogs),
            clock=self.services.clock,
            machine_translator=self.services.machine_translator,  # type: ignore[arg-type]
        )
        self.wakers.append(sender.wake)
        channel.answer_pacer = sender
        leader = self.db.leader_lock()
        tasks: list[asyncio.Task] = []
        web_runner = None
        try:
            await channel.prepare(polling=not webhook)
            # Everything loaded so far (modules, the frameworks' models) lives as long as the process: out of the
            # collector's sight, a full collection no longer stalls the sender for tens of milliseconds.
            gc.freeze()
            if channel.username:
                self.services = _with_username(self.services, channel.username)
                self.dispatcher.services = self.services
            web_runner = await self._serve_http(channel, engine, leader, webhook=webhook)
            if not webhook:
                tasks.append(asyncio.create_task(channel.poll(stop), name="polling"))
            tasks.append(asyncio.create_task(self._lead(leader, sender, stop), name="sender and scheduler"))
            log.info(
                "Vecinos is running on %s (%s) as @%s against %s",
                engine,
                "webhook" if webhook else "polling",
                channel.username,
                api_url,
            )
            await _until_stopped_or_failed(stop, tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if web_runner is not None:
                await web_runner.cleanup()
            await channel.close()
            await leader.release()
            translator = self.services.machine_translator
            if translator is not None and hasattr(translator, "close"):
                await translator.close()
            await self.db.dispose()

    async def _reachable(self, channel: ChannelRuntime) -> dict[str, bool]:
        """Whether the database and the Telegram API answer now (each within a few seconds)."""
        try:
            database = await asyncio.wait_for(self.db.ping(), HEALTH_TIMEOUT)
        except TimeoutError:
            database = False
        try:
            await asyncio.wait_for(channel.fetch_me(), HEALTH_TIMEOUT)
            telegram = True
        except Exception:  # unreachable, refused, timed out: the answer is the same
            telegram = False
        return {"database": database, "telegram": telegram}

    async def _metrics(self) -> bytes:
        """/metrics: the process's counters, and the outbox's depth and open cases read now."""
        from bot import metrics
        from bot.domain.reports import OPEN_STATES

        async def read() -> tuple[dict[tuple[str, str], int], dict[str, int]]:
            async with self.db.unit_of_work() as uow:
                depth = await uow.outbox.depth()
                by_status = await uow.cases.count_by_status([(None, None)])
            return depth, {state: n for state, n in by_status.items() if state in OPEN_STATES}

        metrics.watch_database(self.db.round_trips.counts)
        return await metrics.render(read)

    async def _serve_http(
        self, channel: ChannelRuntime, engine: str, leader: LeaderLock, *, webhook: bool
    ) -> web.AppRunner:
        """The bot's HTTP server: /healthz and Open311 always; Telegram's updates in webhook mode."""
        from aiohttp import web

        from bot.channels.http import build_http_app

        settings = self.settings
        secret = None
        if webhook:
            if not (settings.webhook_url and settings.webhook_secret):
                raise ConfigError("VECINOS_WEBHOOK_URL and VECINOS_WEBHOOK_SECRET: webhook mode needs both")
            secret = settings.webhook_secret.get_secret_value()
        mode = "webhook" if webhook else "polling"
        app = build_http_app(
            self.services,
            health=lambda: {
                "engine": engine,
                "mode": mode,
                "leader": leader.held,
                "pid": os.getpid(),
                "language_models": language_models_state(),
            },
            channel=channel if webhook else None,
            secret=secret,
            path=settings.webhook_path,
            checks=lambda: self._reachable(channel),
            metrics=self._metrics,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise cannot_listen(
                settings.http_host, settings.http_port, exc, "set VECINOS_HTTP_PORT to a free port"
            ) from None
        self.http_port = _bound_port(runner, settings.http_port)
        log.info("HTTP server on http://%s:%s (/healthz, /open311/v2)", settings.http_host, self.http_port)
        if webhook:
            assert secret is not None and settings.webhook_url
            await channel.install_webhook(settings.webhook_url, secret)
            log.info("receiving Telegram's updates on %s", settings.webhook_path)
        return runner

    async def _lead(self, leader: LeaderLock, sender: OutboxSender, stop: asyncio.Event) -> None:
        """Become the leader when possible; while leading, run the outbox sender and the scheduler."""
        from bot.scheduler import build_scheduler

        retry = self.settings.leader_retry_seconds
        while not stop.is_set():
            try:
                acquired = await leader.try_acquire()
            except Exception:
                log.exception("could not ask for the leader lock; retrying")
                acquired = False
            if not acquired:
                await _wait(stop, retry)
                continue
            log.info("this process (pid %s) now runs the outbox sender and the scheduler", os.getpid())
            scheduler = build_scheduler(self.services, self.settings.scheduler_tick_seconds)
            scheduler.start()
            notices_now = partial(_run_now, scheduler, "notices")
            self.notice_wakers.append(notices_now)
            sender_stop = asyncio.Event()
            sending = asyncio.create_task(sender.run(sender_stop))
            try:
                while not stop.is_set() and await leader.still_held():
                    await _wait(stop, retry)
                    if sending.done() and not stop.is_set():
                        error = None if sending.cancelled() else sending.exception()
                        raise TaskEnded(f"the outbox sender ended: {error!r}") from error
                    if not scheduler.running and not stop.is_set():
                        raise TaskEnded("the scheduler stopped")
            finally:
                sender_stop.set()
                sender.wake()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(sending, 10)
                self.notice_wakers.remove(notices_now)
                scheduler.shutdown(wait=False)


def _run_now(scheduler: Any, job_id: str) -> None:
    """Bring a scheduler job's next run forward to now."""
    with contextlib.suppress(Exception):  # the job is gone while the scheduler shuts down
        scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))


async def _until_stopped_or_failed(stop: asyncio.Event, tasks: list[asyncio.Task]) -> None:
    """Wait for `stop`; if a long-running task ends first, for whatever reason, log why and raise, so the
    process exits non-zero and a supervisor restarts it (never a process that answers nobody)."""
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({stopping, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    ended = [task for task in done if task is not stopping]
    if not ended or stop.is_set():
        return
    task = ended[0]
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.critical("the %s task failed; stopping Vecinos", task.get_name(), exc_info=error)
    else:
        log.critical("the %s task ended unexpectedly; stopping Vecinos", task.get_name())
    raise TaskEnded(f"the {task.get_name()} task ended: {error!r}" if error else f"the {task.get_name()} task ended")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def connections_for(send_rate_per_second: float) -> int:
    """HTTP connections to the Bot API that keep the outbox at its rate while Telegram takes up to ~250 ms per
    answer (rate x 0.4 s), and never fewer than the frameworks' default of 100."""
    return max(100, math.ceil(send_rate_per_second * 0.4))


def build_channel(
    engine: str,
    token: str,
    api_url: str,
    dispatcher: Dispatcher | None,
    catalogs: Catalogs,
    *,
    connections: int = 100,
) -> ChannelRuntime:
    """The channel runtime for an engine: 'aiogram' or 'ptb' (imported only when chosen)."""
    if engine == "ptb":
        from bot.channels.ptb_channel import PtbChannel, make_ptb_bot

        return PtbChannel(make_ptb_bot(token, api_url, connections=connections), dispatcher, catalogs)
    from bot.channels.aiogram_channel import AiogramChannel, make_bot

    return AiogramChannel(make_bot(token, api_url, connections=connections), dispatcher, catalogs)


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    """The port actually listened on (the one asked for, or the system's pick when asked for 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked


def _with_username(services: Services, username: str) -> Services:
    return replace(services, bot_username=username)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """Stop gracefully on SIGINT and SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
