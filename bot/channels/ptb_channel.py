"""python-telegram-bot adapter: PTB's Bot and types behind the ChannelRuntime primitives.

Only `telegram.Bot` is used, never `telegram.ext.Application`: the shared runtime polls, orders and retries
itself, so PTB's updater, handlers, job queue and persistence would only duplicate (and contradict) it.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import (
    Button,
    Delivered,
    Incoming,
    Rejected,
    RetryLater,
    TransientFailure,
    Unreachable,
)
from bot.channels.runtime import ALLOWED_UPDATES, ChannelRuntime, incoming_from_update
from bot.i18n import Catalogs
from handlers import Dispatcher

T = TypeVar("T")

# Seconds a long poll may take beyond its `timeout` before we call the connection dead (aiogram: timeout + 10).
POLL_GRACE = 10
# Matches the runtime's default concurrency, so concurrent chats do not queue for a connection.
CONNECTION_POOL_SIZE = 64


def make_ptb_bot(token: str, api_url: str, *, connections: int = CONNECTION_POOL_SIZE) -> Bot:
    """A PTB Bot talking to `api_url` (Telegram or the fake server); PtbChannel initializes it on first use.

    No `Defaults`/`ExtBot`: every send and edit passes ParseMode.HTML itself, so behaviour does not depend
    on how the bot was built.
    """
    request = HTTPXRequest(
        connection_pool_size=connections,
        # PTB's 5 s read timeout is too short for Telegram under load; a timed-out send may still have been
        # delivered, so we rather wait than resend.
        read_timeout=30.0,
        write_timeout=30.0,
        connect_timeout=10.0,
        # PTB's default of 1 s raises TimedOut as soon as replies and the outbox briefly need more than the
        # pool holds; waiting for a free connection is the better back-pressure.
        pool_timeout=10.0,
        media_write_timeout=60.0,
    )
    get_updates_request = HTTPXRequest(
        connection_pool_size=1,
        # PTB adds getUpdates' `timeout` to this read timeout itself (Bot.get_updates), so it is the grace
        # beyond the long poll, not the whole wait: POLL_TIMEOUT + 10 here would mean 60 s in total.
        read_timeout=POLL_GRACE,
        write_timeout=30.0,
        connect_timeout=10.0,
        pool_timeout=10.0,
    )
    return Bot(
        token,
        base_url=f"{api_url}/bot",
        base_file_url=f"{api_url}/file/bot",
        request=request,
        get_updates_request=get_updates_request,
    )


def to_incoming(update: Update, bot_username: str | None = None) -> Incoming | None:
    """Reduce a PTB Update to an Incoming (the same one aiogram's adapter makes), or None if ignored."""
    return incoming_from_update(update, bot_username)


def _markup(buttons: list[list[Button]]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons])


class PtbChannel(ChannelRuntime):
    """Vecinos on python-telegram-bot: the primitives, with PTB's errors mapped onto DeliveryErrors."""

    engine = "ptb"

    def __init__(self, bot: Bot, dispatcher: Dispatcher | None, catalogs: Catalogs, *, concurrency: int = 64) -> None:
        """Wrap a PTB Bot (see make_ptb_bot); it is initialized on first use and shut down by close()."""
        super().__init__(dispatcher, catalogs, concurrency=concurrency)
        self.bot = bot
        self._initialized = False
        self._init_lock = asyncio.Lock()

    async def _ready(self) -> None:
        """Initialize the bot once (PTB wants it before use; it also makes shutdown() close the HTTP clients)."""
        if self._initialized:
            return
        async with self._init_lock:
            if self._initialized:
                return
            await _call(_initialize(self.bot))
            self._initialized = True

    async def fetch_me(self) -> str:
        """getMe: the bot's username (initializing the bot, which runs getMe, on first use)."""
        if not self._initialized:
            await self._ready()
            return self.bot.username or ""
        me = await _call(self.bot.get_me())
        return me.username or ""

    async def remove_webhook(self) -> None:
        """deleteWebhook, keeping pending updates."""
        await self._ready()
        await _call(self.bot.delete_webhook(drop_pending_updates=False))

    async def install_webhook(self, url: str, secret: str) -> None:
        """setWebhook with the secret token and our allowed updates."""
        await self._ready()
        await _call(self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES))

    async def set_commands(self, commands: list[tuple[str, str]], language_code: str | None) -> None:
        """setMyCommands for one language (None: the default list)."""
        await self._ready()
        menu = [BotCommand(c, d) for c, d in commands]
        await _call(self.bot.set_my_commands(menu, language_code=language_code))

    async def fetch_updates(self, offset: int | None, timeout: int) -> list[Update]:
        """getUpdates (long poll); confirms everything below `offset`."""
        await self._ready()
        updates = await _call(
            # read_timeout is what PTB adds `timeout` to; passing it keeps the wait at timeout + POLL_GRACE
            # whatever request the bot was built with.
            self.bot.get_updates(
                offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES, read_timeout=POLL_GRACE
            )
        )
        return list(updates)

    def update_id(self, update: Update) -> int:
        """The update's id."""
        return update.update_id

    def parse_update(self, data: dict[str, Any]) -> Update:
        """A PTB Update from webhook JSON."""
        return Update.de_json(data, self.bot)

    def to_incoming(self, update: Update) -> Incoming | None:
        """Reduce a PTB Update to an Incoming."""
        return to_incoming(update, self.username)

    async def send_text(self, chat_id: int, text: str, buttons: list[list[Button]]) -> int | None:
        """sendMessage with HTML and an inline keyboard; the new message's id."""
        await self._ready()
        sent = await _call(
            self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=_markup(buttons))
        )
        return sent.message_id

    async def edit_text(self, chat_id: int, message_id: int, text: str, buttons: list[list[Button]]) -> None:
        """editMessageText with HTML and an inline keyboard."""
        await self._ready()
        await _call(
            self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(buttons),
            )
        )

    async def send_document(self, chat_id: int, content: bytes, filename: str, caption: str | None) -> int | None:
        """sendDocument with an upload (the caption is HTML, as aiogram's default parse mode makes it); the new
        message's id."""
        await self._ready()
        sent = await _call(
            self.bot.send_document(
                chat_id, InputFile(content, filename=filename), caption=caption, parse_mode=ParseMode.HTML
            )
        )
        return sent.message_id

    async def send_document_id(
        self, chat_id: int, file_id: str, caption: str | None, buttons: list[list[Button]]
    ) -> int | None:
        """sendDocument by file id with an HTML caption; the new message's id."""
        await self._ready()
        sent = await _call(
            self.bot.send_document(
                chat_id, file_id, caption=caption, parse_mode=ParseMode.HTML, reply_markup=_markup(buttons)
            )
        )
        return sent.message_id

    async def send_photo(
        self, chat_id: int, file_id: str, caption: str | None, buttons: list[list[Button]]
    ) -> int | None:
        """sendPhoto by file id with an HTML caption; the new message's id."""
        await self._ready()
        sent = await _call(
            self.bot.send_photo(
                chat_id, file_id, caption=caption, parse_mode=ParseMode.HTML, reply_markup=_markup(buttons)
            )
        )
        return sent.message_id

    async def send_photo_upload(
        self, chat_id: int, content: bytes, filename: str, caption: str | None, buttons: list[list[Button]]
    ) -> Delivered:
        """sendPhoto uploading the bytes, with an HTML caption; the new message's id and the file id of the
        photo's largest size."""
        await self._ready()
        sent = await _call(
            self.bot.send_photo(
                chat_id,
                InputFile(content, filename=filename),
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(buttons),
            )
        )
        return Delivered(sent.message_id, sent.photo[-1].file_id if sent.photo else None)

    async def send_location(self, chat_id: int, latitude: float, longitude: float) -> int | None:
        """sendLocation; the new message's id."""
        await self._ready()
        sent = await _call(self.bot.send_location(chat_id, latitude=latitude, longitude=longitude))
        return sent.message_id

    async def answer_callback(self, callback_id: str, text: str | None) -> None:
        """answerCallbackQuery."""
        await self._ready()
        await _call(self.bot.answer_callback_query(callback_id, text=text))

    async def close(self) -> None:
        """Shut the bot's HTTP clients down.

        PTB's shutdown() does nothing for a bot that was never initialized; every call initializes first, so
        such a bot has never opened a connection and there is nothing to release.
        """
        await self.bot.shutdown()
        self._initialized = False


async def _initialize(bot: Bot) -> None:
    """bot.initialize() (which runs getMe), minus the token PTB quotes when Telegram rejects it."""
    try:
        await bot.initialize()
    except InvalidToken as exc:
        # PTB re-raises the server's 401/404 as "The token `<token>` was rejected by the server."; a secret
        # has no place in logs, so keep the server's own words instead.
        raise InvalidToken(
            f"Telegram rejected the bot token or the API URL: {exc.__cause__ or 'no reason given'}"
        ) from exc.__cause__


def _seconds(retry_after: int | float | timedelta) -> float:
    """Seconds from PTB's retry_after, an int (default) or a timedelta (with PTB_TIMEDELTA set)."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


async def _call(request: Awaitable[T]) -> T:
    """Await a PTB call, translating its errors into channel-neutral ones (as aiogram_channel._call does)."""
    try:
        return await request
    except RetryAfter as exc:
        # Since PTB 22.2 reading retry_after warns that it will become a timedelta; we accept both already.
        # (PTB's RetryAfter.__init__ reads it too and warns inside PTB's request layer, beyond our reach;
        # PTBDeprecationWarning is a DeprecationWarning, hidden by Python's default filters in production.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            retry_after = exc.retry_after
        raise RetryLater(_seconds(retry_after), str(exc)) from exc
    except Forbidden as exc:
        raise Unreachable(str(exc)) from exc
    # BadRequest subclasses NetworkError in PTB, so it must be caught before the transient errors below.
    except BadRequest as exc:
        raise Rejected(_rejection(str(exc))) from exc
    except ChatMigrated as exc:
        # The group became a supergroup: resending to the old id can never succeed.
        raise Rejected(str(exc)) from exc
    except (TimedOut, NetworkError, Conflict, InvalidToken, TelegramError) as exc:
        # NetworkError covers 5xx, 413 and httpx failures; TimedOut may hide a send that did arrive, which
        # aiogram's TelegramNetworkError also leaves to the caller's retry policy.
        raise TransientFailure(str(exc)) from exc


def _rejection(message: str) -> str:
    """A BadRequest's text, such that the runtime's `"not modified" in str(exc)` check recognises it.

    PTB strips Telegram's "Bad Request: " prefix and capitalize()s the rest, so "message is not modified:
    ..." arrives as "Message is not modified: ..."; only a description starting with the phrase would lose
    the lower case.
    """
    if "not modified" not in message and "not modified" in message.lower():
        return message.lower()
    return message
