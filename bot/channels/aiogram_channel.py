"""aiogram adapter: polling that acknowledges a batch only after it is handled, and rendering of replies."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageText,
    GetMe,
    GetUpdates,
    SendDocument,
    SendMessage,
    SetMyCommands,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from bot.channels.base import (
    DeliveryError,
    Incoming,
    IncomingKind,
    Rejected,
    Reply,
    RetryLater,
    TransientFailure,
    Unreachable,
)
from bot.domain.text import split_message
from bot.i18n import SUPPORTED_LOCALES, Catalogs
from handlers import Dispatcher
from handlers.menu import command_menu

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
RENDER_ATTEMPTS = 4
CAPTION_LIMIT = 1024


# Why: aiogram parametrises Response[T] on every call, and pydantic keeps generic models only weakly, so
# after a garbage collection each call rebuilt the model class (a millisecond, a third of our CPU per update
# in bench/throughput.py). Holding the classes keeps pydantic's cache warm.
PINNED_RESPONSE_TYPES = [
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        AnswerCallbackQuery,
        DeleteWebhook,
        EditMessageText,
        GetMe,
        GetUpdates,
        SendDocument,
        SendMessage,
        SetMyCommands,
    )
]


# Methods whose result Vecinos never reads: on success only `ok` matters.
RESULT_UNUSED = (AnswerCallbackQuery, EditMessageText, SendMessage, SendDocument, SetMyCommands, DeleteWebhook)


class LeanSession(AiohttpSession):
    """aiogram's aiohttp session, minus validating results we never read.

    Why: for sendMessage and editMessageText Telegram echoes the whole message, keyboard included, and
    aiogram validated it with pydantic: 14% of Vecinos' CPU per update in bench/throughput.py. Errors
    (429, 403, 400, 5xx) still go through aiogram's own checks and exceptions.
    """

    def check_response(self, bot, method, status_code, content):  # type: ignore[no-untyped-def,override]
        """Skip result validation for successful calls whose result is unused."""
        if isinstance(method, RESULT_UNUSED) and 200 <= status_code <= 226:
            data = self.json_loads(content)
            if isinstance(data, dict) and data.get("ok") is True:
                return Response[bool].model_construct(ok=True, result=True)
        return super().check_response(bot, method, status_code, content)


def make_bot(token: str, api_url: str) -> Bot:
    """An aiogram Bot talking to `api_url` (Telegram or the fake server), HTML by default."""
    session = LeanSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def to_incoming(update: Update, bot_username: str | None = None) -> Incoming | None:
    """Reduce an aiogram Update to an Incoming, or None for update types Vecinos ignores."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat = message.chat if message is not None else None
        return Incoming(
            update_id=update.update_id,
            chat_id=chat.id if chat else query.from_user.id,
            user_id=query.from_user.id,
            kind=IncomingKind.CALLBACK,
            chat_type=chat.type if chat else "private",
            first_name=query.from_user.first_name,
            language_code=query.from_user.language_code,
            callback_id=query.id,
            callback_data=query.data,
            message_id=message.message_id if message is not None else None,
        )
    edited = update.edited_message
    message = update.message or edited
    if message is None:
        return None
    user = message.from_user
    base = {
        "update_id": update.update_id,
        "chat_id": message.chat.id,
        "user_id": user.id if user else 0,
        "chat_type": message.chat.type,
        "first_name": user.first_name if user else "",
        "language_code": user.language_code if user else None,
        "message_id": message.message_id,
    }
    if edited is not None:
        return Incoming(kind=IncomingKind.EDITED, text=message.text or "", **base)
    if message.text is not None:
        command, args = _command(message, bot_username)
        if command is not None:
            return Incoming(kind=IncomingKind.COMMAND, text=message.text, command=command, args=args, **base)
        return Incoming(kind=IncomingKind.TEXT, text=message.text, **base)
    if message.location is not None:
        return Incoming(
            kind=IncomingKind.LOCATION,
            latitude=message.location.latitude,
            longitude=message.location.longitude,
            **base,
        )
    if message.photo:
        return Incoming(
            kind=IncomingKind.PHOTO, photo_file_id=message.photo[-1].file_id, text=message.caption or "", **base
        )
    return Incoming(kind=IncomingKind.UNSUPPORTED, **base)


def _command(message: Message, bot_username: str | None) -> tuple[str | None, str]:
    text = message.text or ""
    if not text.startswith("/") or len(text) < 2:
        return None, ""
    head, _, args = text.partition(" ")
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None, ""
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        return None, ""
    return name.lower(), args.strip()


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


class AiogramChannel:
    """Runs Vecinos on aiogram: polling, rendering replies, and delivering outbox messages.
    Without a dispatcher it only delivers (an outbox sender's channel)."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher | None, catalogs: Catalogs, *, concurrency: int = 64) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.catalogs = catalogs
        self.username: str | None = None
        self._concurrency = asyncio.Semaphore(concurrency)

    async def prepare(self) -> None:
        """Check the token, drop any webhook (polling and webhooks exclude each other), set the menus."""
        me = await self.bot.get_me()
        self.username = me.username
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.register_commands()

    async def register_commands(self) -> None:
        """setMyCommands for every supported language, and a default list in the default language."""
        for locale in (None, *SUPPORTED_LOCALES):
            t = self.catalogs.translator(locale or self.catalogs.default_locale)
            commands = [BotCommand(command=c, description=d) for c, d in command_menu(t)]
            await self.bot.set_my_commands(commands, language_code=locale)

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll until `stop`; a batch is confirmed (next offset) only after it is fully handled."""
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=POLL_TIMEOUT,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=POLL_TIMEOUT + 10,
                )
                failures = 0
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except (TelegramNetworkError, TelegramServerError, TelegramBadRequest) as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("getUpdates failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if not updates:
                continue
            try:
                await self.handle_batch(updates)
            except Exception:
                # Typically the database is unreachable. The batch stays unconfirmed, so Telegram hands it
                # over again; what was applied is recognised by its update id.
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.exception("handling a batch failed; it will be fetched again in %.1fs", delay)
                await asyncio.sleep(delay)
                continue
            offset = updates[-1].update_id + 1

    async def handle_batch(self, updates: Sequence[Update]) -> None:
        """Handle a batch: each chat's updates in order, different chats concurrently."""
        assert self.dispatcher is not None, "a delivery-only channel cannot handle updates"
        dispatcher = self.dispatcher
        by_chat: OrderedDict[int, list[Incoming]] = OrderedDict()
        for update in updates:
            incoming = to_incoming(update, self.username)
            if incoming is not None:
                by_chat.setdefault(incoming.chat_id, []).append(incoming)
        delivered: list[int] = []

        async def run_chat(items: list[Incoming]) -> None:
            async with self._concurrency:
                for incoming in items:
                    outcome = await dispatcher.handle(incoming)
                    if outcome.needs_delivery:
                        await self.render(incoming, outcome.replies)
                        delivered.append(outcome.update_id)
                    elif incoming.callback_id:
                        await self._answer_callback(incoming.callback_id, None)

        await asyncio.gather(*(run_chat(items) for items in by_chat.values()))
        await dispatcher.mark_delivered(delivered)

    async def render(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        """Show replies in the chat the update came from; what cannot be shown now goes to the outbox."""
        answering = None
        if incoming.callback_id:
            # The button's spinner stops on this answer; it need not wait for the edit.
            toast = next((r.toast for r in replies if r.toast), None)
            answering = asyncio.create_task(self._answer_callback(incoming.callback_id, toast))
        try:
            for reply in replies:
                if not reply.text and reply.document is None:
                    continue
                try:
                    await self._with_retries(self._show, incoming, reply)
                except Unreachable:
                    return
                except TransientFailure as exc:
                    # Telegram is struggling: hand the rest to the outbox, which retries with backoff.
                    log.warning("answering update %s failed (%s); queued in the outbox", incoming.update_id, exc)
                    if self.dispatcher is not None:
                        await self.dispatcher.defer(incoming.chat_id, replies[replies.index(reply) :])
                    return
                except DeliveryError as exc:
                    log.error("could not answer update %s: %s", incoming.update_id, exc)
        finally:
            if answering is not None:
                await answering

    async def _show(self, incoming: Incoming, reply: Reply) -> None:
        if reply.edit and incoming.message_id is not None and reply.document is None:
            try:
                await self._call(
                    self.bot.edit_message_text(
                        text=reply.text,
                        chat_id=incoming.chat_id,
                        message_id=incoming.message_id,
                        reply_markup=_markup(reply),
                    )
                )
                return
            except Rejected as exc:
                if "not modified" in str(exc):
                    return
                # The message is gone or too old to edit: say it anew instead.
        await self.deliver(incoming.chat_id, reply)

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        """Send one reply as new message(s), raising channel-neutral DeliveryErrors."""
        if reply.document is not None:
            file = BufferedInputFile(reply.document, filename=reply.filename or "file")
            await self._call(self.bot.send_document(chat_id, file, caption=reply.text[:CAPTION_LIMIT] or None))
            return
        parts = split_message(reply.text)
        for index, part in enumerate(parts):
            markup = _markup(reply) if index == len(parts) - 1 else None
            await self._call(self.bot.send_message(chat_id, part, reply_markup=markup))

    async def _answer_callback(self, callback_id: str, text: str | None) -> None:
        try:
            await self._call(self.bot.answer_callback_query(callback_id, text=text))
        except DeliveryError as exc:
            # A late or repeated answer is harmless: the spinner has already stopped.
            log.debug("answerCallbackQuery: %s", exc)

    async def _with_retries(self, operation, *args) -> None:  # type: ignore[no-untyped-def]
        for attempt in range(1, RENDER_ATTEMPTS + 1):
            try:
                await operation(*args)
                return
            except RetryLater as exc:
                await asyncio.sleep(exc.retry_after)
            except TransientFailure:
                if attempt == RENDER_ATTEMPTS:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise TransientFailure("gave up after retries")

    @staticmethod
    async def _call(request) -> object:  # type: ignore[no-untyped-def]
        try:
            return await request
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after), exc.message) from exc
        except TelegramForbiddenError as exc:
            raise Unreachable(exc.message) from exc
        except TelegramBadRequest as exc:
            raise Rejected(exc.message) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise TransientFailure(str(exc)) from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.bot.session.close()
