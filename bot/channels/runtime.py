"""What every chat framework adapter shares: at-least-once polling, per-chat ordering, rendering replies.

An adapter implements only the primitives (fetch updates, convert one, send, edit, answer...), mapping its
framework's errors onto the channel-neutral DeliveryErrors; everything that decides behaviour lives here, so
both frameworks behave the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from bot import metrics
from bot.channels.base import (
    Button,
    Delivered,
    DeliveryError,
    Incoming,
    IncomingKind,
    Rejected,
    Reply,
    RetryLater,
    TransientFailure,
    Unreachable,
)
from bot.domain.text import MAX_CAPTION_LENGTH, split_caption, split_message
from bot.i18n import SUPPORTED_LOCALES, Catalogs
from handlers import Dispatcher, UpdateNotApplied
from handlers.menu import command_menu

log = logging.getLogger(__name__)

MENU_LANGUAGE_CODES = {"zh_Hans": "zh", "fil": "tl"}

POLL_TIMEOUT = 25
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
RENDER_ATTEMPTS = 4
CAPTION_LIMIT = MAX_CAPTION_LENGTH


def menu_language_code(locale: str) -> str:
    """The two-letter ISO 639-1 code setMyCommands takes for one of our locales (Telegram's clients send "zh"
    or "tl"; "zh_Hans" and "fil" would be refused)."""
    return MENU_LANGUAGE_CODES.get(locale, locale)


class AnswerPacer(Protocol):
    """What answers need from the outbox sender to share Telegram's rate limit with it."""

    async def answer_turn(self, chat_id: int) -> None:
        """Wait for (and take) a turn of the global rate before answering `chat_id`."""
        ...

    def answer_limited(self, retry_after: float) -> None:
        """An answer met a 429: pause every send."""
        ...


class ChannelRuntime(ABC):
    """Runs Vecinos on one chat framework. Without a dispatcher it only delivers (an outbox sender's channel)."""

    engine = "abstract"

    def __init__(self, dispatcher: Dispatcher | None, catalogs: Catalogs, *, concurrency: int = 64) -> None:
        self.dispatcher = dispatcher
        self.catalogs = catalogs
        self.username: str | None = None
        self._concurrency = asyncio.Semaphore(concurrency)
        self._deliveries = DeliveryLog(dispatcher)
        # The outbox sender of this process, when it runs here: answers take their turns of Telegram's global
        # rate from it, ahead of bulk notices.
        self.answer_pacer: AnswerPacer | None = None

    # ------------------------------------------------------------------ primitives (per framework)

    @abstractmethod
    async def fetch_me(self) -> str:
        """The bot's username (getMe); raises DeliveryError subclasses."""

    @abstractmethod
    async def remove_webhook(self) -> None:
        """deleteWebhook (keeping pending updates)."""

    @abstractmethod
    async def install_webhook(self, url: str, secret: str) -> None:
        """setWebhook with a secret token and our allowed updates."""

    @abstractmethod
    async def set_commands(self, commands: list[tuple[str, str]], language_code: str | None) -> None:
        """setMyCommands for one language (None: the default list)."""

    @abstractmethod
    async def fetch_updates(self, offset: int | None, timeout: int) -> list[Any]:
        """getUpdates; confirms everything below `offset`."""

    @abstractmethod
    def update_id(self, update: Any) -> int:
        """The id of a framework update."""

    @abstractmethod
    def parse_update(self, data: dict[str, Any]) -> Any:
        """A framework update from its JSON (webhook bodies)."""

    @abstractmethod
    def to_incoming(self, update: Any) -> Incoming | None:
        """Reduce a framework update to an Incoming, or None for update types Vecinos ignores."""

    @abstractmethod
    async def send_text(self, chat_id: int, text: str, buttons: list[list[Button]]) -> int | None:
        """sendMessage with HTML and an inline keyboard; the new message's id."""

    @abstractmethod
    async def edit_text(self, chat_id: int, message_id: int, text: str, buttons: list[list[Button]]) -> None:
        """editMessageText with HTML and an inline keyboard."""

    @abstractmethod
    async def send_document(self, chat_id: int, content: bytes, filename: str, caption: str | None) -> int | None:
        """sendDocument with an uploaded file; the new message's id."""

    @abstractmethod
    async def send_document_id(
        self, chat_id: int, file_id: str, caption: str | None, buttons: list[list[Button]]
    ) -> int | None:
        """sendDocument with a file Telegram already has (its file id) and an HTML caption; the new message's id."""

    @abstractmethod
    async def send_photo(
        self, chat_id: int, file_id: str, caption: str | None, buttons: list[list[Button]]
    ) -> int | None:
        """sendPhoto with a photo Telegram already has (its file id) and an HTML caption; the new message's id."""

    @abstractmethod
    async def send_photo_upload(
        self, chat_id: int, content: bytes, filename: str, caption: str | None, buttons: list[list[Button]]
    ) -> Delivered:
        """sendPhoto uploading the image's bytes, with an HTML caption; the new message's id and the file id
        Telegram gave the photo (its largest size), to send it again by that id."""

    @abstractmethod
    async def send_location(self, chat_id: int, latitude: float, longitude: float) -> int | None:
        """sendLocation (a map pin); the new message's id."""

    @abstractmethod
    async def answer_callback(self, callback_id: str, text: str | None) -> None:
        """answerCallbackQuery."""

    @abstractmethod
    async def close(self) -> None:
        """Release HTTP sessions."""

    # ------------------------------------------------------------------ shared behaviour

    async def prepare(self, *, polling: bool = True) -> None:
        """Check the token, drop any webhook when polling (they exclude each other), set the menus."""
        self.username = await self.fetch_me()
        if polling:
            await self.remove_webhook()
        await self.register_commands()

    async def register_commands(self) -> None:
        """setMyCommands for every supported language, and a default list in the default language."""
        for locale in (None, *SUPPORTED_LOCALES):
            t = self.catalogs.translator(locale or self.catalogs.default_locale)
            await self.set_commands(command_menu(t), menu_language_code(locale) if locale else None)

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll until `stop`; a batch is confirmed (next offset) only after it is fully handled. No
        failure ends polling: whatever goes wrong is logged and retried with backoff."""
        offset: int | None = None
        fetch_failures = batch_failures = 0
        while not stop.is_set():
            try:
                updates = await self.fetch_updates(offset, POLL_TIMEOUT)
                fetch_failures = 0
            except RetryLater as exc:
                log.warning("getUpdates was rate limited; waiting %.0fs", exc.retry_after)
                await _sleep_unless(stop, exc.retry_after)
                continue
            except Exception as exc:
                # Network trouble, a 5xx, or an answer the framework cannot decode: none is a reason to stop.
                fetch_failures += 1
                await _back_off(stop, fetch_failures, exc, DeliveryError, "getUpdates failed")
                continue
            if not updates:
                continue
            try:
                await self.handle_batch(updates)
                batch_failures = 0
            except Exception as exc:
                # An update could not be applied (typically the database is unreachable). The batch stays
                # unconfirmed, so it comes again; what was applied is recognised by its update id.
                batch_failures += 1
                await _back_off(stop, batch_failures, exc, BatchIncomplete, "handling a batch failed")
                continue
            offset = self.update_id(updates[-1]) + 1

    async def handle_batch(self, updates: Sequence[Any]) -> None:
        """Handle a batch: each chat's updates in order, different chats concurrently. Each update's replies
        are recorded as delivered as soon as they are shown. Raises BatchIncomplete if an update must be
        delivered again (that chat's later updates wait for it; other chats go on)."""
        assert self.dispatcher is not None, "a delivery-only channel cannot handle updates"
        dispatcher = self.dispatcher
        by_chat: OrderedDict[int, list[Incoming]] = OrderedDict()
        for update in updates:
            incoming = self.to_incoming(update)
            if incoming is not None:
                by_chat.setdefault(incoming.chat_id, []).append(incoming)
        not_applied: list[int] = []

        async def run_chat(items: list[Incoming]) -> None:
            async with self._concurrency:
                for incoming in items:
                    started = time.perf_counter()
                    try:
                        outcome = await dispatcher.handle(incoming)
                    except UpdateNotApplied:
                        not_applied.append(incoming.update_id)
                        return
                    if outcome.needs_delivery:
                        await self.render(incoming, outcome.replies)
                        self._deliveries.add(outcome.update_id)
                    elif incoming.callback_id:
                        await self._answer_quietly(incoming.callback_id, None)
                    metrics.UPDATES.labels(kind=incoming.kind.value).inc()
                    metrics.UPDATE_SECONDS.labels(kind=incoming.kind.value).observe(time.perf_counter() - started)

        try:
            await asyncio.gather(*(run_chat(items) for items in by_chat.values()))
        finally:
            await self._deliveries.flush()
        if not_applied:
            raise BatchIncomplete(not_applied)

    async def render(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        """Show replies in the chat the update came from; what cannot be shown now goes to the outbox."""
        answering = None
        if incoming.callback_id:
            # The button's spinner stops on this answer; it need not wait for the edit.
            toast = next((r.toast for r in replies if r.toast), None)
            answering = asyncio.create_task(self._answer_quietly(incoming.callback_id, toast))
        try:
            for index, reply in enumerate(replies):
                if not reply.text and not _attaches(reply) and reply.location is None:
                    continue
                try:
                    await self._with_retries(self._show, incoming, reply)
                except Unreachable:
                    return
                except TransientFailure as exc:
                    # Telegram is struggling: hand the rest to the outbox, which retries with backoff.
                    log.warning("answering update %s failed (%s); queued in the outbox", incoming.update_id, exc)
                    if self.dispatcher is not None:
                        await self.dispatcher.defer(
                            incoming.chat_id, replies[index:], tapped_message_id=incoming.message_id
                        )
                    return
                except DeliveryError as exc:
                    log.error("could not answer update %s: %s", incoming.update_id, exc)
        finally:
            if answering is not None:
                await answering

    async def _show(self, incoming: Incoming, reply: Reply) -> None:
        if self.answer_pacer is not None:
            await self.answer_pacer.answer_turn(incoming.chat_id)
        if reply.edit and incoming.message_id is not None and not _attaches(reply):
            try:
                await self.edit_text(incoming.chat_id, incoming.message_id, reply.text, reply.buttons)
                return
            except Rejected as exc:
                if "not modified" in str(exc):
                    return
                # The message is gone or too old to edit: say it anew instead.
        await self.deliver(incoming.chat_id, replace(reply, edit=False))

    async def deliver(self, chat_id: int, reply: Reply) -> Delivered:
        """Send one reply as new message(s), or edit the message `reply.edit_message_id`: the Telegram id of
        the (last) message shown, and the file id Telegram gave an uploaded photo. Raises channel-neutral
        DeliveryErrors.

        A caption over Telegram's 1024 characters is not cut short: the photo or document goes with the
        text's first line as its caption, and the rest follows as text message(s), which then carry the
        buttons (see bot.domain.text.split_caption). A stored image (`photo_media`) must be resolved by the
        outbox sender, which knows its file id or bytes, into `photo` or `photo_upload` first.
        """
        if reply.edit_message_id is not None:
            try:
                await self.edit_text(chat_id, reply.edit_message_id, reply.text, reply.buttons)
                return Delivered(reply.edit_message_id)
            except Rejected as exc:
                if "not modified" in str(exc):
                    return Delivered(reply.edit_message_id)
                if not reply.or_send:
                    raise
            reply = replace(reply, edit_message_id=None)
        if reply.photo_media is not None:
            raise Rejected(f"the stored image {reply.photo_media!r} is sent only through the outbox sender")
        if _attaches(reply):
            caption, rest = split_caption(reply.text, CAPTION_LIMIT)
            buttons = [] if rest else reply.buttons
            if reply.document is not None:
                filename = reply.filename or "file"
                delivered = Delivered(await self.send_document(chat_id, reply.document, filename, caption or None))
            elif reply.document_id is not None:
                delivered = Delivered(await self.send_document_id(chat_id, reply.document_id, caption or None, buttons))
            elif reply.photo_upload is not None:
                filename = reply.filename or "photo.png"
                delivered = await self.send_photo_upload(
                    chat_id, reply.photo_upload, filename, caption or None, buttons
                )
            else:
                assert reply.photo is not None
                delivered = Delivered(await self.send_photo(chat_id, reply.photo, caption or None, buttons))
            if not rest:
                return delivered
            return Delivered(await self._send_text(chat_id, rest, reply.buttons), delivered.file_id)
        if reply.location is not None:
            return Delivered(await self.send_location(chat_id, *reply.location))
        return Delivered(await self._send_text(chat_id, reply.text, reply.buttons))

    async def _send_text(self, chat_id: int, text: str, buttons: list[list[Button]]) -> int | None:
        """Send a text, split into messages of Telegram's size, the buttons under the last; its id."""
        parts = split_message(text)
        message_id = None
        for index, part in enumerate(parts):
            message_id = await self.send_text(chat_id, part, buttons if index == len(parts) - 1 else [])
        return message_id

    async def _answer_quietly(self, callback_id: str, text: str | None) -> None:
        try:
            await self.answer_callback(callback_id, text)
        except DeliveryError as exc:
            # A late or repeated answer is harmless: the spinner has already stopped.
            log.debug("answerCallbackQuery: %s", exc)

    async def _with_retries(self, operation: Callable[..., Awaitable[None]], *args: Any) -> None:
        for attempt in range(1, RENDER_ATTEMPTS + 1):
            try:
                await operation(*args)
                return
            except RetryLater as exc:
                if self.answer_pacer is not None:
                    self.answer_pacer.answer_limited(exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            except TransientFailure:
                if attempt == RENDER_ATTEMPTS:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise TransientFailure("gave up after retries")


class BatchIncomplete(Exception):
    """Some updates of a batch were not applied and must be delivered again."""

    def __init__(self, update_ids: Sequence[int]) -> None:
        super().__init__(f"{len(update_ids)} update(s) not applied yet (first: {min(update_ids)})")
        self.update_ids = list(update_ids)


class DeliveryLog:
    """Records updates whose replies were shown, coalescing the writes of a few milliseconds: a crash then
    re-sends at most what was shown in those last milliseconds, not a whole batch."""

    def __init__(self, dispatcher: Dispatcher | None, delay: float = 0.02) -> None:
        self.dispatcher = dispatcher
        self.delay = delay
        self._waiting: list[int] = []
        self._flushing: asyncio.Task[None] | None = None

    def add(self, update_id: int) -> None:
        """Note one delivered update; it is written within `delay` seconds."""
        self._waiting.append(update_id)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.delay)
        await self._write()

    async def _write(self) -> None:
        while self._waiting and self.dispatcher is not None:
            ids, self._waiting = self._waiting, []
            try:
                await self.dispatcher.mark_delivered(ids)
            except Exception:
                # Not fatal: those updates' replies may be sent again if they are redelivered.
                log.exception("could not record %s delivered updates", len(ids))

    async def flush(self) -> None:
        """Write everything noted so far."""
        if self._flushing is not None and not self._flushing.done():
            await self._flushing
        await self._write()


def _attaches(reply: Reply) -> bool:
    """Whether a reply shows a document or a photo (its text then being the caption)."""
    attachments = (reply.document, reply.document_id, reply.photo, reply.photo_upload, reply.photo_media)
    return any(x is not None for x in attachments)


async def _back_off(stop: asyncio.Event, failures: int, exc: Exception, expected: type, what: str) -> None:
    """Log a polling failure (with its traceback when it is not the `expected` kind) and wait 1, 2, 4 ... 30 s."""
    delay = min(30.0, 0.5 * 2**failures)
    if isinstance(exc, expected):
        log.warning("%s (%s); trying again in %.1fs", what, exc, delay)
    else:
        log.exception("%s unexpectedly; trying again in %.1fs", what, delay)
    await _sleep_unless(stop, delay)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def parse_command(text: str | None, bot_username: str | None) -> tuple[str | None, str]:
    """(lower-cased command name, stripped args) of a text, or (None, "") when it is not a command for us.

    `/cmd@OtherBot` is addressed to another bot and therefore plain text.
    """
    text = text or ""
    if not text.startswith("/") or len(text) < 2:
        return None, ""
    head, _, args = text.partition(" ")
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None, ""
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        return None, ""
    return name.lower(), args.strip()


class BotApiJson:
    """Bot API JSON read with the frameworks' attribute names (`from` is `from_user`; a missing field is None),
    so `incoming_from_update` reads a raw update without a framework building its models first."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get("from" if name == "from_user" else name)
        if isinstance(value, dict):
            return BotApiJson(value)
        if isinstance(value, list):
            return [BotApiJson(item) if isinstance(item, dict) else item for item in value]
        return value


def incoming_from_update(update: Any, bot_username: str | None = None) -> Incoming | None:
    """Reduce an aiogram or python-telegram-bot Update to an Incoming, or None for types Vecinos ignores.

    Both frameworks model the Bot API with the same attribute names, so one function serves both and they
    cannot disagree on what an update means."""
    query = update.callback_query
    if query is not None:
        # A callback's message may be an InaccessibleMessage (too old); it still carries chat and message_id.
        origin = query.message
        chat = origin.chat if origin is not None else None
        return Incoming(
            update_id=update.update_id,
            chat_id=chat.id if chat else query.from_user.id,
            user_id=query.from_user.id,
            kind=IncomingKind.CALLBACK,
            chat_type=str(chat.type) if chat else "private",
            first_name=query.from_user.first_name,
            language_code=query.from_user.language_code,
            callback_id=query.id,
            callback_data=query.data,
            message_id=origin.message_id if origin is not None else None,
        )
    edited = update.edited_message
    message = update.message if update.message is not None else edited
    if message is None:
        return None
    user = message.from_user
    base: dict[str, Any] = {
        "update_id": update.update_id,
        "chat_id": message.chat.id,
        "user_id": user.id if user else 0,
        # PTB turns chat types into its ChatType enum (a str subclass); Incoming holds plain strings.
        "chat_type": str(message.chat.type),
        "first_name": user.first_name if user else "",
        "language_code": user.language_code if user else None,
        "message_id": message.message_id,
    }
    if edited is not None:
        return Incoming(kind=IncomingKind.EDITED, text=message.text or "", **base)
    if message.text is not None:
        command, args = parse_command(message.text, bot_username)
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
        # PTB gives an empty tuple, not None, without a photo; sizes come smallest first.
        return Incoming(
            kind=IncomingKind.PHOTO, photo_file_id=message.photo[-1].file_id, text=message.caption or "", **base
        )
    if message.document is not None:
        return Incoming(
            kind=IncomingKind.DOCUMENT,
            document_file_id=message.document.file_id,
            document_name=message.document.file_name,
            text=message.caption or "",
            **base,
        )
    return Incoming(kind=IncomingKind.UNSUPPORTED, **base)
