"""The outbox sender: drains queued messages at the configured global rate, at most one message per chat per
interval and in each chat's order, pausing every send on a 429 and never retrying a chat that blocked the bot.

Pacing is continuous: a send starts whenever the rate allows, without waiting for the sends before it to be
answered (Telegram answers in 30-250 ms), so the configured rate is the achieved rate. Each message is settled
as soon as its own send completes; claimed messages carry a lease, so whatever a dead or stuck sender held is
claimed again by a live one.

A stored image sent to many (`Reply.photo_media`, a poll's result chart) is uploaded to Telegram once and then
sent by the file id Telegram gave it (MediaSender). Its media row is the one thing a send reads from the
database itself, once per image and sender (and once a minute after, to notice an image stored anew), and its
file id the one thing a send writes: the bookkeeping task does all the other database work.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import html
import itertools
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot import metrics
from bot.channels.base import (
    Button,
    Delivered,
    Deliverer,
    Rejected,
    Reply,
    RetryLater,
    TransientFailure,
    Unreachable,
)
from bot.domain.callbacks import cb
from bot.machine_translation import LibreTranslateClient, TranslationUnavailable
from storage.db import Database
from storage.media import MediaRow
from storage.notices import DeliveryOutcome
from storage.outbox import SOURCE_NOTICE, SOURCE_OUTBOX, OutboxItem, Settlement
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0
LEASE = timedelta(minutes=2)
# How often leases are renewed and expired leases reclaimed.
HOUSEKEEPING_SECONDS = 10.0
# Settlements are written together when they arrive within this many seconds of each other; at high rates
# the sender waits long enough for a few dozen (a commit blocks the loop on SQLite: at 1000/s, 200 commits a
# second cost a tenth of the rate), still a fraction of a send's round trip.
SETTLE_DELAY = 0.005
SETTLE_BATCH_SECONDS = 0.03
# Claim about this many seconds of sending ahead.
BUFFER_SECONDS = 1.0
# How long a sender trusts the file id it knows for a stored image before reading its media row again (so a key
# stored anew with other bytes reaches a running sender).
MEDIA_RECHECK_SECONDS = 60.0
# Telegram counts sends in sliding one-second windows when they arrive: a send waits until the one `rate`
# places before it started this much more than a second ago, so jitter on the way (ours and the server's,
# which grows with the load) never makes a window hold one too many. It costs the rate margin/(1+margin): 1.5 %
# at 30/s, 4 % at 1000/s, where a 429 would pause everything for a whole second. The smallest margin also
# spaces two sends to one chat.
PACING_MARGIN = 0.015
PACING_MARGIN_AT_1000 = 0.04


def pacing_margin(per_second: float) -> float:
    """Seconds a sliding window keeps to spare at this rate (more where more sends share the way)."""
    return PACING_MARGIN + (PACING_MARGIN_AT_1000 - PACING_MARGIN) * min(1.0, per_second / 1000)


class BulkFeed(Protocol):
    """Where the sender gets bulk messages rendered at send time (the notices' delivery rows)."""

    async def claim(
        self, uow: UnitOfWork, now: datetime, limit: int, sender: str, lease_until: datetime
    ) -> list[OutboxItem]:
        """Claim up to `limit` due messages for `sender`, rendered in each recipient's language."""
        ...


def _outcome(settlement: Settlement) -> DeliveryOutcome:
    """A notice delivery's settlement, as its row records it (a retry stays pending until `send_at`)."""
    return DeliveryOutcome(settlement.id, settlement.status, settlement.locale, settlement.send_at)


def backoff_seconds(attempts: int) -> float:
    """Wait before retry number `attempts` after a server error: 2, 4, 8 ... capped at five minutes."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(1, attempts))


class RateLimiter:
    """A global pace (messages per second) that a 429 pauses for everyone."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        # The start times of the last `per_second` sends: no sliding second ever holds more.
        # Each entry is [when the send started]: set at the turn, moved later if the send itself starts later
        # (a busy loop), so the window follows what reaches Telegram.
        self._window: deque[list[float]] = deque(maxlen=max(1, int(per_second)))
        self.margin = pacing_margin(per_second)
        # A wake-up that comes late may catch up this much, so timer lateness (a busy loop at 1000/s wakes
        # milliseconds late) does not lower the rate; the sliding window below still keeps every second
        # within the rate.
        self.catch_up = max(2 * self.interval, 0.05)
        self._clock = clock
        self._next = 0.0
        self.paused_until = 0.0
        # Answers to people talking to the bot waiting for a turn: bulk sends let them go first.
        self._urgent_waiting = 0

    @property
    def paused(self) -> bool:
        """Whether a 429 pause is still running."""
        return self.paused_until > self._clock()

    @property
    def pause_left(self) -> float:
        """Seconds the running 429 pause still lasts (0 without one)."""
        return max(0.0, self.paused_until - self._clock())

    async def wait_turn(self, *, urgent: bool = False) -> list[float]:
        """Sleep until the next message may start, and take that turn (the send starts right after); after a
        pause, wait for the pause's end first. `urgent` (an answer to someone talking to the bot) goes before
        every bulk send waiting: answers share Telegram's limit with the outbox instead of breaking it."""
        if urgent:
            self._urgent_waiting += 1
        try:
            while True:
                now = self._clock()
                slot = max(now - self.catch_up, self._next, self.paused_until)
                if len(self._window) == self._window.maxlen:
                    slot = max(slot, self._window[0][0] + 1.0 + self.margin)
                if slot > now:
                    await asyncio.sleep(slot - now)
                    continue  # someone may have taken the turn meanwhile: look again
                if not urgent and self._urgent_waiting:
                    await asyncio.sleep(0)  # let the answer take it
                    continue
                # Slots are spaced from the previous slot, not from when we woke.
                self._next = slot + self.interval
                turn = [now]
                self._window.append(turn)
                return turn
        finally:
            if urgent:
                self._urgent_waiting -= 1

    def pause(self, seconds: float) -> None:
        """Stop every send for `seconds` (Telegram's retry_after)."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)
        self._next = max(self._next, self.paused_until)


class ReadyQueue:
    """Claimed messages waiting for their turn: most urgent first, and none before its chat's interval has
    passed since that chat's last send."""

    def __init__(self, per_chat_interval: float) -> None:
        self.per_chat_interval = per_chat_interval + (PACING_MARGIN if per_chat_interval > 0 else 0.0)
        self._order = itertools.count()
        self._ready: list[tuple[int, int, int, OutboxItem]] = []  # (priority, id, seq, item)
        self._waiting: list[tuple[float, int, OutboxItem]] = []  # (not before, seq, item)
        self.last_sent: dict[int, float] = {}
        self.changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._ready) + len(self._waiting)

    def put(self, item: OutboxItem, not_before: float = 0.0) -> None:
        """Queue a claimed message (again, after a 429: `not_before` the pause's end)."""
        earliest = max(not_before, self.last_sent.get(item.chat_id, -1e18) + self.per_chat_interval)
        heapq.heappush(self._waiting, (earliest, next(self._order), item))
        self.changed.set()

    def _promote(self, now: float) -> None:
        while self._waiting and self._waiting[0][0] <= now:
            _, seq, item = heapq.heappop(self._waiting)
            heapq.heappush(self._ready, (item.priority, item.id, seq, item))

    def pop_ready(self, now: float) -> OutboxItem | None:
        """The most urgent message whose turn has come, if any (two messages to one chat held at once, say a
        notice and a personal message, go out one interval apart)."""
        self._promote(now)
        while self._ready:
            item = heapq.heappop(self._ready)[3]
            earliest = self.last_sent.get(item.chat_id, -1e18) + self.per_chat_interval
            if earliest <= now:
                return item
            heapq.heappush(self._waiting, (earliest, next(self._order), item))
        return None

    def next_time(self) -> float | None:
        """When the next waiting message's turn comes (None: nothing is waiting)."""
        if self._ready:
            return 0.0
        return self._waiting[0][0] if self._waiting else None

    def drain(self) -> list[OutboxItem]:
        """Take every held message out (when stopping)."""
        items = [entry[3] for entry in self._ready] + [entry[2] for entry in self._waiting]
        self._ready, self._waiting = [], []
        return items

    def sent(self, chat_id: int, at: float) -> None:
        """A send to `chat_id` started at `at`."""
        self.last_sent[chat_id] = at
        if len(self.last_sent) > 50_000:
            horizon = at - self.per_chat_interval
            self.last_sent = {c: t for c, t in self.last_sent.items() if t > horizon}


class MediaMissing(Exception):
    """An outbox message names a stored image (`photo_media`) that is not in the media table."""


class MediaSender:
    """Sends stored images (`Reply.photo_media`) to many, uploading each image's bytes to Telegram once.

    A send uses the file id this sender knows for the image, else the one on its media row; without either it
    uploads the bytes. The upload of an image is serialised (a lock per key): concurrent sends of the same image
    wait for it, then send by the file id it got, which is also written to the media row so other processes and
    restarts reuse it. A file id Telegram refuses (a 400 about the file: another bot token's id, say) is
    forgotten and the image uploaded again, once per send; other 400s (the chat, the caption) are the send's.
    """

    def __init__(
        self,
        db: Database,
        deliverer: Deliverer,
        *,
        limiter: RateLimiter | None = None,
        recheck_seconds: float = MEDIA_RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.limiter = limiter
        self.recheck_seconds = recheck_seconds
        self._clock = clock
        self._file_ids: dict[str, tuple[str, float]] = {}  # key -> (file id, trusted until)
        self._locks: dict[str, asyncio.Lock] = {}
        self.uploads = 0

    async def deliver(self, chat_id: int, reply: Reply) -> Delivered:
        """Send `reply`'s stored image (`photo_media`) as a photo, `text` its caption; raises MediaMissing when
        the image is not stored, and DeliveryErrors as the channel does."""
        key = reply.photo_media
        assert key is not None, "not a stored image"
        file_id = self._known(key)
        if file_id is None:
            found = await self._file_id_or_upload(chat_id, reply, key)
            if isinstance(found, Delivered):
                return found
            file_id = found
        try:
            return await self.deliverer.deliver(chat_id, replace(reply, photo_media=None, photo=file_id))
        except Rejected as exc:
            if not _refuses_file_id(exc):
                raise
            log.warning("outbox: Telegram refused the file id of stored image %r (%s); uploading it again", key, exc)
            self._forget(key, file_id)
            found = await self._file_id_or_upload(chat_id, reply, key, refused=file_id)
            if isinstance(found, Delivered):
                return found
            # Another send has uploaded it again meanwhile: its fresh id, with no further retry.
            return await self.deliverer.deliver(chat_id, replace(reply, photo_media=None, photo=found))

    async def _file_id_or_upload(
        self, chat_id: int, reply: Reply, key: str, *, refused: str | None = None
    ) -> str | Delivered:
        """Under the image's lock: a file id to send by (one another send got meanwhile, or the media row's; never
        `refused`), or else the delivery of this send, which uploads the bytes."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            known = self._known(key)
            if known is not None and known != refused:
                return known
            media = await self._load(key)
            if media.file_id is not None and media.file_id != refused:
                self._trust(key, media.file_id)
                return media.file_id
            if self.limiter is not None and self.limiter.paused:
                # The upload before ours met a 429: wait for the pause like every other send.
                raise RetryLater(self.limiter.pause_left, "paused before uploading a stored image")
            upload = replace(reply, photo_media=None, photo=None, photo_upload=media.content, filename=media.filename)
            delivered = await self.deliverer.deliver(chat_id, upload)
            self.uploads += 1
            if delivered.file_id is not None:
                self._trust(key, delivered.file_id)
                await self._remember(key, delivered.file_id)
            return delivered

    def _known(self, key: str) -> str | None:
        entry = self._file_ids.get(key)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def _trust(self, key: str, file_id: str) -> None:
        self._file_ids[key] = (file_id, self._clock() + self.recheck_seconds)

    def _forget(self, key: str, file_id: str) -> None:
        entry = self._file_ids.get(key)
        if entry is not None and entry[0] == file_id:
            del self._file_ids[key]

    async def _load(self, key: str) -> MediaRow:
        async with self.db.unit_of_work() as uow:
            media = await uow.media.get(key)
        if media is None:
            raise MediaMissing(f"the stored image {key!r} does not exist")
        return media

    async def _remember(self, key: str, file_id: str) -> None:
        try:
            async with self.db.unit_of_work() as uow:
                await uow.media.remember_file_id(key, file_id)
                await uow.commit()
        except Exception:
            # Not fatal: this sender keeps the id; other processes upload the image once more.
            log.exception("outbox: could not record the file id of stored image %r", key)


def _refuses_file_id(exc: Rejected) -> bool:
    """Whether a 400 is about the file id itself ("wrong file identifier/HTTP URL specified", expired file
    references, "MEDIA_EMPTY") rather than about the chat or the caption."""
    description = str(exc).lower()
    return "file" in description or "media" in description


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
        max_in_flight: int | None = None,
        lease: timedelta = LEASE,
        housekeeping_seconds: float = HOUSEKEEPING_SECONDS,
        bulk: BulkFeed | None = None,
        machine_translator: LibreTranslateClient | None = None,
    ) -> None:
        self.db = db
        self.machine_translator = machine_translator
        self.deliverer = deliverer
        self.bulk = bulk
        # Set when new outbox rows were committed: claim them even if the queue holds plenty of bulk work, so a
        # personal message never waits behind a district notice.
        self._claim_wanted = True
        self.per_second = per_second
        self.limiter = RateLimiter(per_second)
        self.queue = ReadyQueue(per_chat_interval)
        self.clock = clock
        self.lease = lease
        self.housekeeping_seconds = housekeeping_seconds
        self.batch_size = max(10, min(1000, int(per_second * BUFFER_SECONDS)))
        self.settle_delay = SETTLE_BATCH_SECONDS if per_second > 100 else SETTLE_DELAY
        # Enough concurrent sends to keep the rate with slow answers, bounded so a stalled API cannot pile up.
        self.max_in_flight = max_in_flight or max(8, min(1000, int(per_second * 2)))
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._settlements: list[tuple[Settlement, int | None]] = []
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self.sent_count = 0
        self.bulk_sent_count = 0
        self.media = MediaSender(db, deliverer, limiter=self.limiter)

    async def answer_turn(self, chat_id: int) -> None:
        """Before an answer goes to `chat_id` (outside the outbox): take a turn of the global rate ahead of the
        bulk, and make the chat's next outbox message wait its interval after it."""
        await self.limiter.wait_turn(urgent=True)
        self.queue.sent(chat_id, time.monotonic())

    def answer_limited(self, retry_after: float) -> None:
        """An answer met a 429: every send pauses, as for the outbox's own."""
        self.limiter.pause(retry_after)

    def wake(self) -> None:
        """Tell the sender new rows were committed."""
        self._claim_wanted = True
        self._wake.set()

    async def recover(self) -> int:
        """On start: every row another sender left 'sending' goes back to the queue (at-least-once: what was in
        flight when it died may be sent twice, nothing is lost)."""
        async with self.db.unit_of_work() as uow:
            count = await uow.outbox.reclaim(self.clock(), not_held_by=self.name)
            count += await uow.notices.reclaim(self.clock(), not_held_by=self.name)
            await uow.commit()
        if count:
            log.warning("outbox: %s messages were in flight when the last sender stopped; resending", count)
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set. Raises only if the sender cannot go on (the caller then exits)."""
        await self.recover()
        stopping = asyncio.Event()
        keeper = asyncio.create_task(self._keep_books(stopping), name="outbox-bookkeeping")
        stopper = asyncio.create_task(stop.wait())
        stopper.add_done_callback(lambda _: stopping.set())
        try:
            await self._dispatch(stopping, keeper)
        finally:
            stopping.set()
            stopper.cancel()
            self._wake.set()
            if self._in_flight:
                await asyncio.wait(self._in_flight, timeout=30)
            try:
                if not keeper.done():
                    await asyncio.wait_for(keeper, 30)
            except Exception:
                log.exception("outbox: the last settlements could not be written; their leases will expire")
            finally:
                await self._release_held()

    async def _dispatch(self, stop: asyncio.Event, keeper: asyncio.Task[None]) -> None:
        """Start each send when the global rate and its chat's interval allow."""
        while not stop.is_set():
            if keeper.done():
                keeper.result()  # the bookkeeper died: raise its error
                return
            now = time.monotonic()
            item = self.queue.pop_ready(now)
            if item is None:
                await self._wait_for_work(stop)
                continue
            # A free slot first, then the turn: a turn is taken only by a send that starts at once.
            await self._slots.acquire()
            turn = await self.limiter.wait_turn()
            if stop.is_set():
                self._slots.release()
                self.queue.put(item)
                return
            started = time.monotonic()
            if self.queue.last_sent.get(item.chat_id, -1e18) + self.queue.per_chat_interval > started:
                # An answer went to this chat while we waited for the turn: this one waits its interval.
                self._slots.release()
                self.queue.put(item)
                continue
            self.queue.sent(item.chat_id, started)
            task = asyncio.create_task(self._send(item, turn))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        next_time = self.queue.next_time()
        timeout = 0.5 if next_time is None else max(0.0, next_time - time.monotonic())
        self.queue.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.changed.wait(), timeout=min(timeout, 0.5))

    async def _send(self, item: OutboxItem, turn: list[float] | None = None) -> None:
        """One send; whatever happens, the message is settled or queued again, never stranded."""
        if turn is not None:
            turn[0] = max(turn[0], time.monotonic())  # the loop may have been busy since the turn was given
        settlement: Settlement | None = None
        blocked_chat: int | None = None
        try:
            reply = Reply.from_dict(item.payload)
            if reply.machine is not None and self.machine_translator is not None:
                reply = await self._machine_translated(reply, item.id)
            if reply.photo_media is not None:
                delivered = await self.media.deliver(item.chat_id, reply)
            else:
                delivered = await self.deliverer.deliver(item.chat_id, reply)
            settlement = Settlement(item.id, "sent", sent_message_id=delivered.message_id)
            self.sent_count += 1
            metrics.SENT.labels(source=item.source).inc()
            if item.source == SOURCE_NOTICE:
                self.bulk_sent_count += 1
        except RetryLater as exc:
            metrics.RATE_LIMITED.inc()
            self.limiter.pause(exc.retry_after)
            log.warning("outbox: rate limited, pausing all sends for %ss", exc.retry_after)
            # Still ours and still first in its chat: send it again after the pause, without an attempt.
            self.queue.put(item, not_before=self.limiter.paused_until)
        except Unreachable as exc:
            metrics.BLOCKED.inc()
            status = "unreachable" if item.source == SOURCE_NOTICE else "failed"
            settlement = Settlement(item.id, status, error=str(exc))
            blocked_chat = item.chat_id
        except Rejected as exc:
            log.error("outbox: message %s refused: %s", item.id, exc)
            settlement = Settlement(item.id, "failed", error=str(exc))
        except MediaMissing as exc:
            log.error("outbox: message %s cannot be sent: %s", item.id, exc)
            settlement = Settlement(item.id, "failed", error=str(exc))
        except asyncio.CancelledError:
            self.queue.put(item)
            raise
        except Exception as exc:
            if not isinstance(exc, TransientFailure | OSError | TimeoutError):
                log.exception("outbox: sending message %s failed unexpectedly", item.id)
            if item.attempts + 1 >= MAX_ATTEMPTS:
                settlement = Settlement(item.id, "failed", error=str(exc) or type(exc).__name__)
            else:
                metrics.RETRIES.inc()
                delay = backoff_seconds(item.attempts + 1)
                # Why a warning: a retry holds back the rest of that chat's messages, which must be traceable.
                log.warning("outbox: message %s to chat %s failed (%r); retrying in %.0f s", item.id, item.chat_id,
                            exc, delay)  # fmt: skip
                retry_at = self.clock() + timedelta(seconds=delay)
                settlement = Settlement(item.id, "pending", error=str(exc) or type(exc).__name__, send_at=retry_at)
        finally:
            self._slots.release()
            if settlement is not None:
                if item.source != SOURCE_OUTBOX:
                    settlement = replace(settlement, source=item.source, locale=item.locale)
                self._settlements.append((settlement, blocked_chat))
            self._settled.set()

    async def _machine_translated(self, reply: Reply, item_id: int) -> Reply:
        """`reply` with its reader's machine translation in place of the original and a button to the original;
        `reply` itself when the translator gives nothing within its timeout (the original goes out)."""
        assert reply.machine is not None and self.machine_translator is not None
        wanted = reply.machine
        if wanted.get("original", "") not in reply.text:
            return reply
        try:
            translated = await self.machine_translator.translate(wanted["q"], wanted["source"], wanted["target"])
        except TranslationUnavailable:
            return reply
        shown = wanted["mark"] + "\n" + html.escape(translated, quote=False)
        button = Button(wanted["button"], cb("mto", item_id))
        return replace(reply, text=reply.text.replace(wanted["original"], shown, 1), buttons=[*reply.buttons, [button]])

    async def _keep_books(self, stop: asyncio.Event) -> None:
        """All the sender's database work: settle sends, claim more, renew leases, reclaim expired ones."""
        housekeeping_at = time.monotonic() + self.housekeeping_seconds
        failures = 0
        while True:
            stopping = stop.is_set()
            try:
                await self._write_settlements()
                if stopping:
                    if not self._in_flight and not self._settlements:
                        return
                else:
                    low = len(self.queue) < self.batch_size // 2
                    if (low or self._claim_wanted) and not self.limiter.paused:
                        await self._claim(bulk=low)
                    if time.monotonic() >= housekeeping_at:
                        await self._housekeeping()
                        housekeeping_at = time.monotonic() + self.housekeeping_seconds
                failures = 0
            except Exception:
                failures += 1
                if failures >= 30:
                    raise
                log.exception("outbox: database work failed; retrying")
                await asyncio.sleep(min(5.0, 0.2 * failures))
                continue
            await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        if self._settlements:
            await asyncio.sleep(self.settle_delay)
            return
        self._wake.clear()
        self._settled.clear()
        waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._settled)]
        timeout = 0.05 if stop.is_set() else (0.2 if len(self.queue) >= self.batch_size // 2 else 1.0)
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._settlements:
            await asyncio.sleep(self.settle_delay)

    async def _write_settlements(self) -> None:
        if not self._settlements:
            return
        batch, self._settlements = self._settlements, []
        now = self.clock()
        try:
            async with self.db.unit_of_work() as uow:
                await uow.outbox.settle([s for s, _ in batch if s.source == SOURCE_OUTBOX], now)
                await uow.notices.settle([_outcome(s) for s, _ in batch if s.source == SOURCE_NOTICE], now)
                for settlement, blocked_chat in batch:
                    if blocked_chat is not None:
                        await uow.outbox.fail_chat(blocked_chat, settlement.error or "unreachable")
                        await uow.notices.fail_chat(blocked_chat)
                        await uow.residents.mark_unreachable(blocked_chat, now)
                await uow.commit()
        except Exception:
            # Keep them for the next try; if this process dies first, their leases expire and they are resent.
            self._settlements = batch + self._settlements
            raise

    async def _claim(self, *, bulk: bool = True) -> None:
        """Claim outbox rows (personal first), then, when the queue runs low, notices' deliveries to fill it."""
        now = self.clock()
        self._claim_wanted = False
        async with self.db.unit_of_work() as uow:
            # A chat whose message is held here is 'sending', so the claim skips it by itself.
            items = await uow.outbox.claim(now, self.batch_size, self.name, now + self.lease)
            room = self.batch_size - len(self.queue) - len(items)
            if bulk and self.bulk is not None and room > 0:
                items += await self.bulk.claim(uow, now, room, self.name, now + self.lease)
            await uow.commit()
        for item in items:
            self.queue.put(item)

    async def _housekeeping(self) -> None:
        now = self.clock()
        async with self.db.unit_of_work() as uow:
            await uow.outbox.renew_leases(self.name, now + self.lease)
            await uow.notices.renew_leases(self.name, now + self.lease)
            reclaimed = await uow.outbox.reclaim(now) + await uow.notices.reclaim(now)
            await uow.commit()
        if reclaimed:
            log.warning("outbox: %s messages had an expired lease; queued again", reclaimed)

    async def _release_held(self) -> None:
        drained = self.queue.drain()
        held = [item.id for item in drained if item.source == SOURCE_OUTBOX]
        held_bulk = [item.id for item in drained if item.source == SOURCE_NOTICE]
        if not drained and not self._settlements:
            return
        with contextlib.suppress(Exception):
            await self._write_settlements()
        try:
            async with self.db.unit_of_work() as uow:
                await uow.outbox.release(held)
                await uow.notices.release(held_bulk)
                await uow.commit()
        except Exception:
            log.warning("outbox: could not release %s claimed messages; their leases will expire", len(held))

    async def drain_once(self, timeout: float = 10.0) -> int:
        """Claim what is due and send it now, waiting for every send to settle (tests and tools)."""
        await self._claim()
        started = 0
        deadline = time.monotonic() + timeout
        while len(self.queue) and time.monotonic() < deadline:
            item = self.queue.pop_ready(time.monotonic())
            if item is None:
                await asyncio.sleep(0.01)
                continue
            await self._slots.acquire()
            await self.limiter.wait_turn()
            self.queue.sent(item.chat_id, time.monotonic())
            await self._send(item)
            started += 1
            if self.limiter.paused:
                break
        await self._write_settlements()
        return started
