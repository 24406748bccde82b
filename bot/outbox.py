"""The outbox sender: drains queued messages at a global rate, 1/s per chat, obeying 429 and 403."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.channels.base import Deliverer, Rejected, Reply, RetryLater, TransientFailure, Unreachable
from storage.db import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0


def backoff_seconds(attempts: int) -> float:
    """Wait before retry number `attempts` after a server error: 2, 4, 8 ... capped at five minutes."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(1, attempts))


@dataclass
class SendResult:
    """What happened to one claimed message."""

    message_id: int
    chat_id: int
    status: str  # sent | failed | retry | released | unreachable
    error: str | None = None
    retry_at: datetime | None = None


class RateLimiter:
    """A global pace (messages per second), which a 429 pauses for everyone."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self.paused_until = 0.0

    async def wait_turn(self) -> None:
        """Sleep until the next message may go out."""
        now = time.monotonic()
        slot = max(now, self._next, self.paused_until)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """Stop every send for `seconds` (Telegram's retry_after)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


class OutboxSender:
    """Claims due outbox rows and delivers them through a channel, recording every outcome."""

    def __init__(
        self,
        db: Database,
        deliverer: Deliverer,
        *,
        per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.limiter = RateLimiter(per_second)
        self.per_chat_interval = per_chat_interval
        self.batch_size = max(1, min(100, int(per_second)))
        self.clock = clock
        self._wake = asyncio.Event()
        self._last_sent: dict[int, float] = {}

    def wake(self) -> None:
        """Tell the sender new rows were committed."""
        self._wake.set()

    async def recover(self) -> int:
        """Return rows left 'sending' by a dead sender to the queue (at-least-once, never lost)."""
        async with self.db.unit_of_work() as uow:
            count = await uow.outbox.recover_stale(self.clock() + timedelta(seconds=1))
            await uow.commit()
        if count:
            log.warning("outbox: %s messages were in flight when the last sender stopped; resending", count)
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set."""
        await self.recover()
        while not stop.is_set():
            try:
                sent = await self.drain_once()
            except Exception:
                log.exception("outbox: a round failed; retrying shortly")
                sent = 0
            if sent == 0:
                self._wake.clear()
                pause = max(0.0, self.limiter.paused_until - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.2, min(1.0, pause or 1.0)))

    def _busy_chats(self) -> list[int]:
        horizon = time.monotonic() - self.per_chat_interval
        for chat_id in [c for c, at in self._last_sent.items() if at <= horizon]:
            del self._last_sent[chat_id]
        return list(self._last_sent)

    async def drain_once(self) -> int:
        """Claim and send one round of due messages; returns how many were attempted."""
        if self.limiter.paused_until > time.monotonic():
            return 0
        async with self.db.unit_of_work() as uow:
            rows = await uow.outbox.claim_due(self.clock(), self.batch_size, self._busy_chats())
            claimed = [(row.id, row.chat_id, row.attempts, dict(row.payload)) for row in rows]
            await uow.commit()
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._send(*item) for item in claimed))
        await self._settle(results)
        return len(claimed)

    async def _send(self, message_id: int, chat_id: int, attempts: int, payload: dict) -> SendResult:
        if self.limiter.paused_until > time.monotonic():
            return SendResult(message_id, chat_id, "released")
        await self.limiter.wait_turn()
        self._last_sent[chat_id] = time.monotonic()
        try:
            await self.deliverer.deliver(chat_id, Reply.from_dict(payload))
        except RetryLater as exc:
            self.limiter.pause(exc.retry_after)
            log.warning("outbox: rate limited, pausing all sends for %ss", exc.retry_after)
            return SendResult(message_id, chat_id, "released")
        except Unreachable as exc:
            return SendResult(message_id, chat_id, "unreachable", str(exc))
        except Rejected as exc:
            log.error("outbox: message %s refused: %s", message_id, exc)
            return SendResult(message_id, chat_id, "failed", str(exc))
        except (TransientFailure, OSError, TimeoutError) as exc:
            if attempts + 1 >= MAX_ATTEMPTS:
                return SendResult(message_id, chat_id, "failed", str(exc))
            retry_at = self.clock() + timedelta(seconds=backoff_seconds(attempts + 1))
            return SendResult(message_id, chat_id, "retry", str(exc), retry_at)
        return SendResult(message_id, chat_id, "sent")

    async def _settle(self, results: list[SendResult]) -> None:
        now = self.clock()
        async with self.db.unit_of_work() as uow:
            for r in results:
                if r.status == "released":
                    await uow.outbox.release(r.message_id)
                elif r.status == "retry":
                    await uow.outbox.settle(r.message_id, "pending", now, r.error, send_at=r.retry_at)
                elif r.status == "unreachable":
                    await uow.outbox.settle(r.message_id, "failed", now, r.error)
                    await uow.outbox.fail_chat(r.chat_id, r.error or "unreachable")
                    await uow.residents.mark_unreachable(r.chat_id, now)
                else:
                    await uow.outbox.settle(r.message_id, r.status, now, r.error)
            await uow.commit()
