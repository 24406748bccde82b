"""aiogram adapter: aiogram's Bot and types behind the ChannelRuntime primitives."""

# ruff: noqa: E402
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from bot.channels.aiogram_types import import_aiogram_types

# Before anything from aiogram: its types are then built when first used, not all at start (see the module).
import_aiogram_types()

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageText,
    GetUpdates,
    SendDocument,
    SendLocation,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    SetWebhook,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from aiohttp import ClientError

from bot.channels.base import (
    Button,
    Delivered,
    Incoming,
    Rejected,
    RetryLater,
    TransientFailure,
    Unreachable,
)
from bot.channels.runtime import ALLOWED_UPDATES, BotApiJson, ChannelRuntime, incoming_from_update
from bot.i18n import Catalogs
from handlers import Dispatcher

log = logging.getLogger(__name__)
T = TypeVar("T")

# Methods whose result Vecinos never reads: on success only `ok` matters.
RESULT_UNUSED = (
    AnswerCallbackQuery,
    SetMyCommands,
    DeleteWebhook,
    SetWebhook,
)
# Methods whose result Vecinos reads only the message id of.
RESULT_MESSAGE_ID = (EditMessageText, SendMessage, SendDocument, SendPhoto, SendLocation)

# Why: aiogram parametrises Response[T] on every call, and pydantic keeps generic models only weakly, so
# after a garbage collection each call rebuilt the model class (a millisecond, a third of our CPU per update
# in bench/throughput.py). Holding the classes keeps pydantic's cache warm. Each is made when first needed,
# not at import: making one builds the validators of every type it names (see bot/channels/aiogram_types.py).
PINNED_RESPONSE_TYPES: dict[Any, Any] = {}


def pinned_response(returning: Any) -> Any:
    """aiogram's Response[returning], made once and held for the life of the process."""
    made = PINNED_RESPONSE_TYPES.get(returning)
    if made is None:
        made = PINNED_RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
    return made


class LeanSession(AiohttpSession):
    """aiogram's aiohttp session, minus validating results we never read.

    Why: for sendMessage and editMessageText Telegram echoes the whole message, keyboard included, and
    aiogram validated it with pydantic: 14% of Vecinos' CPU per update in bench/throughput.py. Of those we
    keep only the message id (sends and edits return it as an int); a photo upload is validated whole, as we
    read the file id Telegram gave it. Errors (429, 403, 400, 5xx) still go
    through aiogram's own checks and exceptions.
    """

    def check_response(self, bot, method, status_code, content):  # type: ignore[no-untyped-def,override]
        """Skip result validation for successful calls whose result is unused (or only its message id), and
        for polled updates, which are read as JSON; anything malformed goes through aiogram's checks."""
        pinned_response(method.__returning__)
        if 200 <= status_code <= 226 and isinstance(method, (*RESULT_UNUSED, *RESULT_MESSAGE_ID, GetUpdates)):
            data = self.json_loads(content)
            if isinstance(data, dict) and data.get("ok") is True:
                if isinstance(method, SendPhoto) and isinstance(method.photo, InputFile):
                    # An upload (once per image): validated whole, for the file id Telegram gave the photo.
                    return super().check_response(bot, method, status_code, content)
                if isinstance(method, RESULT_MESSAGE_ID):
                    result = data.get("result")
                    message_id = result.get("message_id") if isinstance(result, dict) else None
                    return pinned_response(int).model_construct(ok=True, result=message_id)
                if not isinstance(method, GetUpdates):
                    return pinned_response(bool).model_construct(ok=True, result=True)
                # Polled updates are read as JSON (runtime.BotApiJson), never validated into aiogram's models:
                # we read a dozen fields of each, and the models cost more than the rest of an update's work.
                result = data.get("result")
                if isinstance(result, list) and all(isinstance(u, dict) and "update_id" in u for u in result):
                    updates = [BotApiJson(u) for u in result]
                    return pinned_response(list[Update]).model_construct(ok=True, result=updates)
        return super().check_response(bot, method, status_code, content)


# The url-encoded rest of a sendMessage form (text, parse mode, keyboard) for the texts sent most recently: a
# notice to thousands is the same few texts, with only the chat id changing.
_FORM_TAILS: dict[tuple[str, str], bytes] = {}
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def _form_tail(text: str, buttons: list[list[Button]]) -> bytes:
    markup = ""
    if buttons:
        rows = [[{"text": b.label, "callback_data": b.data} for b in row] for row in buttons]
        markup = json.dumps({"inline_keyboard": rows}, ensure_ascii=False)
    key = (text, markup)
    tail = _FORM_TAILS.get(key)
    if tail is None:
        fields = {"text": text, "parse_mode": "HTML", **({"reply_markup": markup} if markup else {})}
        if len(_FORM_TAILS) > 256:
            _FORM_TAILS.clear()
        tail = _FORM_TAILS[key] = urlencode(fields).encode("ascii")
    return tail


async def _send_message_lean(bot: Bot, chat_id: int, text: str, buttons: list[list[Button]]) -> int | None:
    """sendMessage with HTML through aiogram's own session and connection pool, the form encoded as aiogram
    encodes it (x-www-form-urlencoded), without building and dumping its pydantic models; an error answer
    still goes through aiogram's checks and exceptions.

    Why: at paid broadcasts' 1000 messages/s the outbox is CPU-bound, and a fifth of its time went to
    aiogram turning the same few fields into a model and back (bench/broadcast.py)."""
    body = b"chat_id=" + str(chat_id).encode("ascii") + b"&" + _form_tail(text, buttons)
    result = await _post_lean(bot, "sendMessage", body, lambda: _sent(chat_id, text))
    message_id = result.get("message_id") if isinstance(result, dict) else result
    return message_id if isinstance(message_id, int) and not isinstance(message_id, bool) else None


async def _edit_message_lean(bot: Bot, chat_id: int, message_id: int, text: str, buttons: list[list[Button]]) -> None:
    """editMessageText the same lean way (a tapped button's answer is mostly an edit: a fifth of Vecinos' CPU
    per update went to aiogram's models for it in bench/throughput.py)."""
    head = b"chat_id=" + str(chat_id).encode("ascii") + b"&message_id=" + str(message_id).encode("ascii")
    await _post_lean(
        bot,
        "editMessageText",
        head + b"&" + _form_tail(text, buttons),
        lambda: EditMessageText.model_construct(chat_id=chat_id, message_id=message_id, text=text),
    )


async def _answer_callback_lean(bot: Bot, callback_id: str, text: str | None) -> None:
    """answerCallbackQuery the same lean way (every tap answers one)."""
    fields = {"callback_query_id": callback_id, **({"text": text} if text else {})}
    await _post_lean(
        bot,
        "answerCallbackQuery",
        urlencode(fields).encode("ascii"),
        lambda: AnswerCallbackQuery.model_construct(callback_query_id=callback_id, text=text),
    )


async def _post_lean(bot: Bot, method: str, body: bytes, named: Callable[[], Any]) -> Any:
    """POST a url-encoded Bot API call through aiogram's session; the result of a successful answer, else the
    error raised by aiogram's own checks (`named` builds the method they name, only then)."""
    session = bot.session
    http = await session.create_session()
    url = session.api.api_url(token=bot.token, method=method)
    try:
        async with http.post(url, data=body, headers=_FORM_HEADERS, timeout=session.timeout) as response:
            status, content = response.status, await response.text()
    except TimeoutError as exc:
        raise TelegramNetworkError(method=named(), message="Request timeout error") from exc
    except ClientError as exc:
        raise TelegramNetworkError(method=named(), message=f"{type(exc).__name__}: {exc}") from exc
    if status == 200:
        answer = json.loads(content)
        if isinstance(answer, dict) and answer.get("ok") is True:
            return answer.get("result")
    return session.check_response(bot=bot, method=named(), status_code=status, content=content).result


def _sent(chat_id: int, text: str) -> SendMessage:
    """The method aiogram's error checks and exceptions name (never sent itself)."""
    return SendMessage.model_construct(chat_id=chat_id, text=text)


def make_bot(token: str, api_url: str, *, connections: int = 100) -> Bot:
    """An aiogram Bot talking to `api_url` (Telegram or the fake server), HTML by default, with up to
    `connections` requests in flight (the outbox at 1,000/s needs several hundred)."""
    session = LeanSession(api=TelegramAPIServer.from_base(api_url), limit=connections)
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def to_incoming(update: Update, bot_username: str | None = None) -> Incoming | None:
    """Reduce an aiogram Update to an Incoming, or None for update types Vecinos ignores."""
    return incoming_from_update(update, bot_username)


def _markup(buttons: list[list[Button]]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row] for row in buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


class AiogramChannel(ChannelRuntime):
    """Vecinos on aiogram: the primitives, with aiogram's errors mapped onto DeliveryErrors."""

    engine = "aiogram"

    def __init__(self, bot: Bot, dispatcher: Dispatcher | None, catalogs: Catalogs, *, concurrency: int = 64) -> None:
        super().__init__(dispatcher, catalogs, concurrency=concurrency)
        self.bot = bot

    async def fetch_me(self) -> str:
        """getMe."""
        me = await _call(self.bot.get_me())
        return me.username or ""

    async def remove_webhook(self) -> None:
        """deleteWebhook, keeping pending updates."""
        await _call(self.bot.delete_webhook(drop_pending_updates=False))

    async def install_webhook(self, url: str, secret: str) -> None:
        """setWebhook with the secret token."""
        await _call(self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES))

    async def set_commands(self, commands: list[tuple[str, str]], language_code: str | None) -> None:
        """setMyCommands."""
        menu = [BotCommand(command=c, description=d) for c, d in commands]
        await _call(self.bot.set_my_commands(menu, language_code=language_code))

    async def fetch_updates(self, offset: int | None, timeout: int) -> list[Update]:
        """getUpdates (long poll)."""
        return await _call(
            self.bot.get_updates(
                offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES, request_timeout=timeout + 10
            )
        )

    def update_id(self, update: Update) -> int:
        """The update's id."""
        return update.update_id

    def parse_update(self, data: dict[str, Any]) -> Any:
        """A webhook body read as JSON (runtime.BotApiJson), as polled updates are; ValueError unless it is an
        object with an integer update_id."""
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not a Telegram update")
        return BotApiJson(data)

    def to_incoming(self, update: Update) -> Incoming | None:
        """Reduce an aiogram Update (or a polled update's JSON) to an Incoming; None for one that lacks what
        every update of its kind has (no sender, no chat): it is logged and skipped."""
        try:
            return to_incoming(update, self.username)
        except (AttributeError, TypeError, KeyError) as exc:
            log.warning("update %s is malformed (%r); skipped", getattr(update, "update_id", "?"), exc)
            return None

    async def send_text(self, chat_id: int, text: str, buttons: list[list[Button]]) -> int | None:
        """sendMessage; the new message's id."""
        sent: Any = await _call(_send_message_lean(self.bot, chat_id, text, buttons))
        return _message_id(sent)

    async def edit_text(self, chat_id: int, message_id: int, text: str, buttons: list[list[Button]]) -> None:
        """editMessageText."""
        await _call(_edit_message_lean(self.bot, chat_id, message_id, text, buttons))

    async def send_document(self, chat_id: int, content: bytes, filename: str, caption: str | None) -> int | None:
        """sendDocument with an upload; the new message's id."""
        sent: Any = await _call(
            self.bot.send_document(chat_id, BufferedInputFile(content, filename=filename), caption=caption)
        )
        return _message_id(sent)

    async def send_document_id(
        self, chat_id: int, file_id: str, caption: str | None, buttons: list[list[Button]]
    ) -> int | None:
        """sendDocument by file id; the new message's id."""
        sent: Any = await _call(
            self.bot.send_document(chat_id, file_id, caption=caption, reply_markup=_markup(buttons))
        )
        return _message_id(sent)

    async def send_photo(
        self, chat_id: int, file_id: str, caption: str | None, buttons: list[list[Button]]
    ) -> int | None:
        """sendPhoto by file id; the new message's id."""
        sent: Any = await _call(self.bot.send_photo(chat_id, file_id, caption=caption, reply_markup=_markup(buttons)))
        return _message_id(sent)

    async def send_photo_upload(
        self, chat_id: int, content: bytes, filename: str, caption: str | None, buttons: list[list[Button]]
    ) -> Delivered:
        """sendPhoto uploading the bytes; the new message's id and the file id of the photo's largest size."""
        photo = BufferedInputFile(content, filename=filename)
        sent: Message = await _call(self.bot.send_photo(chat_id, photo, caption=caption, reply_markup=_markup(buttons)))
        return Delivered(sent.message_id, sent.photo[-1].file_id if sent.photo else None)

    async def send_location(self, chat_id: int, latitude: float, longitude: float) -> int | None:
        """sendLocation; the new message's id."""
        sent: Any = await _call(self.bot.send_location(chat_id, latitude=latitude, longitude=longitude))
        return _message_id(sent)

    async def answer_callback(self, callback_id: str, text: str | None) -> None:
        """answerCallbackQuery."""
        await _call(_answer_callback_lean(self.bot, callback_id, text))

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.bot.session.close()


def _message_id(result: Any) -> int | None:
    """The message id LeanSession returns (or a Message's, should a result be validated after all)."""
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return getattr(result, "message_id", None)


async def _call(request: Awaitable[T]) -> T:
    """Await an aiogram call, translating its errors into channel-neutral ones."""
    try:
        return await request
    except TelegramRetryAfter as exc:
        raise RetryLater(float(exc.retry_after), exc.message) from exc
    except TelegramForbiddenError as exc:
        raise Unreachable(exc.message) from exc
    except TelegramBadRequest as exc:
        raise Rejected(exc.message) from exc
    except TelegramMigrateToChat as exc:
        raise Rejected(exc.message) from exc
    except (TelegramServerError, TelegramNetworkError, TelegramConflictError, TelegramAPIError) as exc:
        # Includes 401/404 (a revoked token): retried with backoff, as python-telegram-bot's adapter does.
        raise TransientFailure(str(exc)) from exc
