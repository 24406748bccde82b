"""Dispatch: one update, one transaction, one handler; replies back to the channel, the rest to the outbox.

An update is applied exactly once in effect: its id is recorded in the transaction that applies it. If that
transaction fails, nothing of it is kept and the update is left to be delivered again (`UpdateNotApplied`);
only an update that keeps failing the same way (a poison update) is recorded as failed, with an apology, so
that it cannot hold up its chat for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.base import Incoming, IncomingKind, Reply
from bot.domain.callbacks import parse_callback
from bot.domain.permissions import SELF_SERVICE, Action, can_somewhere, resident_grant
from bot.domain.text import clean_free_text
from handlers.common import ask_to_register, refuse, stale
from handlers.context import Context, Services
from handlers.routing import Routes
from storage.conversations import OpenedUpdate, UpdateRecord
from storage.errors import is_transient_database_error
from storage.outbox import TOPIC_SECRET_REPLY

log = logging.getLogger(__name__)

MAX_INPUT_LENGTH = 4096
# Consecutive failures of one update, the same way, before it is recorded as failed and skipped.
POISON_AFTER = 3
# How long after applying an update its replies are expected to have been shown.
DELIVERY_GRACE = timedelta(seconds=5)
# Pauses between the attempts of an update whose handler failed (a bug fails the same way at once).
RETRY_DELAYS = (0.05, 0.25)
FAILURE_MEMORY = 10_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """The replies for the current chat, and whether they still need delivering."""

    update_id: int
    replies: list[Reply]
    needs_delivery: bool


@dataclass(frozen=True, slots=True)
class BeingDelivered:
    """An update applied by another process (or task) whose replies may still be on their way."""

    until: datetime


class UpdateNotApplied(Exception):
    """The update was rolled back and must be delivered again (the batch is not confirmed, the webhook
    answers 500); `transient` says whether the database itself was failing."""

    def __init__(self, update_id: int, reason: str, *, transient: bool) -> None:
        super().__init__(f"update {update_id} not applied: {reason}")
        self.update_id = update_id
        self.transient = transient


class ChatLocks:
    """One lock per chat, dropped when nobody waits, so a chat's updates run one at a time."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, chat_id: int) -> asyncio.Lock:
        """Wait for the chat's turn."""
        lock, users = self._locks.get(chat_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[chat_id] = (lock, users + 1)
        await lock.acquire()
        return lock

    def release(self, chat_id: int) -> None:
        """End the chat's turn."""
        lock, users = self._locks[chat_id]
        lock.release()
        if users <= 1:
            del self._locks[chat_id]
        else:
            self._locks[chat_id] = (lock, users - 1)


class FailureLog:
    """Consecutive failures per update id and how they failed (bounded: the oldest are forgotten)."""

    def __init__(self, capacity: int = FAILURE_MEMORY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, tuple[str, int]] = OrderedDict()

    def record(self, update_id: int, signature: str) -> int:
        """Count one more failure; a different way of failing starts the count again."""
        previous, count = self._entries.pop(update_id, (signature, 0))
        count = count + 1 if previous == signature else 1
        self._entries[update_id] = (signature, count)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return count

    def forget(self, update_id: int) -> None:
        """The update went through."""
        self._entries.pop(update_id, None)


class Dispatcher:
    """Applies updates exactly once in effect and routes them to the conversations."""

    def __init__(self, services: Services, routes: Routes | None = None, *, poison_after: int = POISON_AFTER) -> None:
        if routes is None:
            from handlers import ROUTES  # every conversation's routes, assembled by the package

            routes = ROUTES
        self.services = services
        self.routes = routes
        self.poison_after = poison_after
        self.delivery_grace = DELIVERY_GRACE
        self._chats = ChatLocks()
        self._failures = FailureLog()
        self.failures = 0

    async def handle(self, incoming: Incoming) -> Outcome:
        """Apply one update in its own transaction and return what to show its chat; raises UpdateNotApplied
        when it must be delivered again."""
        await self._chats.acquire(incoming.chat_id)
        try:
            return await self._handle_in_order(incoming)
        finally:
            self._chats.release(incoming.chat_id)

    async def _handle_in_order(self, incoming: Incoming) -> Outcome:
        for attempt in range(1, self.poison_after + 1):
            try:
                outcome = await self._apply(incoming)
                if isinstance(outcome, BeingDelivered):
                    outcome = await self._await_delivery(incoming, outcome)
            except Exception as exc:
                self.failures += 1
                if is_transient_database_error(exc):
                    log.warning(
                        "update %s not applied, the database failed (%s); it will be retried", incoming.update_id, exc
                    )
                    raise UpdateNotApplied(incoming.update_id, str(exc), transient=True) from exc
                signature = f"{type(exc).__name__}: {exc}"[:300]
                if self._failures.record(incoming.update_id, signature) >= self.poison_after:
                    return await self._skip_poison(incoming, exc)
                if attempt == self.poison_after:
                    # Failing, but differently each time: leave it to be delivered again.
                    log.exception(
                        "update %s failed (attempt %s); it will be delivered again", incoming.update_id, attempt
                    )
                    raise UpdateNotApplied(incoming.update_id, signature, transient=False) from exc
                log.warning("update %s failed (%s); trying again", incoming.update_id, signature)
                await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
                continue
            self._failures.forget(incoming.update_id)
            return outcome
        raise AssertionError("unreachable")

    async def _apply(self, incoming: Incoming) -> Outcome | BeingDelivered:
        async with self.services.db.unit_of_work() as uow:
            now = self.services.clock()
            opened = await uow.conversations.open_update(incoming.chat_id, incoming.update_id, incoming.user_id, now)
            if opened.seen is not None:
                return self._redelivery(incoming, opened.seen, now)
            ctx = self._context(incoming, uow, opened, now)
            if opened.resident is not None:
                await uow.residents.touch(
                    opened.resident, clean_free_text(incoming.first_name, 64).text, incoming.chat_id
                )
            await route(ctx, self.routes)
            # After an erasure even the update record must not point at the person's chat.
            chat_id = 0 if ctx.erased else incoming.chat_id
            replies = [r.to_dict() for r in ctx.replies]
            if not await uow.conversations.close_update(
                opened.state, incoming.update_id, chat_id, replies, now, deliver_by=now + self.delivery_grace
            ):
                # Recorded meanwhile by another process (a redelivery handled twice at once): ours must not
                # count, and what to show is what that one decided.
                await uow.rollback()
                seen = await uow.updates.seen(incoming.update_id)
                return self._redelivery(incoming, seen, now) if seen else Outcome(incoming.update_id, [], False)
            await uow.commit()
        if ctx.wrote_outbox:
            self.services.on_outbox()
        if ctx.notice_due:
            self.services.on_notice_due()
        return Outcome(incoming.update_id, ctx.replies, bool(ctx.replies))

    def _redelivery(self, incoming: Incoming, seen: UpdateRecord, now: datetime) -> Outcome | BeingDelivered:
        """An update applied before: change nothing; resend only replies that never reached the chat (if the
        process that applied it may still be showing them, wait for it first)."""
        if seen.chat_id not in (incoming.chat_id, 0):
            log.warning(
                "update id %s was used before for another chat: the Bot API server's update ids went back "
                "(a restarted test server?); ignoring it",
                incoming.update_id,
            )
        else:
            log.warning("update %s was applied before; skipping it (a redelivery)", incoming.update_id)
        pending = [] if seen.delivered else [Reply.from_dict(r) for r in seen.replies or []]
        if pending and seen.deliver_by is not None and now < seen.deliver_by:
            return BeingDelivered(seen.deliver_by)
        return Outcome(incoming.update_id, pending, bool(pending))

    async def _await_delivery(self, incoming: Incoming, delivering: BeingDelivered) -> Outcome:
        """Wait (outside any transaction) for the process that applied an update to show its replies; if it
        does not within its grace (it died), show them ourselves."""
        budget = max(0.0, (delivering.until - self.services.clock()).total_seconds())
        waited = 0.0
        pause = 0.02
        while True:
            async with self.services.db.unit_of_work() as uow:
                seen = await uow.updates.seen(incoming.update_id)
            if seen is None or seen.delivered or waited >= budget:
                pending = [] if seen is None or seen.delivered else [Reply.from_dict(r) for r in seen.replies or []]
                return Outcome(incoming.update_id, pending, bool(pending))
            await asyncio.sleep(pause)
            waited += pause
            pause = min(0.2, pause * 2)

    def _context(self, incoming: Incoming, uow, opened: OpenedUpdate, now) -> Context:  # type: ignore[no-untyped-def]
        resident = opened.resident
        if resident is not None:
            locale = resident.locale
            grants = [resident_grant(opened.verified_circle_id), *opened.grants]
        else:
            locale = opened.state.data.get("locale") or self.services.catalogs.guess(incoming.language_code)
            grants = []
        translator = self.services.catalogs.translator(locale)
        return Context(incoming, uow, self.services, opened.state, resident, translator, now, grants)

    async def _skip_poison(self, incoming: Incoming, exc: Exception) -> Outcome:
        log.error(
            "update %s failed %s times the same way; recording it as failed and skipping it",
            incoming.update_id,
            self.poison_after,
            exc_info=exc,
        )
        try:
            outcome = await self._record_poison(incoming)
        except Exception as record_error:
            raise UpdateNotApplied(incoming.update_id, str(record_error), transient=True) from record_error
        self._failures.forget(incoming.update_id)
        return outcome

    async def _record_poison(self, incoming: Incoming) -> Outcome:
        async with self.services.db.unit_of_work() as uow:
            now = self.services.clock()
            seen = await uow.updates.seen(incoming.update_id)
            if seen is not None:
                outcome = self._redelivery(incoming, seen, now)
                return outcome if isinstance(outcome, Outcome) else Outcome(incoming.update_id, [], False)
            resident = await uow.residents.by_telegram_id(incoming.user_id)
            locale = resident.locale if resident else self.services.catalogs.guess(incoming.language_code)
            t = self.services.catalogs.translator(locale)
            replies = [
                Reply(
                    t.gettext(
                        "😔 Something went wrong on our side with your last message, and I could not handle it. "
                        "Please try again in a moment, or send /help."
                    )
                )
            ]
            await uow.updates.record(
                incoming.update_id,
                incoming.chat_id,
                [r.to_dict() for r in replies],
                now,
                outcome="failed",
                deliver_by=now + self.delivery_grace,
            )
            await uow.commit()
        return Outcome(incoming.update_id, replies, True)

    async def defer(self, chat_id: int, replies: Sequence[Reply], *, tapped_message_id: int | None = None) -> None:
        """Queue replies the channel could not deliver now, so the outbox sender retries them. An edit of the
        tapped message stays an edit (it may have gone through already: editing again changes nothing, where
        sending it anew would show it twice)."""
        now = self.services.clock()
        async with self.services.db.unit_of_work() as uow:
            for reply in replies:
                if not reply.text and reply.document is None and reply.photo is None and reply.location is None:
                    continue
                payload = {**reply.to_dict(), "edit": False}
                if reply.edit and tapped_message_id is not None and reply.document is None:
                    payload.update(edit_message_id=tapped_message_id, or_send=True)
                topic = TOPIC_SECRET_REPLY if reply.secret else "reply.deferred"
                await uow.outbox.add(chat_id, payload, topic, now)
            await uow.commit()
        self.services.on_outbox()

    async def mark_delivered(self, update_ids: Sequence[int]) -> None:
        """Note that these updates' replies reached their chats, so a redelivery sends nothing."""
        if not update_ids:
            return
        async with self.services.db.unit_of_work(priority=True) as uow:
            await uow.updates.mark_delivered(update_ids)
            await uow.commit()


async def route(ctx: Context, routes: Routes) -> None:
    """Send an update to the one handler that owns it, if the permission table allows its action; answer bad
    input with a clear message."""
    incoming = ctx.incoming
    t = ctx.t
    if not incoming.is_private:
        ctx.say(t.gettext("👋 Please talk to me in a private chat: https://t.me/{bot}", bot=ctx.services.bot_username))
        return
    if incoming.kind is IncomingKind.EDITED:
        ctx.say(t.gettext("I only read new messages. If you want to correct something, please send it again."))
        return
    if incoming.kind is IncomingKind.UNSUPPORTED:
        ctx.say(t.gettext("Sorry, I can only read text, buttons and locations. Send /help to see what I can do."))
        return
    if incoming.kind is IncomingKind.PHOTO and not (ctx.step and (ctx.flow, incoming.kind) in routes.step_inputs):
        ctx.say(t.gettext("Thanks, but I cannot use photos here. Send /report to report a problem with photos."))
        return
    if incoming.kind is IncomingKind.DOCUMENT and not (ctx.step and (ctx.flow, incoming.kind) in routes.step_inputs):
        ctx.say(t.gettext("Sorry, I cannot use files here. Send /help to see what I can do."))
        return
    if incoming.kind is IncomingKind.COMMAND:
        command = routes.commands.get(incoming.command or "")
        if command is None:
            ctx.say(t.gettext("I don't know that command. Send /help to see what I can do."))
        elif _gate(ctx, command.action, command.refusal):
            await command.handler(ctx)
        return
    if incoming.kind is IncomingKind.CALLBACK:
        data = parse_callback(incoming.callback_data)
        callback = routes.callbacks.get(data.action) if data else None
        if data is None or callback is None:
            await stale(ctx)
        elif _gate(ctx, callback.action, None):
            await callback.handler(ctx, data)
        return
    if incoming.kind is IncomingKind.TEXT:
        if len(incoming.text) > MAX_INPUT_LENGTH:
            ctx.say(
                t.gettext(
                    "Your message is too long ({length} characters; at most {max}). Please shorten it.",
                    length=t.number(len(incoming.text)),
                    max=t.number(MAX_INPUT_LENGTH),
                )
            )
            return
        if clean_free_text(incoming.text, MAX_INPUT_LENGTH).problem == "empty":
            ctx.say(t.gettext("Your message looks empty. Send /help to see what I can do."))
            return
    step_handler = routes.step_inputs.get((ctx.flow, incoming.kind))
    if step_handler is not None and ctx.step:
        await step_handler(ctx)
        return
    if incoming.kind is IncomingKind.LOCATION:
        ctx.say(t.gettext("Thanks for the location, but I was not expecting one. Send /help to see what I can do."))
        return
    if ctx.resident is None:
        ctx.say(t.gettext("Hello! Send /start to join your community stewardship circle."))
    else:
        ctx.say(t.gettext("I did not understand that. Send /help to see what I can do."))


def _gate(ctx: Context, action: Action | tuple[Action, ...], refusal: str | None) -> bool:
    """Whether the permission table allows `action` (any of them) somewhere to this person; if not, say why."""
    actions = action if isinstance(action, tuple) else (action,)
    if any(can_somewhere(ctx.grants, one) for one in actions):
        return True
    if any(one in SELF_SERVICE for one in actions) and not ctx.registered:
        ask_to_register(ctx)
    elif refusal is not None:
        if ctx.incoming.callback_id:
            ctx.toast(ctx.t.plain("You are not allowed to do that."))
        ctx.say(ctx.t.gettext(refusal))
    else:
        refuse(ctx)
    return False
