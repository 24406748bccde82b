"""Composition: settings -> database, catalogs, dispatcher, channel, outbox sender and scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.i18n import Catalogs
from bot.outbox import OutboxSender
from handlers import Dispatcher
from handlers.context import Services
from storage.db import Database
from storage.seed import DEFAULT_SEED, read_seed, seed_territory

log = logging.getLogger(__name__)


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

    @classmethod
    def build(cls, settings: Settings) -> Vecinos:
        """Wire the parts together (nothing is opened yet)."""
        db = Database(settings.database_url)
        catalogs = Catalogs(settings.default_language, settings.timezone)
        wakers: list = []
        services = Services(
            db=db,
            catalogs=catalogs,
            bot_username=settings.bot_username,
            reminder_every=timedelta(hours=settings.pending_reminder_hours),
            clock=utc_now,
            on_outbox=lambda: [wake() for wake in wakers],
        )
        return cls(settings, db, catalogs, services, Dispatcher(services), wakers)

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
        """Run the bot on aiogram polling with the outbox sender and the scheduler, until stopped."""
        from bot.channels.aiogram_channel import AiogramChannel, make_bot  # CLI commands need no aiogram

        stop = stop or asyncio.Event()
        await self.open()
        channel = AiogramChannel(make_bot(token, api_url), self.dispatcher, self.catalogs)
        sender = OutboxSender(
            self.db,
            channel,
            per_second=self.settings.send_rate_per_second,
            per_chat_interval=self.settings.per_chat_interval_seconds,
        )
        self.wakers.append(sender.wake)
        from bot.scheduler import build_scheduler

        scheduler = build_scheduler(self.services, self.settings.scheduler_tick_seconds)
        try:
            await channel.prepare()
            if channel.username:
                self.services = _with_username(self.services, channel.username)
                self.dispatcher.services = self.services
            scheduler.start()
            log.info("Vecinos is running as @%s against %s", channel.username, api_url)
            tasks = [asyncio.create_task(channel.poll(stop)), asyncio.create_task(sender.run(stop))]
            await stop.wait()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await channel.close()
            await self.db.dispose()


def _with_username(services: Services, username: str) -> Services:
    return replace(services, bot_username=username)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """Stop gracefully on SIGINT and SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
