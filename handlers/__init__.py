"""Dispatch: one update, one transaction, one handler; replies back to the channel, the rest to the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.channels.base import Incoming, IncomingKind, Reply
from bot.domain.callbacks import CallbackData, parse_callback
from bot.domain.permissions import Grant
from bot.domain.text import clean_free_text
from handlers import account, admin, approvals, privacy, registration, settings
from handlers.context import Context, Flow, Services, Step
from storage.models import Resident
from storage.repositories import ChatState
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_INPUT_LENGTH = 4096

CommandHandler = Callable[[Context], Awaitable[None]]
CallbackHandler = Callable[[Context, CallbackData], Awaitable[None]]

COMMANDS: dict[str, CommandHandler] = {
    "start": registration.start,
    "language": settings.ask_language,
    "help": account.show_help,
    "me": account.show_me,
    "leave": account.ask_leave,
    "cancel": account.cancel,
    "mydata": privacy.export_my_data,
    "forget": privacy.ask_forget,
    "pending": approvals.list_pending,
    "grant": admin.grant_role,
}

CALLBACKS: dict[str, CallbackHandler] = {
    "lang": settings.language_chosen,
    "consent": registration.consent,
    "barrio": registration.barrio_chosen,
    "barrios": registration.back_to_barrios,
    "circle": registration.circle_chosen,
    "bld": registration.building_chosen,
    "nobld": registration.building_chosen,
    "ap": approvals.decide,
    "rj": approvals.decide,
    "leave": account.confirm_leave,
    "stay": account.cancel_leave,
    "forget": privacy.confirm_forget,
}

# What typed text and shared locations mean inside a flow.
STEP_INPUT: dict[tuple[str, IncomingKind], CommandHandler] = {
    (Flow.REGISTRATION, IncomingKind.TEXT): registration.registration_text,
    (Flow.REGISTRATION, IncomingKind.LOCATION): registration.registration_location,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The replies for the current chat, and whether they still need delivering."""

    update_id: int
    replies: list[Reply]
    needs_delivery: bool


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


class Dispatcher:
    """Applies updates exactly once in effect and routes them to the conversations."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._chats = ChatLocks()
        self.failures = 0

    async def handle(self, incoming: Incoming) -> Outcome:
        """Apply one update in its own transaction and return what to show its chat."""
        await self._chats.acquire(incoming.chat_id)
        try:
            return await self._handle_in_order(incoming)
        finally:
            self._chats.release(incoming.chat_id)

    async def _handle_in_order(self, incoming: Incoming) -> Outcome:
        try:
            async with self.services.db.unit_of_work() as uow:
                now = self.services.clock()
                conversation, seen, resident, grants = await uow.conversations.open_update(
                    incoming.chat_id, incoming.update_id, incoming.user_id, now
                )
                if seen is not None:
                    # A redelivery: change nothing; resend only replies that never reached the chat.
                    pending = [] if seen.delivered else [Reply.from_dict(r) for r in seen.replies or []]
                    return Outcome(incoming.update_id, pending, bool(pending))
                ctx = await self._context(incoming, uow, conversation, now, resident, grants)
                await route(ctx)
                await self._record(uow, incoming, ctx.replies, now, erased=ctx.erased)
                await uow.commit()
            if ctx.wrote_outbox:
                self.services.on_outbox()
            return Outcome(incoming.update_id, ctx.replies, bool(ctx.replies))
        except Exception:
            self.failures += 1
            log.exception("update %s failed; answering with an apology", incoming.update_id)
            return await self._apologise(incoming)

    async def _context(
        self,
        incoming: Incoming,
        uow: UnitOfWork,
        conversation: ChatState,
        now: datetime,
        resident: Resident | None,
        grants: list[Grant],
    ) -> Context:
        if resident is not None:
            await uow.residents.touch(resident, clean_free_text(incoming.first_name, 64).text, incoming.chat_id)
            locale = resident.locale
        else:
            locale = (conversation.data or {}).get("locale") or self.services.catalogs.guess(incoming.language_code)
            grants = []
        translator = self.services.catalogs.translator(locale)
        return Context(incoming, uow, self.services, conversation, resident, translator, now, grants)

    async def _record(
        self, uow: UnitOfWork, incoming: Incoming, replies: Sequence[Reply], now: datetime, *, erased: bool = False
    ) -> None:
        # After an erasure even the update record must not point at the person's chat.
        chat_id = 0 if erased else incoming.chat_id
        await uow.updates.record(incoming.update_id, chat_id, [r.to_dict() for r in replies], now)

    async def _apologise(self, incoming: Incoming) -> Outcome:
        t = self.services.catalogs.translator(self.services.catalogs.guess(incoming.language_code))
        replies = [Reply(t.gettext("😔 Something went wrong on our side. Please try again in a moment."))]
        async with self.services.db.unit_of_work() as uow:
            now = self.services.clock()
            if await uow.updates.seen(incoming.update_id) is None:
                await uow.updates.record(incoming.update_id, incoming.chat_id, [r.to_dict() for r in replies], now)
                await uow.commit()
        return Outcome(incoming.update_id, replies, True)

    async def defer(self, chat_id: int, replies: Sequence[Reply]) -> None:
        """Queue replies the channel could not deliver now, so the outbox sender retries them."""
        now = self.services.clock()
        async with self.services.db.unit_of_work() as uow:
            for reply in replies:
                if reply.text or reply.document is not None:
                    await uow.outbox.add(chat_id, {**reply.to_dict(), "edit": False}, "reply.deferred", now)
            await uow.commit()
        self.services.on_outbox()

    async def mark_delivered(self, update_ids: Sequence[int]) -> None:
        """Note that these updates' replies reached their chats, so a redelivery sends nothing."""
        if not update_ids:
            return
        async with self.services.db.unit_of_work() as uow:
            await uow.updates.mark_delivered(update_ids)
            await uow.commit()


async def route(ctx: Context) -> None:
    """Send an update to the one handler that owns it; answer bad input with a clear message."""
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
    if incoming.kind is IncomingKind.PHOTO:
        ctx.say(t.gettext("Thanks, but I cannot use photos here yet. Send /help to see what I can do."))
        return
    if incoming.kind is IncomingKind.COMMAND:
        handler = COMMANDS.get(incoming.command or "")
        if handler is None:
            ctx.say(t.gettext("I don't know that command. Send /help to see what I can do."))
            return
        await handler(ctx)
        return
    if incoming.kind is IncomingKind.CALLBACK:
        data = parse_callback(incoming.callback_data)
        callback = CALLBACKS.get(data.action) if data else None
        if data is None or callback is None:
            await registration.stale(ctx)
            return
        await callback(ctx, data)
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
    step_handler = STEP_INPUT.get((ctx.flow, incoming.kind))
    if step_handler is not None and ctx.step != Step.NONE:
        await step_handler(ctx)
        return
    if incoming.kind is IncomingKind.LOCATION:
        ctx.say(t.gettext("Thanks for the location, but I was not expecting one. Send /help to see what I can do."))
        return
    if ctx.resident is None:
        ctx.say(t.gettext("Hello! Send /start to join your community stewardship circle."))
    else:
        ctx.say(t.gettext("I did not understand that. Send /help to see what I can do."))
