"""A fake Telegram Bot API server (aiohttp.web) that speaks the real HTTP wire format of aiogram and PTB.

Bot API: ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``. Test control API: ``/__control/{token}/...``
(see ``create_app`` for the routes). All state lives in a ``FakeTelegram`` instance, keyed by bot token.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import functools
import gc
import hashlib
import json
import logging
import math
import mimetypes
import os
import random
import re
import signal
import struct
import sys
import time
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from bot.fakeapi.entities import EntityParseError, parse_html, utf16_len

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^\d+:[\w-]+$")
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
REQUEST_LOG_SIZE = 10000
UPDATE_HISTORY_SIZE = 10000
DEFAULT_CALLBACK_TIMEOUT = 15.0
STATE_FILE_NAME = "fake-telegram.json"
# Update ids are reserved (and the reservation persisted) this many at a time, so persisting costs one small
# file write per thousand updates, and a restart starts above every id ever handed out.
UPDATE_ID_BLOCK = 1000

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

# Form values under these keys are free text or opaque ids and must never be coerced to int/bool/JSON.
_TEXT_FIELDS = frozenset(
    {
        "text",
        "caption",
        "data",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "url",
        "secret_token",
        "parse_mode",
        "language_code",
        "action",
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "thumbnail",
        "ip_address",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "query",
        "business_connection_id",
        "custom_emoji_id",
        "message_effect_id",
        "certificate",
    }
)
_INT_RE = re.compile(r"^-?\d+$")
# Python strings can hold what UTF-8 can not: halves of UTF-16 pairs (surrogateescape, or "\udcd8" in JSON).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
NOT_UTF8 = "Bad Request: strings must be encoded in UTF-8"
_FLOAT_RE = re.compile(r"^-?\d+\.\d*(?:[eE][-+]?\d+)?$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "web_app",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_MESSAGE_UPDATE_KINDS = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "business_message"}
)
_DEFAULT_FAILURE_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """A Bot API error; rendered as ``{"ok":false,...}`` with HTTP status == error_code."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The Telegram JSON error body."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class ControlError(Exception):
    """An error of the control API (bad test input), rendered as ``{"ok":false,"error":...}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _now() -> int:
    return int(time.time())


def _dumps(payload: Any) -> bytes:
    """JSON bytes of payload; never raises, so a bad value can not turn an answer into a 500."""
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        pass
    log.warning("fake Telegram: a response needed repairs to be encoded (lone surrogates or non-JSON values)")
    try:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):  # circular structures: a bug in the fake, reported as such
        text = json.dumps({"ok": False, "error_code": 500, "description": "Internal Server Error: unencodable"})
    return _SURROGATE_RE.sub("\ufffd", text).encode()


def _find_surrogate(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, offending character) of the first string holding a lone surrogate, or None."""
    if isinstance(value, str):
        found = _SURROGATE_RE.search(value)
        return (path or "value", found.group()) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            hit = _find_surrogate(key, path) or _find_surrogate(item, f"{path}.{key}" if path else str(key))
            if hit is not None:
                return hit
    elif isinstance(value, list):
        for index, item in enumerate(value):
            hit = _find_surrogate(item, f"{path}[{index}]")
            if hit is not None:
                return hit
    return None


def _surrogate_error(hit: tuple[str, str]) -> ControlError:
    field_path, char = hit
    return ControlError(
        f"field {field_path!r} is not valid Unicode: it holds a lone surrogate (U+{ord(char):04X}), "
        "e.g. a broken multi-byte character of a long paste; send UTF-8 text"
    )


def _norm_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Upload:
    """A file part received in a multipart request."""

    filename: str | None
    data: bytes
    content_type: str | None


@dataclass(slots=True)
class QueuedUpdate:
    """An update waiting to be confirmed by getUpdates(offset) or accepted by the webhook."""

    update_id: int
    kind: str
    data: dict[str, Any]
    replay: bool = False
    delivered: bool = False


@dataclass(slots=True)
class StoredFile:
    """A file known to one bot (uploaded by the bot, injected by a test, or referenced by URL)."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    file_name: str | None
    mime_type: str | None
    file_path: str
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int | None:
        """Byte size, None when the bytes are unknown (sent by URL)."""
        return None if self.data is None else len(self.data)


@dataclass(slots=True)
class StoredMessage:
    """One message of a chat; ``api`` is the Bot API Message object as Telegram would return it now."""

    message_id: int
    chat_id: int
    from_bot: bool
    api: dict[str, Any]
    kind: str
    raw_text: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    file_id: str | None = None
    edits: int = 0
    deleted: bool = False
    seq: int = 0
    history: list[str] = field(default_factory=list)
    accepted_at: float = 0.0
    edited_at: float | None = None


# The server keeps every chat and message it saw: with 100,000 of them, each full garbage collection scanned
# them all and stalled the server for a noticeable fraction of a second, long enough to bunch up requests and
# count a sliding second wrongly. What is kept is moved out of the collector's sight now and then.
FREEZE_EVERY = 5_000


def _freeze_what_is_kept() -> None:
    # Not collected first: a full collection is the very stall this avoids (a test server may keep garbage).
    gc.freeze()


@dataclass
class ChatState:
    """A chat as seen by one bot; ``known`` means a user/group has written to the bot there."""

    id: int
    type: str = "private"
    title: str | None = None
    known: bool = False
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    bot_message_ids: list[int] = field(default_factory=list)
    last_user_message: dict[int, int] = field(default_factory=dict)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self, msg: StoredMessage) -> None:
        """Marks msg as changed and wakes control-API long-polls on this chat."""
        self.seq += 1
        msg.seq = self.seq
        event, self.changed = self.changed, asyncio.Event()
        event.set()


class BotState:
    """Everything the fake server knows about one bot token."""

    def __init__(self, token: str, callback_timeout: float, send_latency_ms: tuple[float, float] = (0.0, 0.0)) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Vecinos",
            "username": f"vecinos_{self.bot_id}_bot",
        }
        self.updates: deque[QueuedUpdate] = deque()
        self.replays_queued = 0
        self.next_update_id = 1
        # Every update id handed out is below this; without a state dir nothing needs reserving.
        self.update_ids_reserved = sys.maxsize
        self.update_history: dict[int, dict[str, Any]] = {}
        self.update_history_order: deque[int] = deque()
        self.allowed_updates: list[str] | None = None
        self.confirmed_offset = 0
        self.poll_generation = 0
        self.update_event = asyncio.Event()
        self.webhook: dict[str, Any] = {"url": ""}
        self.webhook_task: asyncio.Task[None] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.file_counter = 0
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.callback_counter = 0
        self.callback_timeout = callback_timeout
        self.rate_global: int | None = None
        self.rate_per_chat: int | None = None
        self.rate_window: deque[float] = deque()
        self.rate_chat_windows: dict[str, deque[float]] = {}
        self.failures: dict[str, deque[tuple[int, str, int | None]]] = {}
        # Answers that are not the Bot API's at all (a proxy's error page, a truncated body), per method.
        self.raw_answers: dict[str, deque[tuple[int, bytes, str]]] = {}
        self.send_latency_ms = send_latency_ms
        # Wall-clock (time.time()) flood windows, so tests can compare them with messages' accepted_at.
        self.flood_until = 0.0
        self.flood_windows: list[list[float]] = []
        self.requests_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.request_counts: Counter[str] = Counter()
        self.sent_count = 0
        # 429s answered because a send broke the configured rate limits (flood windows not counted).
        self.rate_limited = 0
        # Sends and edits accepted while a rate limit was set: what the limit counts.
        self.rate_counted = 0
        self.closed = False

    def wake_updates(self) -> None:
        """Wakes getUpdates long-polls and the webhook sender."""
        event, self.update_event = self.update_event, asyncio.Event()
        event.set()

    def chat(self, chat_id: int) -> ChatState:
        """The chat with this id, created (unknown) if needed."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = ChatState(chat_id, "private" if chat_id > 0 else "group")
        return chat


def _png(width: int, height: int, rgb: tuple[int, int, int] = (64, 128, 192)) -> bytes:
    """A solid-colour PNG, so injected photos are real images a bot could open."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@functools.lru_cache(maxsize=8)
def _cached_png(width: int, height: int) -> bytes:
    return _png(width, height)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG, or None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Turns form strings into Bot API values: JSON-encoded nested fields, ints, floats and booleans."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in _TEXT_FIELDS:
            if value in ("true", "True"):
                value = True
            elif value in ("false", "False"):
                value = False
            elif _INT_RE.match(value):
                value = int(value)
            elif _FLOAT_RE.match(value):
                value = float(value)
            elif value[:1] in ("{", "["):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
        params[key] = value
    return params


def _params_from_bytes(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _bad("can't parse JSON object") from exc
        if not isinstance(data, dict):
            raise _bad("JSON object expected")
        return data
    # Anything else (urlencoded, or a missing/odd Content-Type) is read as a query string, as Telegram does.
    # Bytes that are not UTF-8 become lone surrogates here, so the method answers Telegram's 400 for them.
    return _parse_query(body.decode("utf-8", "surrogateescape"))


def _parse_query(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True, errors="surrogateescape"))


async def _params_from_multipart(
    reader: aiohttp.MultipartReader, params: dict[str, Any], uploads: dict[str, Upload]
) -> None:
    while True:
        part = await reader.next()
        if part is None:
            return
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            data = await part.read(decode=True)
            ctype = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            uploads[part.name] = Upload(part.filename, bytes(data), ctype)
        else:
            data = await part.read(decode=True)
            try:
                params[part.name] = bytes(data).decode(part.get_charset(default="utf-8"), "surrogateescape")
            except LookupError:
                raise _bad(f"unknown charset of {part.name}") from None


def _int(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _bad(f"invalid {key} specified")
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {key} specified") from None


def _bool(params: dict[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _json_field(params: dict[str, Any], key: str) -> Any:
    value = params.get(key)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {key} JSON object") from None
    return value


def _update_kind(update: dict[str, Any]) -> str:
    kinds = [key for key in update if key != "update_id"]
    if len(kinds) != 1:
        raise ControlError("an update must have exactly one field besides update_id")
    return kinds[0]


def latency_range(value: Any) -> tuple[float, float]:
    """A validated (min, max) send latency in milliseconds; ControlError for anything else."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ControlError("send_latency_ms must be [min, max] in milliseconds, e.g. [30, 250] ([0, 0] is off)")
    low, high = value
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in (low, high))
    if not numbers or not 0 <= low <= high <= 60000:
        raise ControlError("send_latency_ms must be two numbers with 0 <= min <= max <= 60000")
    return float(low), float(high)


def parse_latency(text: str) -> tuple[float, float]:
    """`30-250` (or `100`) as a (min, max) latency in ms; ValueError with a readable message otherwise."""
    low, sep, high = text.strip().partition("-")
    try:
        value = (float(low), float(high if sep else low))
        return latency_range(value)
    except (ValueError, ControlError):
        raise ValueError(f"latency must be MIN-MAX milliseconds, e.g. 30-250 (got {text!r})") from None


def _sends(method: str) -> bool:
    """send*/edit* methods: the ones Telegram's flood control refuses (method is lower-case)."""
    return method.startswith(("send", "edit"))


def _delayed(method: str) -> bool:
    """Methods whose answer waits for the configured send latency (method is lower-case)."""
    return _sends(method) or method == "answercallbackquery"


def _inline_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The markup Telegram would show in Message.reply_markup (only non-empty inline keyboards)."""
    if markup and markup.get("inline_keyboard"):
        return markup
    return None


class FakeTelegram:
    """In-memory state of the fake Bot API for any number of bots (keyed by token)."""

    def __init__(
        self,
        *,
        callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
        deliver_webhooks: bool = True,
        strict_html_ampersand: bool = True,
        webhook_timeout: float = 10.0,
        send_latency_ms: tuple[float, float] = (0.0, 0.0),
        state_dir: Path | str | None = None,
    ) -> None:
        """send_latency_ms: every new bot's (min, max) delay of send*/edit*/answerCallbackQuery calls.

        state_dir: keep what must survive a restart (the next update id of each bot) in
        ``state_dir/fake-telegram.json``, so update ids only grow across restarts; None keeps nothing.
        """
        self.bots: dict[str, BotState] = {}
        # Differs on every start, so a client can tell a restarted server (chat seq numbers begin anew) apart.
        self.instance_id = uuid.uuid4().hex
        self.state_path = None if state_dir is None else Path(state_dir) / STATE_FILE_NAME
        self._persisted: dict[str, dict[str, int]] = self._load_state()
        self.callback_timeout = callback_timeout
        self.send_latency_ms = latency_range(send_latency_ms)
        self.deliver_webhooks = deliver_webhooks
        self.strict_html_ampersand = strict_html_ampersand
        self.webhook_timeout = webhook_timeout
        self._http: aiohttp.ClientSession | None = None
        self._methods: dict[str, tuple[str, Callable[[BotState, dict[str, Any], dict[str, Upload]], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendLocation": self._send_location,
                "sendChatAction": self._send_chat_action,
                "getFile": self._get_file,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
            }.items()
        }

    # ------------------------------------------------------------------ bots

    def get_bot(self, token: str) -> BotState:
        """The state of the bot with this token (created on first use); ApiError 401 for a malformed token."""
        bot = self.bots.get(token)
        if bot is None:
            if not TOKEN_RE.match(token):
                raise ApiError(401, "Unauthorized")
            bot = self.bots[token] = BotState(token, self.callback_timeout, self.send_latency_ms)
            if self.state_path is not None:
                # Ids below the last reservation may have been handed out before the restart: start above them.
                bot.next_update_id = max(1, self._persisted.get(self._state_key(token), {}).get("next_update_id", 1))
                bot.update_ids_reserved = bot.next_update_id
        return bot

    # ------------------------------------------------------------------ state that survives restarts

    @staticmethod
    def _state_key(token: str) -> str:
        # The bot id and a digest, so the file never holds a token.
        return f"{token.split(':', 1)[0]}:{hashlib.sha256(token.encode()).hexdigest()[:16]}"

    def _load_state(self) -> dict[str, dict[str, int]]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            bots = data["bots"]
            return {str(key): {"next_update_id": int(value["next_update_id"])} for key, value in bots.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{self.state_path} is not a fake Telegram state file ({exc}); remove it") from None

    def _save_state(self) -> None:
        assert self.state_path is not None
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "bots": self._persisted}, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        # Atomic: a crash leaves the old file or the new one, never half of one.
        os.replace(temporary, self.state_path)

    def _reserve_update_ids(self, bot: BotState, update_id: int) -> None:
        """Makes update_id (and the next block) safe to hand out: persisted before any of them is used."""
        bot.update_ids_reserved = update_id + UPDATE_ID_BLOCK
        self._persisted[self._state_key(bot.token)] = {"next_update_id": bot.update_ids_reserved}
        self._save_state()

    async def aclose(self) -> None:
        """Stops webhook senders and closes the HTTP client used for webhooks."""
        for bot in self.bots.values():
            self._close_bot(bot)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _close_bot(self, bot: BotState) -> None:
        bot.closed = True
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        bot.wake_updates()
        for chat in bot.chats.values():
            chat.changed.set()

    def reset(self, token: str) -> None:
        """Forgets everything about one bot."""
        bot = self.bots.pop(token, None)
        if bot is not None:
            self._close_bot(bot)
        self.get_bot(token)

    # ------------------------------------------------------------------ Bot API dispatch

    async def call(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        uploads: dict[str, Upload] | None = None,
        content_type: str = "",
    ) -> tuple[int, dict[str, Any]]:
        """Runs one Bot API method; returns (HTTP status, Telegram JSON body)."""
        uploads = uploads or {}
        try:
            bot = self.get_bot(token)
            entry = self._methods.get(method.lower())
            name = entry[0] if entry else method
            bot.request_counts[name] += 1
            logged = dict(params)
            for key, upload in uploads.items():
                logged[key] = {"filename": upload.filename, "size": len(upload.data)}
            bot.requests_log.append(
                {"method": name, "params": logged, "content_type": content_type, "time": time.time()}
            )
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            if _find_surrogate(params) or any(_find_surrogate(u.filename) for u in uploads.values()):
                raise ApiError(400, NOT_UTF8)
            lowered = name.lower()
            # Telegram counts a send against its limits when it arrives, before the time it takes to answer.
            self._check_rate(bot, lowered, params)
            low, high = bot.send_latency_ms
            if high > 0 and _delayed(lowered):
                # A sleep, not a lock: other requests keep being served meanwhile, as by Telegram.
                await asyncio.sleep(random.uniform(low, high) / 1000)
            self._check_flood(bot, lowered)
            self._consume_failure(bot, lowered)
            result = entry[1](bot, params, uploads)
            if isinstance(result, Awaitable):
                result = await result
        except ApiError as exc:
            return exc.status, exc.payload()
        except Exception as exc:
            # A bug in the fake must still look like Telegram to the client, and be visible in the log.
            log.exception("fake Telegram failed on %s", method)
            return 500, ApiError(500, f"Internal Server Error: {exc!r}").payload()
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _check_flood(bot: BotState, method: str) -> None:
        if not bot.flood_until or not _sends(method):
            return
        # Checked right before the method runs, so nothing is accepted inside a flood window.
        remaining = bot.flood_until - time.time()
        if remaining > 0:
            raise _too_many(max(1, math.ceil(remaining)))

    def _consume_failure(self, bot: BotState, method: str) -> None:
        queue = bot.failures.get(method)
        if not queue:
            return
        status, description, retry_after = queue.popleft()
        if status == 429:
            seconds = retry_after if retry_after is not None else 1
            raise ApiError(429, description or f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})
        raise ApiError(status, description or _DEFAULT_FAILURE_DESCRIPTIONS.get(status, "Error"))

    def _check_rate(self, bot: BotState, method: str, params: dict[str, Any]) -> None:
        if bot.rate_global is None and bot.rate_per_chat is None:
            return
        if not (method.startswith("send") or method.startswith("edit")) or method == "sendchataction":
            return
        now = time.monotonic()
        horizon = now - 1.0
        windows: list[deque[float]] = []
        limits: list[int] = []
        if bot.rate_global is not None:
            windows.append(bot.rate_window)
            limits.append(bot.rate_global)
        chat_key = params.get("chat_id")
        if bot.rate_per_chat is not None and chat_key is not None:
            windows.append(bot.rate_chat_windows.setdefault(str(chat_key), deque()))
            limits.append(bot.rate_per_chat)
        for window, limit in zip(windows, limits, strict=True):
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) >= limit:
                bot.rate_limited += 1
                raise _too_many(max(1, math.ceil(window[0] + 1.0 - now)))
        for window in windows:
            window.append(now)
        bot.rate_counted += 1

    # ------------------------------------------------------------------ helpers

    def _target_chat(self, bot: BotState, params: dict[str, Any], *, check_blocked: bool = True) -> ChatState:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat: ChatState | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = bot.chats.get(raw)
        elif isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            for user in bot.users.values():
                if str(user.get("username", "")).lower() == wanted:
                    chat = bot.chats.get(user["id"])
                    break
        if chat is None or not chat.known:
            raise _bad("chat not found")
        if check_blocked and chat.type == "private" and chat.id in bot.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _chat_api(self, bot: BotState, chat: ChatState) -> dict[str, Any]:
        if chat.type == "private":
            user = bot.users.get(chat.id, {})
            result: dict[str, Any] = {
                "id": chat.id,
                "type": "private",
                "first_name": user.get("first_name") or f"User{chat.id}",
            }
            for key in ("last_name", "username"):
                if user.get(key):
                    result[key] = user[key]
            return result
        return {"id": chat.id, "type": chat.type, "title": chat.title or f"Group {abs(chat.id)}"}

    def _format(self, text: str, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        if isinstance(parse_mode, str) and parse_mode.lower() == "html":
            try:
                return parse_html(text, strict_ampersand=self.strict_html_ampersand)
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        if isinstance(entities, str):
            entities = _json_field({"entities": entities}, "entities")
        return text.strip(), list(entities) if isinstance(entities, list) else []

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
            for row in rows:
                for button in row:
                    self._check_button(button)
        elif not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise _bad("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                raise _bad("BUTTON_DATA_INVALID")
        elif "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
                raise _bad("BUTTON_URL_INVALID")
        elif not any(key in button for key in _INLINE_BUTTON_ACTIONS):
            raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")

    def _reply_to(self, bot: BotState, chat: ChatState, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = _json_field(params, "reply_parameters")
        allow_missing = _bool(params, "allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = _int(reply, "message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = _int(params, "reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(int(message_id))
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        # The nested reply never carries its own reply_to_message, exactly as in Telegram.
        return {k: v for k, v in target.api.items() if k != "reply_to_message"}

    def _store_bot_message(
        self,
        bot: BotState,
        chat: ChatState,
        params: dict[str, Any],
        *,
        kind: str,
        content: dict[str, Any],
        raw_text: str | None,
        markup: dict[str, Any] | None,
        file_id: str | None = None,
    ) -> StoredMessage:
        reply_to = self._reply_to(bot, chat, params)
        message_id = chat.next_message_id
        chat.next_message_id += 1
        api: dict[str, Any] = {
            "message_id": message_id,
            "from": bot.user,
            "chat": self._chat_api(bot, chat),
            "date": _now(),
        }
        thread_id = _int(params, "message_thread_id")
        if thread_id is not None:
            api["message_thread_id"] = thread_id
        if reply_to is not None:
            api["reply_to_message"] = reply_to
        api.update(content)
        inline = _inline_markup(markup)
        if inline is not None:
            api["reply_markup"] = inline
        preview = _json_field(params, "link_preview_options")
        if kind == "text" and isinstance(preview, dict):
            api["link_preview_options"] = preview
        parse_mode = params.get("parse_mode")
        msg = StoredMessage(
            message_id=message_id,
            chat_id=chat.id,
            from_bot=True,
            api=api,
            kind=kind,
            raw_text=raw_text,
            parse_mode=parse_mode if isinstance(parse_mode, str) and parse_mode else None,
            reply_markup=markup,
            file_id=file_id,
            accepted_at=time.time(),
        )
        chat.messages[message_id] = msg
        chat.bot_message_ids.append(message_id)
        bot.sent_count += 1
        if bot.sent_count % FREEZE_EVERY == 0:
            _freeze_what_is_kept()
        chat.touch(msg)
        return msg

    def _caption(self, params: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        caption = params.get("caption")
        if caption is None or caption == "":
            return None, {}
        caption = str(caption)
        plain, entities = self._format(caption, params.get("parse_mode"), params.get("caption_entities"))
        if len(plain) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        content: dict[str, Any] = {}
        if plain:
            content["caption"] = plain
            if entities:
                content["caption_entities"] = entities
        return caption, content

    def _new_file(
        self,
        bot: BotState,
        kind: str,
        data: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        bot.file_counter += 1
        n = bot.file_counter
        prefix = {"photo": "AgACAgQ", "document": "BQACAgQ"}.get(kind, "CAACAgQ")
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        elif mime_type:
            ext = mimetypes.guess_extension(mime_type) or ""
        elif kind == "photo":
            ext = ".jpg"
        stored = StoredFile(
            file_id=f"{prefix}{bot.bot_id}x{n:06d}",
            file_unique_id=f"AQAD{bot.bot_id}u{n:06d}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"{kind}s/file_{n}{ext}",
        )
        if kind == "photo":
            size = image_size(data) if data else None
            stored.width, stored.height = size if size and size[0] > 0 and size[1] > 0 else (800, 600)
        bot.files[stored.file_id] = stored
        bot.files_by_path[stored.file_path] = stored
        return stored

    def _input_file(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload], key: str) -> StoredFile:
        value = params.get(key)
        upload = uploads.get(key)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f"there is no {key} in the request")
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime or "application/octet-stream"
            return self._new_file(bot, key, upload.data, file_name=upload.filename, mime_type=mime)
        if not isinstance(value, str) or not value:
            raise _bad(f"there is no {key} in the request")
        if value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1].split("?", 1)[0] or None
            return self._new_file(bot, key, None, file_name=name, mime_type=mimetypes.guess_type(name or "")[0])
        stored = bot.files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != key:
            raise _bad("type of file mismatch")
        return stored

    @staticmethod
    def _photo_sizes(stored: StoredFile) -> list[dict[str, Any]]:
        size: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": stored.width,
            "height": stored.height,
        }
        if stored.size is not None:
            size["file_size"] = stored.size
        return [size]

    @staticmethod
    def _document(stored: StoredFile) -> dict[str, Any]:
        doc: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        if stored.size is not None:
            doc["file_size"] = stored.size
        return doc

    def _edit_target(self, bot: BotState, params: dict[str, Any]) -> tuple[ChatState, StoredMessage]:
        chat = self._target_chat(bot, params)
        message_id = _int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        return chat, msg

    @staticmethod
    def _markup_key(markup: dict[str, Any] | None) -> str:
        return _norm_json(_inline_markup(markup))

    def _apply_edit(
        self, chat: ChatState, msg: StoredMessage, changes: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        # Replace top-level keys only: callback updates hold shallow snapshots of msg.api.
        api = {k: v for k, v in msg.api.items() if k not in changes and k != "reply_markup"}
        for key, value in changes.items():
            if value:
                api[key] = value
        inline = _inline_markup(markup)
        if inline is not None:
            api["reply_markup"] = inline
        api["edit_date"] = _now()
        msg.api = api
        msg.reply_markup = markup
        msg.edits += 1
        msg.edited_at = time.time()
        chat.touch(msg)
        return api

    # ------------------------------------------------------------------ Bot API methods

    @staticmethod
    def _true(bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        return True

    @staticmethod
    def _get_me(bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        return {
            **bot.user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _allowed(self, bot: BotState, kind: str) -> bool:
        allowed = bot.allowed_updates
        if allowed:
            return kind in allowed
        return kind not in DEFAULT_EXCLUDED_UPDATES

    def _set_allowed_updates(self, bot: BotState, params: dict[str, Any]) -> None:
        if "allowed_updates" not in params:
            return
        allowed = _json_field(params, "allowed_updates")
        if allowed is None:
            return
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise _bad("can't parse allowed updates")
        bot.allowed_updates = list(allowed)

    def _confirm(self, bot: BotState, offset: int) -> None:
        queue = bot.updates
        if offset < 0:
            while len(queue) > -offset:
                self._drop_head(bot)
            return
        if offset > bot.confirmed_offset:
            bot.confirmed_offset = offset

        def confirmed(entry: QueuedUpdate) -> bool:
            return entry.update_id < offset and (not entry.replay or entry.delivered)

        while queue and confirmed(queue[0]):
            self._drop_head(bot)
        if bot.replays_queued and any(confirmed(entry) for entry in queue):
            # Replayed updates break the id order of the queue, so fall back to a full filter.
            kept = [entry for entry in queue if not confirmed(entry)]
            bot.updates = deque(kept)
            bot.replays_queued = sum(1 for entry in kept if entry.replay)

    @staticmethod
    def _drop_head(bot: BotState) -> None:
        entry = bot.updates.popleft()
        if entry.replay:
            bot.replays_queued -= 1

    def _collect(self, bot: BotState, limit: int) -> list[QueuedUpdate]:
        batch: list[QueuedUpdate] = []
        unwanted = False
        for entry in bot.updates:
            if not self._allowed(bot, entry.kind):
                unwanted = True
                continue
            batch.append(entry)
            if len(batch) >= limit:
                break
        if unwanted:
            # allowed_updates changed after these were queued; Telegram never delivers them, so drop them.
            kept = [entry for entry in bot.updates if self._allowed(bot, entry.kind)]
            bot.updates = deque(kept)
            bot.replays_queued = sum(1 for entry in kept if entry.replay)
        if bot.replays_queued:
            batch.sort(key=lambda entry: entry.update_id)
        return batch

    async def _get_updates(
        self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> list[dict[str, Any]]:
        if bot.webhook.get("url"):
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = _int(params, "offset", 0) or 0
        limit = _int(params, "limit", 100) or 100
        limit = min(max(limit, 1), 100)
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError):
            raise _bad("invalid timeout specified") from None
        timeout = min(max(timeout, 0.0), 600.0)
        self._set_allowed_updates(bot, params)
        self._confirm(bot, offset)
        # A newer getUpdates terminates any older one still waiting, as Telegram does.
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.wake_updates()
        deadline = time.monotonic() + timeout
        while True:
            batch = self._collect(bot, limit)
            if batch or bot.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = bot.update_event
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()
            if bot.poll_generation != generation:
                raise ApiError(409, CONFLICT_POLL)
            if bot.webhook.get("url"):
                raise ApiError(409, CONFLICT_WEBHOOK)
        for entry in batch:
            entry.delivered = True
        return [entry.data for entry in batch]

    def _clear_updates(self, bot: BotState) -> None:
        bot.updates.clear()
        bot.replays_queued = 0

    def _set_webhook(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        url = params.get("url") or ""
        if not isinstance(url, str):
            raise _bad("bad webhook: invalid URL")
        if url and not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and secret != "" and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        self._set_allowed_updates(bot, params)
        if _bool(params, "drop_pending_updates"):
            self._clear_updates(bot)
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        if not url:
            bot.webhook = {"url": ""}
            return True
        bot.webhook = {"url": url, "secret_token": str(secret) if secret else None}
        max_connections = _int(params, "max_connections")
        if max_connections is not None:
            bot.webhook["max_connections"] = max_connections
        if params.get("ip_address"):
            bot.webhook["ip_address"] = params["ip_address"]
        bot.wake_updates()  # so a pending getUpdates fails with 409 at once
        if self.deliver_webhooks:
            bot.webhook_task = asyncio.get_running_loop().create_task(self._webhook_sender(bot, url))
        return True

    def _delete_webhook(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        if _bool(params, "drop_pending_updates"):
            self._clear_updates(bot)
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        bot.webhook = {"url": ""}
        return True

    def _get_webhook_info(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": bot.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if info["url"]:
            for key in ("max_connections", "ip_address", "last_error_date", "last_error_message"):
                if bot.webhook.get(key) is not None:
                    info[key] = bot.webhook[key]
            if bot.allowed_updates:
                info["allowed_updates"] = list(bot.allowed_updates)
        return info

    @staticmethod
    def _chat_key(entry: QueuedUpdate) -> int | str:
        """The chat an update belongs to (updates of one chat are delivered one at a time, in order)."""
        data = entry.data
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if isinstance(data.get(kind), dict):
                return int(data[kind].get("chat", {}).get("id", 0))
        query = data.get("callback_query")
        if isinstance(query, dict):
            message = query.get("message") or {}
            chat = message.get("chat", {}).get("id") if isinstance(message, dict) else None
            return int(chat if chat is not None else query.get("from", {}).get("id", 0))
        return f"update-{entry.update_id}"

    async def _webhook_sender(self, bot: BotState, url: str) -> None:
        """Posts queued updates to the webhook like Telegram: up to max_connections at once (40 by default),
        one at a time per chat and in order, each retried with backoff until the webhook answers 2xx."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if bot.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook["secret_token"]
        limit = int(bot.webhook.get("max_connections") or 40)
        in_flight: dict[int, asyncio.Task[None]] = {}
        busy_chats: set[int | str] = set()
        done = asyncio.Event()

        async def deliver(entry: QueuedUpdate, key: int | str) -> None:
            backoff = 0.1
            timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
            try:
                while not bot.closed and bot.webhook.get("url") == url:
                    reply: tuple[dict[str, Any], dict[str, Upload], str] | None = None
                    try:
                        async with self._http.post(  # type: ignore[union-attr]
                            url, data=_dumps(entry.data), headers=headers, timeout=timeout
                        ) as resp:
                            ok = 200 <= resp.status < 300
                            if ok:
                                reply = await self._read_webhook_reply(resp)
                            else:
                                error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
                    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                        ok, error = False, f"Connection failed: {exc or type(exc).__name__}"
                    if ok:
                        entry.delivered = True
                        with contextlib.suppress(ValueError):
                            bot.updates.remove(entry)
                        if entry.replay:
                            bot.replays_queued -= 1
                        if reply is not None and reply[0].get("method"):
                            params, uploads, ctype = reply
                            method = str(params.pop("method"))
                            await self.call(bot.token, method, decode_params(params), uploads, ctype)
                        return
                    bot.webhook["last_error_date"] = _now()
                    bot.webhook["last_error_message"] = error
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            finally:
                in_flight.pop(entry.update_id, None)
                busy_chats.discard(key)
                waiting = [u.update_id for u in bot.updates]
                bot.confirmed_offset = max(bot.confirmed_offset, min(waiting) if waiting else bot.next_update_id)
                done.set()

        try:
            while not bot.closed and bot.webhook.get("url") == url:
                for entry in [e for e in bot.updates if not self._allowed(bot, e.kind)]:
                    bot.updates.remove(entry)
                    if entry.replay:
                        bot.replays_queued -= 1
                seen: set[int | str] = set()
                for entry in list(bot.updates):
                    if len(in_flight) >= limit:
                        break
                    key = self._chat_key(entry)
                    if entry.update_id in in_flight or key in busy_chats or key in seen:
                        seen.add(key)
                        continue
                    seen.add(key)
                    busy_chats.add(key)
                    in_flight[entry.update_id] = asyncio.create_task(deliver(entry, key))
                done.clear()
                arrival = bot.update_event
                waiter = asyncio.ensure_future(done.wait())
                try:
                    await asyncio.wait(
                        {waiter, asyncio.ensure_future(arrival.wait())},
                        return_when=asyncio.FIRST_COMPLETED,
                        timeout=1.0,
                    )
                finally:
                    waiter.cancel()
        finally:
            for task in in_flight.values():
                task.cancel()

    @staticmethod
    async def _read_webhook_reply(
        resp: aiohttp.ClientResponse,
    ) -> tuple[dict[str, Any], dict[str, Upload], str] | None:
        """A webhook may answer with a Bot API call in its response body; read it if present."""
        ctype = resp.content_type
        params: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        if ctype == "multipart/form-data":
            try:
                await _params_from_multipart(aiohttp.MultipartReader(resp.headers, resp.content), params, uploads)
            except ApiError:
                return None
        else:
            body = await resp.read()
            try:
                params = _params_from_bytes(ctype, body) if ctype == "application/json" else {}
            except ApiError:
                return None
        return (params, uploads, ctype) if params else None

    def _checked_text(self, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        """The raw text, its plain form and entities, refused like Telegram when empty or too long."""
        text = params.get("text")
        if text is None or not str(text).strip():
            raise _bad("message text is empty")
        text = str(text)
        plain, entities = self._format(text, params.get("parse_mode"), params.get("entities"))
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, plain, entities

    def _send_message(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._target_chat(bot, params)
        text, plain, entities = self._checked_text(params)
        markup = self._markup(params)
        content: dict[str, Any] = {"text": plain}
        if entities:
            content["entities"] = entities
        msg = self._store_bot_message(bot, chat, params, kind="text", content=content, raw_text=text, markup=markup)
        return msg.api

    def _send_photo(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._target_chat(bot, params)
        caption, content = self._caption(params)
        markup = self._markup(params)
        stored = self._input_file(bot, params, uploads, "photo")
        content["photo"] = self._photo_sizes(stored)
        msg = self._store_bot_message(
            bot, chat, params, kind="photo", content=content, raw_text=caption, markup=markup, file_id=stored.file_id
        )
        return msg.api

    def _send_document(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._target_chat(bot, params)
        caption, content = self._caption(params)
        markup = self._markup(params)
        stored = self._input_file(bot, params, uploads, "document")
        content["document"] = self._document(stored)
        msg = self._store_bot_message(
            bot,
            chat,
            params,
            kind="document",
            content=content,
            raw_text=caption,
            markup=markup,
            file_id=stored.file_id,
        )
        return msg.api

    def _send_location(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._target_chat(bot, params)
        try:
            latitude = float(params["latitude"])
            longitude = float(params["longitude"])
        except (KeyError, TypeError, ValueError):
            raise _bad("wrong latitude or longitude specified") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise _bad("wrong latitude or longitude specified")
        markup = self._markup(params)
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        msg = self._store_bot_message(bot, chat, params, kind="location", content=content, raw_text=None, markup=markup)
        return msg.api

    def _edit_message_text(
        self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        chat, msg = self._edit_target(bot, params)
        if msg.kind != "text":
            raise _bad("there is no text in the message to edit")
        text, plain, entities = self._checked_text(params)
        markup = self._markup(params)
        same_text = plain == msg.api.get("text") and entities == msg.api.get("entities", [])
        if same_text and self._markup_key(markup) == self._markup_key(msg.reply_markup):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        msg.history.append(msg.raw_text or "")
        msg.raw_text = text
        parse_mode = params.get("parse_mode")
        msg.parse_mode = parse_mode if isinstance(parse_mode, str) and parse_mode else None
        return self._apply_edit(chat, msg, {"text": plain, "entities": entities}, markup)

    def _edit_message_caption(
        self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        chat, msg = self._edit_target(bot, params)
        if msg.kind not in ("photo", "document"):
            raise _bad("there is no caption in the message to edit")
        caption, content = self._caption(params)
        markup = self._markup(params)
        same = content.get("caption") == msg.api.get("caption") and content.get("caption_entities") == msg.api.get(
            "caption_entities"
        )
        if same and self._markup_key(markup) == self._markup_key(msg.reply_markup):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        msg.history.append(msg.raw_text or "")
        msg.raw_text = caption
        changes = {"caption": content.get("caption"), "caption_entities": content.get("caption_entities")}
        return self._apply_edit(chat, msg, changes, markup)

    def _edit_message_reply_markup(
        self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        chat, msg = self._edit_target(bot, params)
        markup = self._markup(params)
        if self._markup_key(markup) == self._markup_key(msg.reply_markup):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        return self._apply_edit(chat, msg, {}, markup)

    def _delete_message(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        chat = self._target_chat(bot, params, check_blocked=False)
        message_id = _int(params, "message_id")
        msg = chat.messages.get(message_id) if message_id is not None else None
        if msg is None or msg.deleted:
            raise _bad("message to delete not found")
        msg.deleted = True
        chat.touch(msg)
        return True

    def _answer_callback_query(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = bot.callbacks.get(query_id)
        if query is None or query["answered"] or time.monotonic() - query["created"] > bot.callback_timeout:
            raise _bad(QUERY_TOO_OLD[len("Bad Request: ") :])
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        answer = {
            "callback_query_id": query_id,
            "text": None if text is None else str(text),
            "show_alert": _bool(params, "show_alert"),
            "url": params.get("url"),
            "cache_time": _int(params, "cache_time"),
            "time": time.time(),
        }
        chat = bot.chat(query["chat_id"])
        chat.callback_answers.append(answer)
        return True

    def _send_chat_action(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        self._target_chat(bot, params)
        action = params.get("action")
        if not isinstance(action, str) or action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _get_file(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        stored = bot.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.size is not None:
            result["file_size"] = stored.size
        return result

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = _json_field(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad("can't parse BotCommandScope JSON object")
        scope = dict(scope)
        for key in ("chat_id", "user_id"):
            if isinstance(scope.get(key), str) and _INT_RE.match(scope[key]):
                scope[key] = int(scope[key])
        language = params.get("language_code") or ""
        if not isinstance(language, str) or (language and not re.fullmatch(r"[a-z]{2}", language)):
            raise _bad("invalid language code specified")
        return _norm_json(scope), language

    def _set_my_commands(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        commands = _json_field(params, "commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        cleaned: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.match(name.removeprefix("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("command description is empty or too long")
            cleaned.append({"command": name.removeprefix("/"), "description": description})
        key = self._scope_key(params)
        if cleaned:
            bot.commands[key] = cleaned
        else:
            bot.commands.pop(key, None)
        return True

    def _get_my_commands(
        self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> list[dict[str, str]]:
        return [dict(command) for command in bot.commands.get(self._scope_key(params), [])]

    def _delete_my_commands(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        bot.commands.pop(self._scope_key(params), None)
        return True

    # ------------------------------------------------------------------ injection (control API)

    def _remember_user(self, bot: BotState, user_id: int, **fields: Any) -> dict[str, Any]:
        user = bot.users.get(user_id)
        if user is None:
            user = bot.users[user_id] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        for key in ("first_name", "last_name", "username", "language_code", "is_premium"):
            value = fields.get(key)
            if value is not None and value != "":
                user[key] = value
        return user

    def _enqueue(self, bot: BotState, update: dict[str, Any], *, replay: bool = False) -> bool:
        kind = _update_kind(update)
        bot.update_history[update["update_id"]] = update
        bot.update_history_order.append(update["update_id"])
        if len(bot.update_history_order) > UPDATE_HISTORY_SIZE:
            bot.update_history.pop(bot.update_history_order.popleft(), None)
        # Telegram does not even create updates of types the bot did not ask for.
        if not self._allowed(bot, kind):
            return False
        bot.updates.append(QueuedUpdate(update["update_id"], kind, update, replay=replay))
        if replay:
            bot.replays_queued += 1
        bot.wake_updates()
        return True

    def _next_update_id(self, bot: BotState) -> int:
        update_id = bot.next_update_id
        if update_id >= bot.update_ids_reserved:
            self._reserve_update_ids(bot, update_id)
        bot.next_update_id += 1
        return update_id

    def _user_message(
        self,
        token: str,
        user_id: int,
        content: dict[str, Any],
        *,
        chat_id: int | None = None,
        chat_type: str | None = None,
        title: str | None = None,
        reply_to_message_id: int | None = None,
        **user_fields: Any,
    ) -> dict[str, Any]:
        bot = self.get_bot(token)
        user_id = int(user_id)
        user = self._remember_user(bot, user_id, **user_fields)
        chat_id = user_id if chat_id is None else int(chat_id)
        chat_type = chat_type or ("private" if chat_id > 0 else "group")
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ControlError(f"unknown chat_type {chat_type!r}")
        if chat_type == "private" and chat_id != user_id:
            raise ControlError("a private chat's id must equal the user id")
        if chat_type != "private" and chat_id >= 0:
            raise ControlError("group chat ids must be negative")
        chat = bot.chat(chat_id)
        chat.type = chat_type
        chat.known = True
        if title:
            chat.title = title
        message_id = chat.next_message_id
        chat.next_message_id += 1
        api: dict[str, Any] = {
            "message_id": message_id,
            "from": dict(user),
            "chat": self._chat_api(bot, chat),
            "date": _now(),
        }
        if reply_to_message_id is not None:
            target = chat.messages.get(int(reply_to_message_id))
            if target is None:
                raise ControlError(f"no message {reply_to_message_id} in chat {chat_id}", 404)
            api["reply_to_message"] = {k: v for k, v in target.api.items() if k != "reply_to_message"}
        api.update(content)
        msg = StoredMessage(message_id, chat_id, False, api, kind=next(iter(content), "text"))
        chat.messages[message_id] = msg
        chat.last_user_message[user_id] = message_id
        update = {"update_id": self._next_update_id(bot), "message": api}
        queued = self._enqueue(bot, update)
        return {"update_id": update["update_id"], "message_id": message_id, "chat_id": chat_id, "queued": queued}

    def inject_message(
        self,
        token: str,
        user_id: int,
        text: str,
        *,
        edited: bool = False,
        message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Queues a text message (or an edited_message) from a user; returns update_id and message_id."""
        hit = _find_surrogate(text, "text")
        if hit is not None:
            raise _surrogate_error(hit)
        content: dict[str, Any] = {"text": text}
        if entities is not None:
            content["entities"] = entities
        elif text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        if not edited:
            return self._user_message(token, user_id, content, **kwargs)
        bot = self.get_bot(token)
        user = self._remember_user(
            bot, int(user_id), **{k: kwargs.get(k) for k in ("first_name", "last_name", "username", "language_code")}
        )
        chat_id = int(kwargs.get("chat_id") or user_id)
        chat = bot.chat(chat_id)
        if message_id is None:
            message_id = chat.last_user_message.get(int(user_id))
        msg = chat.messages.get(int(message_id)) if message_id is not None else None
        if msg is None or msg.from_bot:
            raise ControlError(f"no message from user {user_id} to edit in chat {chat_id}", 404)
        api = {k: v for k, v in msg.api.items() if k not in ("text", "entities")}
        api.update(content)
        api["from"] = dict(user)
        api["edit_date"] = _now()
        msg.api = api
        msg.edits += 1
        update = {"update_id": self._next_update_id(bot), "edited_message": api}
        queued = self._enqueue(bot, update)
        return {"update_id": update["update_id"], "message_id": msg.message_id, "chat_id": chat_id, "queued": queued}

    def inject_location(
        self, token: str, user_id: int, latitude: float, longitude: float, **kwargs: Any
    ) -> dict[str, Any]:
        """Queues a message with a shared location."""
        content = {"location": {"latitude": float(latitude), "longitude": float(longitude)}}
        return self._user_message(token, user_id, content, **kwargs)

    def inject_photo(self, token: str, user_id: int, caption: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Queues a photo message with three real PNG sizes (smallest first) the bot can download."""
        bot = self.get_bot(token)
        sizes = []
        for width, height in ((90, 67), (320, 240), (800, 600)):
            stored = self._new_file(bot, "photo", _cached_png(width, height), mime_type="image/png")
            sizes.append(self._photo_sizes(stored)[0])
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._user_message(token, user_id, content, **kwargs)

    def inject_document(
        self,
        token: str,
        user_id: int,
        file_name: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Queues a document message whose bytes the bot can fetch with getFile."""
        bot = self.get_bot(token)
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._new_file(bot, "document", data, file_name=file_name, mime_type=mime)
        content: dict[str, Any] = {"document": self._document(stored)}
        if caption:
            content["caption"] = caption
        result = self._user_message(token, user_id, content, **kwargs)
        return {**result, "file_id": stored.file_id}

    def inject_callback(
        self, token: str, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Queues a callback_query as if the user tapped a button of the bot's message."""
        bot = self.get_bot(token)
        user = self._remember_user(bot, int(user_id))
        chat_id = int(user_id) if chat_id is None else int(chat_id)
        chat = bot.chats.get(chat_id)
        msg = chat.messages.get(int(message_id)) if chat is not None else None
        if chat is None or msg is None or msg.deleted or not msg.from_bot:
            raise ControlError(f"no bot message {message_id} in chat {chat_id}", 404)
        bot.callback_counter += 1
        query_id = f"{bot.bot_id}{bot.callback_counter:012d}"
        bot.callbacks[query_id] = {
            "created": time.monotonic(),
            "chat_id": chat_id,
            "user_id": int(user_id),
            "answered": False,
        }
        query = {
            "id": query_id,
            "from": dict(user),
            "message": dict(msg.api),
            "chat_instance": str(zlib.crc32(f"{bot.bot_id}:{chat_id}".encode()) * 1000 + 7),
            "data": str(data),
        }
        update = {"update_id": self._next_update_id(bot), "callback_query": query}
        queued = self._enqueue(bot, update)
        return {"update_id": update["update_id"], "callback_query_id": query_id, "queued": queued}

    def inject_update(self, token: str, update: dict[str, Any]) -> dict[str, Any]:
        """Queues a raw update; a known update_id is re-queued (duplicate delivery), a bare one is replayed."""
        hit = _find_surrogate(update)
        if hit is not None:
            raise _surrogate_error(hit)
        bot = self.get_bot(token)
        update = dict(update)
        update_id = update.get("update_id")
        replay = False
        if update_id is None:
            update["update_id"] = self._next_update_id(bot)
        else:
            update_id = int(update_id)
            update["update_id"] = update_id
            if update_id < bot.next_update_id:
                replay = True
                if len(update) == 1:
                    original = bot.update_history.get(update_id)
                    if original is None:
                        raise ControlError(f"update {update_id} is not in the history", 404)
                    update = original
            else:
                if update_id >= bot.update_ids_reserved:
                    self._reserve_update_ids(bot, update_id)
                bot.next_update_id = update_id + 1
        kind = _update_kind(update)
        body = update[kind]
        if isinstance(body, dict) and not replay:
            body = update[kind] = dict(body)
            self._learn_from_update(bot, kind, body)
        queued = self._enqueue(bot, update, replay=replay)
        return {"update_id": update["update_id"], "queued": queued, "replay": replay}

    def _learn_from_update(self, bot: BotState, kind: str, body: dict[str, Any]) -> None:
        """Remembers users and chats from a raw update and fills the fields a test may leave out."""
        sender = body.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            self._remember_user(bot, sender["id"], **sender)
            body["from"] = {**bot.users[sender["id"]], **sender}
        chat_obj = body.get("chat")
        if chat_obj is None and isinstance(body.get("message"), dict):
            chat_obj = body["message"].get("chat")
        if chat_obj is None and kind in _MESSAGE_UPDATE_KINDS and isinstance(sender, dict):
            chat_obj = body["chat"] = {"id": sender["id"], "type": "private", "first_name": sender.get("first_name")}
        if not isinstance(chat_obj, dict) or not isinstance(chat_obj.get("id"), int):
            return
        chat = bot.chat(chat_obj["id"])
        chat.known = True
        chat.type = str(chat_obj.get("type") or chat.type)
        chat.title = chat_obj.get("title") or chat.title
        if chat.type == "private":
            self._remember_user(bot, chat.id, **{k: chat_obj.get(k) for k in ("first_name", "last_name", "username")})
        if kind in _MESSAGE_UPDATE_KINDS:
            body.setdefault("date", _now())
            if "message_id" not in body:
                body["message_id"] = chat.next_message_id
            chat.next_message_id = max(chat.next_message_id, int(body["message_id"]) + 1)
            if kind != "edited_message":
                stored_kind = next((k for k in ("text", "photo", "document", "location") if k in body), "other")
                chat.messages[body["message_id"]] = StoredMessage(
                    body["message_id"], chat.id, False, body, kind=stored_kind
                )
                if isinstance(sender, dict):
                    chat.last_user_message[sender["id"]] = body["message_id"]
        if kind == "my_chat_member" and chat.type == "private":
            status = (body.get("new_chat_member") or {}).get("status")
            if status == "kicked":
                bot.blocked.add(chat.id)
            elif status == "member":
                bot.blocked.discard(chat.id)

    def register_user(self, token: str, user_id: int, *, open_chat: bool = True, **fields: Any) -> dict[str, Any]:
        """Remembers a user without queuing an update; open_chat=True lets the bot message them already.

        This stands for "the user pressed Start some time ago", e.g. sandbox staff who must receive notices.
        """
        bot = self.get_bot(token)
        user = self._remember_user(bot, int(user_id), **fields)
        if open_chat:
            chat = bot.chat(int(user_id))
            chat.type = "private"
            chat.known = True
        return dict(user)

    def register_users(self, token: str, first: int, count: int) -> int:
        """Remembers `count` users from id `first` on, each with an open chat (a six-figure audience at once)."""
        if not (isinstance(first, int) and isinstance(count, int)) or count < 0 or count > 1_000_000:
            raise ControlError("first and count must be integers, 0 <= count <= 1000000")
        for user_id in range(first, first + count):
            self.register_user(token, user_id, first_name=f"User{user_id}")
        _freeze_what_is_kept()
        return count

    def counters(self, token: str) -> dict[str, int]:
        """Cheap counters to watch a big fan-out (state() lists every chat): messages sent, 429s for the limits."""
        bot = self.get_bot(token)
        return {"sent_count": bot.sent_count, "rate_limited": bot.rate_limited, "rate_counted": bot.rate_counted}

    def received(self, token: str, first: int, count: int, contains: str) -> dict[str, Any]:
        """Among chats `first`..`first + count - 1`: how many got a bot message containing `contains`, how many
        such messages there were, the duplicates (messages beyond the first per chat) and a few chats missing."""
        bot = self.get_bot(token)
        reached = total = duplicates = 0
        missing: list[int] = []
        for chat_id in range(first, first + count):
            chat = bot.chats.get(chat_id)
            hits = 0
            if chat is not None:
                for message_id in chat.bot_message_ids:
                    message = chat.messages.get(message_id)
                    if message is not None and contains in (message.raw_text or ""):
                        hits += 1
            total += hits
            if hits:
                reached += 1
                duplicates += hits - 1
            elif len(missing) < 20:
                missing.append(chat_id)
        return {"chats": count, "reached": reached, "messages": total, "duplicates": duplicates, "missing": missing}

    def set_blocked(self, token: str, user_id: int, blocked: bool = True, *, notify: bool = False) -> dict[str, Any]:
        """Marks a user as having blocked (or unblocked) the bot; notify=True also queues my_chat_member."""
        bot = self.get_bot(token)
        user_id = int(user_id)
        user = self._remember_user(bot, user_id)
        if blocked:
            bot.blocked.add(user_id)
        else:
            bot.blocked.discard(user_id)
        result: dict[str, Any] = {"ok": True, "blocked": blocked}
        if notify:
            chat = bot.chat(user_id)
            chat.known = True
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            update = {
                "update_id": self._next_update_id(bot),
                "my_chat_member": {
                    "chat": self._chat_api(bot, chat),
                    "from": dict(user),
                    "date": _now(),
                    "old_chat_member": {"status": old, "user": bot.user},
                    "new_chat_member": {"status": new, "user": bot.user, **({"until_date": 0} if blocked else {})},
                },
            }
            result["update_id"] = update["update_id"]
            result["queued"] = self._enqueue(bot, update)
        return result

    def set_rate_limit(
        self, token: str, global_per_second: int | None = None, per_chat_per_second: int | None = None
    ) -> None:
        """Sets (or with None clears) the sliding-window message rate limits."""
        bot = self.get_bot(token)
        bot.rate_global = int(global_per_second) if global_per_second else None
        bot.rate_per_chat = int(per_chat_per_second) if per_chat_per_second else None
        bot.rate_window.clear()
        bot.rate_chat_windows.clear()

    def set_send_latency(self, token: str, send_latency_ms: Any) -> tuple[float, float]:
        """Sets one bot's (min, max) delay in ms of send*/edit*/answerCallbackQuery; (0, 0) turns it off."""
        bot = self.get_bot(token)
        bot.send_latency_ms = latency_range(send_latency_ms)
        return bot.send_latency_ms

    def flood(self, token: str, seconds: float) -> dict[str, Any]:
        """Every send*/edit* of this bot answers 429 retry_after for `seconds` from now (0 ends a flood)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 86400:
            raise ControlError("seconds must be a number between 0 and 86400")
        bot = self.get_bot(token)
        now = time.time()
        active = bot.flood_until > now
        if seconds == 0:
            if active:
                bot.flood_until = bot.flood_windows[-1][1] = now
        elif active:
            bot.flood_until = bot.flood_windows[-1][1] = max(bot.flood_until, now + seconds)
        else:
            bot.flood_until = now + seconds
            bot.flood_windows.append([now, bot.flood_until])
        return {"ok": True, "flood_until": bot.flood_until, "flood_windows": [list(w) for w in bot.flood_windows]}

    def add_failure(
        self,
        token: str,
        method: str,
        status: int,
        description: str | None = None,
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Makes the next `count` calls of `method` fail with this status."""
        if not 400 <= int(status) <= 599:
            raise ControlError("status must be between 400 and 599")
        if int(count) < 1:
            raise ControlError("count must be >= 1")
        bot = self.get_bot(token)
        queue = bot.failures.setdefault(str(method).lower(), deque())
        for _ in range(int(count)):
            queue.append((int(status), description or "", None if retry_after is None else int(retry_after)))

    def add_raw_answer(
        self, token: str, method: str, status: int, body: str, content_type: str = "text/plain", count: int = 1
    ) -> None:
        """Makes the next `count` calls of `method` answer exactly `body` with `status` (e.g. a gateway's HTML
        error page, or JSON that is not a Bot API answer), as a broken proxy in front of Telegram would."""
        if not 200 <= int(status) <= 599:
            raise ControlError("status must be between 200 and 599")
        if int(count) < 1:
            raise ControlError("count must be >= 1")
        queue = self.get_bot(token).raw_answers.setdefault(str(method).lower(), deque())
        for _ in range(int(count)):
            queue.append((int(status), body.encode("utf-8", "replace"), content_type))

    def take_raw_answer(self, token: str, method: str) -> tuple[int, bytes, str] | None:
        """The next raw answer queued for `method`, if any (consumed)."""
        bot = self.bots.get(token)
        queue = bot.raw_answers.get(method.lower()) if bot is not None else None
        if not queue:
            return None
        bot.request_counts[method] += 1  # type: ignore[union-attr]
        return queue.popleft()

    # ------------------------------------------------------------------ inspection (control API)

    @staticmethod
    def message_view(msg: StoredMessage) -> dict[str, Any]:
        """The control-API view of a bot message."""
        api = msg.api
        view: dict[str, Any] = {
            "message_id": msg.message_id,
            "chat_id": msg.chat_id,
            "date": api["date"],
            "kind": msg.kind,
            "text": msg.raw_text,
            "plain_text": api.get("text", api.get("caption")),
            "parse_mode": msg.parse_mode,
            "reply_markup": msg.reply_markup,
            "edits": msg.edits,
            "deleted": msg.deleted,
            "seq": msg.seq,
            "history": list(msg.history),
            "accepted_at": msg.accepted_at,
            "edited_at": msg.edited_at,
        }
        if msg.kind in ("photo", "document"):
            view["caption"] = msg.raw_text
            view["file_id"] = msg.file_id
        if "document" in api:
            view["file_name"] = api["document"].get("file_name")
            view["file_size"] = api["document"].get("file_size")
            view["mime_type"] = api["document"].get("mime_type")
        elif "photo" in api:
            view["file_size"] = api["photo"][-1].get("file_size")
        if "location" in api:
            view["latitude"] = api["location"]["latitude"]
            view["longitude"] = api["location"]["longitude"]
        if "entities" in api or "caption_entities" in api:
            view["entities"] = api.get("entities", api.get("caption_entities"))
        if "reply_to_message" in api:
            view["reply_to_message_id"] = api["reply_to_message"]["message_id"]
        if "message_thread_id" in api:
            view["message_thread_id"] = api["message_thread_id"]
        return view

    def bot_messages(self, token: str, chat_id: int, since: int = 0, changed_after: int = 0) -> list[dict[str, Any]]:
        """Messages the bot sent to a chat with message_id > since and seq > changed_after."""
        chat = self.get_bot(token).chats.get(int(chat_id))
        if chat is None:
            return []
        return [
            self.message_view(chat.messages[message_id]) for message_id in self._matching(chat, since, changed_after)
        ]

    @staticmethod
    def _matching(chat: ChatState, since: int, changed_after: int) -> list[int]:
        # bot_message_ids is ascending, so `since` is a bisect instead of a scan of the whole chat.
        ids = chat.bot_message_ids[bisect.bisect_right(chat.bot_message_ids, since) :]
        if changed_after <= 0:
            return ids
        return [message_id for message_id in ids if chat.messages[message_id].seq > changed_after]

    async def wait_bot_messages(
        self,
        token: str,
        chat_id: int,
        since: int = 0,
        wait: int = 0,
        timeout: float = 5.0,
        changed_after: int = 0,
    ) -> list[dict[str, Any]]:
        """Like bot_messages, but waits up to timeout until at least `wait` messages match."""
        bot = self.get_bot(token)
        chat = bot.chat(int(chat_id))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            # Count before building views: a waiter for many messages is woken once per message.
            if len(self._matching(chat, since, changed_after)) >= wait or remaining <= 0 or bot.closed:
                return self.bot_messages(token, chat_id, since, changed_after)
            event = chat.changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()

    def callback_answers(self, token: str, chat_id: int) -> list[dict[str, Any]]:
        """answerCallbackQuery calls for queries that came from this chat."""
        chat = self.get_bot(token).chats.get(int(chat_id))
        return [dict(answer) for answer in chat.callback_answers] if chat else []

    def file_bytes(self, token: str, file_id: str) -> StoredFile:
        """The stored file for a file_id; ControlError 404 if unknown or without bytes."""
        stored = self.get_bot(token).files.get(file_id)
        if stored is None or stored.data is None:
            raise ControlError(f"unknown file {file_id}", 404)
        return stored

    def state(self, token: str) -> dict[str, Any]:
        """A summary of one bot's state for assertions."""
        bot = self.get_bot(token)
        commands: dict[str, dict[str, list[dict[str, str]]]] = {}
        for (scope, language), items in bot.commands.items():
            scope_obj = json.loads(scope)
            scope_key = scope_obj["type"] if list(scope_obj) == ["type"] else scope
            commands.setdefault(scope_key, {})[language] = [dict(item) for item in items]
        return {
            "instance_id": self.instance_id,
            "bot": {"id": bot.bot_id, "username": bot.user["username"]},
            "pending_updates": len(bot.updates),
            "confirmed_offset": bot.confirmed_offset,
            "next_update_id": bot.next_update_id,
            "state_file": None if self.state_path is None else str(self.state_path),
            "allowed_updates": bot.allowed_updates,
            "webhook": self._get_webhook_info(bot, {}, {}),
            "commands": commands,
            "sent_count": bot.sent_count,
            "requests": dict(bot.request_counts),
            "blocked": sorted(bot.blocked),
            "known_chats": sorted(chat.id for chat in bot.chats.values() if chat.known),
            "rate_limit": {"global_per_second": bot.rate_global, "per_chat_per_second": bot.rate_per_chat},
            "failures": {method: len(queue) for method, queue in bot.failures.items() if queue},
            "callback_timeout": bot.callback_timeout,
            "send_latency_ms": list(bot.send_latency_ms),
            "flood_until": bot.flood_until if bot.flood_until > time.time() else None,
            "flood_windows": [list(window) for window in bot.flood_windows],
        }

    def requests(self, token: str, method: str | None = None) -> list[dict[str, Any]]:
        """The recent Bot API calls (last 10000), optionally only those of one method."""
        log_entries = self.get_bot(token).requests_log
        if method is None:
            return list(log_entries)
        wanted = method.lower()
        return [entry for entry in log_entries if entry["method"].lower() == wanted]


# ---------------------------------------------------------------------- HTTP layer


def _json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(payload), status=status, content_type="application/json")


async def _read_api_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload], str]:
    raw_ctype = request.headers.get(aiohttp.hdrs.CONTENT_TYPE, "")
    ctype = request.content_type if raw_ctype else ""
    # The raw query, not request.query: yarl would hide bytes that are not UTF-8 behind U+FFFD.
    query = request.raw_path.partition("?")[2]
    params: dict[str, Any] = _parse_query(query) if query else {}
    uploads: dict[str, Upload] = {}
    try:
        if ctype == "multipart/form-data":
            await _params_from_multipart(await request.multipart(), params, uploads)
        elif request.body_exists:
            params.update(_params_from_bytes(ctype, await request.read()))
    except ApiError:
        raise
    except Exception as exc:
        # Whatever breaks while reading the body is the client's mistake: Telegram answers 400, never 500.
        raise _bad(f"can't parse request: {exc}") from None
    return decode_params(params), uploads, ctype


def _fake(request: web.Request) -> FakeTelegram:
    return request.app[FAKE_KEY]


async def _handle_api(request: web.Request) -> web.Response:
    fake = _fake(request)
    try:
        params, uploads, ctype = await _read_api_request(request)
    except ApiError as exc:
        return _json_response(exc.payload(), exc.status)
    raw = fake.take_raw_answer(request.match_info["token"], request.match_info["method"])
    if raw is not None:
        return web.Response(status=raw[0], body=raw[1], content_type=raw[2])
    status, payload = await fake.call(request.match_info["token"], request.match_info["method"], params, uploads, ctype)
    return _json_response(payload, status)


async def _handle_file(request: web.Request) -> web.StreamResponse:
    fake = _fake(request)
    try:
        bot = fake.get_bot(request.match_info["token"])
    except ApiError as exc:
        return _json_response(exc.payload(), exc.status)
    stored = bot.files_by_path.get(request.match_info["path"])
    if stored is None or stored.data is None:
        return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
    return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")


ControlHandler = Callable[[FakeTelegram, str, dict[str, Any], web.Request], Awaitable[Any]]


def _control(handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wraps a control handler: token check, JSON body, errors as {"ok": false, "error": ...}."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        fake = _fake(request)
        token = request.match_info["token"]
        if not TOKEN_RE.match(token):
            return _json_response({"ok": False, "error": "Unauthorized"}, 401)
        body: dict[str, Any] = {}
        if request.method == "POST" and request.body_exists:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    return _json_response({"ok": False, "error": "body must be UTF-8 encoded JSON"}, 400)
                except ValueError:
                    return _json_response({"ok": False, "error": "body must be JSON"}, 400)
                if not isinstance(body, dict):
                    return _json_response({"ok": False, "error": "body must be a JSON object"}, 400)
                hit = _find_surrogate(body)
                if hit is not None:
                    return _json_response({"ok": False, "error": str(_surrogate_error(hit))}, 400)
        try:
            result = await handler(fake, token, body, request)
        except ControlError as exc:
            return _json_response({"ok": False, "error": str(exc)}, exc.status)
        except ApiError as exc:
            return _json_response({"ok": False, "error": exc.description}, exc.status)
        except KeyError as exc:
            return _json_response({"ok": False, "error": f"missing field {exc}"}, 400)
        except (TypeError, ValueError) as exc:
            return _json_response({"ok": False, "error": str(exc)}, 400)
        if isinstance(result, web.StreamResponse):
            return result
        return _json_response(result)

    return wrapper


_USER_FIELDS = ("first_name", "last_name", "username", "language_code", "chat_id", "chat_type", "title")


def _user_kwargs(body: dict[str, Any], *extra: str) -> dict[str, Any]:
    return {key: body[key] for key in (*_USER_FIELDS, *extra) if body.get(key) is not None}


async def _c_message(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.inject_message(
        token,
        int(body["user_id"]),
        str(body["text"]),
        edited=bool(body.get("edited")),
        **_user_kwargs(body, "message_id", "reply_to_message_id", "entities"),
    )


async def _c_callback(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    chat_id = body.get("chat_id")
    return fake.inject_callback(
        token, int(body["user_id"]), int(body["message_id"]), str(body["data"]), chat_id=chat_id
    )


async def _c_location(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.inject_location(
        token, int(body["user_id"]), float(body["latitude"]), float(body["longitude"]), **_user_kwargs(body)
    )


async def _c_photo(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.inject_photo(token, int(body["user_id"]), body.get("caption"), **_user_kwargs(body))


async def _c_document(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    if "content_base64" in body:
        data = base64.b64decode(body["content_base64"])
    else:
        data = str(body.get("content", "")).encode()
    return fake.inject_document(
        token,
        int(body["user_id"]),
        str(body.get("file_name") or "file.txt"),
        data,
        mime_type=body.get("mime_type"),
        caption=body.get("caption"),
        **_user_kwargs(body),
    )


async def _c_update(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.inject_update(token, body)


async def _c_user(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    fields = {key: body[key] for key in ("first_name", "last_name", "username", "language_code") if body.get(key)}
    user = fake.register_user(token, int(body["user_id"]), open_chat=bool(body.get("open_chat", True)), **fields)
    return {"ok": True, "user": user}


async def _c_users(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return {"ok": True, "registered": fake.register_users(token, body.get("first"), body.get("count"))}


async def _c_received(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.received(token, int(body["first"]), int(body["count"]), str(body["contains"]))


async def _c_counters(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.counters(token)


async def _c_block(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.set_blocked(
        token, int(body["user_id"]), bool(body.get("blocked", True)), notify=bool(body.get("notify", False))
    )


async def _c_rate_limit(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    fake.set_rate_limit(token, body.get("global_per_second"), body.get("per_chat_per_second"))
    return {"ok": True}


async def _c_fail(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    fake.add_failure(
        token,
        str(body["method"]),
        int(body.get("status", 500)),
        body.get("description"),
        int(body.get("count", 1)),
        body.get("retry_after"),
    )
    return {"ok": True}


async def _c_raw_answer(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    fake.add_raw_answer(
        token,
        str(body["method"]),
        int(body.get("status", 500)),
        str(body.get("body", "")),
        str(body.get("content_type") or "text/plain"),
        int(body.get("count", 1)),
    )
    return {"ok": True}


async def _c_config(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    bot = fake.get_bot(token)
    if body.get("callback_timeout") is not None:
        bot.callback_timeout = float(body["callback_timeout"])
    if body.get("send_latency_ms") is not None:
        fake.set_send_latency(token, body["send_latency_ms"])
    return {"ok": True, "callback_timeout": bot.callback_timeout, "send_latency_ms": list(bot.send_latency_ms)}


async def _c_flood(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.flood(token, body["seconds"])


async def _c_reset(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    fake.reset(token)
    return {"ok": True}


async def _c_messages(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    query = request.query
    # A client that last talked to another instance holds seq numbers that mean nothing here: answer at once.
    stale = query.get("instance_id", fake.instance_id) != fake.instance_id
    messages = await fake.wait_bot_messages(
        token,
        int(request.match_info["chat_id"]),
        since=int(query.get("since", 0)),
        wait=0 if stale else int(query.get("wait", 0)),
        timeout=0 if stale else float(query.get("timeout", 5.0)),
        changed_after=int(query.get("changed_after", 0)),
    )
    return {"messages": messages, "instance_id": fake.instance_id}


async def _c_callback_answers(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.callback_answers(token, int(request.match_info["chat_id"]))


async def _c_file(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    stored = fake.file_bytes(token, request.match_info["file_id"])
    return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")


async def _c_state(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.state(token)


async def _c_requests(fake: FakeTelegram, token: str, body: dict[str, Any], request: web.Request) -> Any:
    return fake.requests(token, request.query.get("method"))


FAKE_KEY: web.AppKey[FakeTelegram] = web.AppKey("fake_telegram", FakeTelegram)


def create_app(fake: FakeTelegram | None = None) -> web.Application:
    """Builds the aiohttp application serving the Bot API and the control API for `fake`."""
    fake = fake or FakeTelegram()
    app = web.Application(client_max_size=60 * 1024 * 1024)
    app[FAKE_KEY] = fake
    router = app.router
    router.add_route("*", "/bot{token}/{method}", _handle_api)
    router.add_get("/file/bot{token}/{path:.+}", _handle_file)
    prefix = "/__control/{token}"
    for name, handler in {
        "message": _c_message,
        "callback": _c_callback,
        "location": _c_location,
        "photo": _c_photo,
        "document": _c_document,
        "update": _c_update,
        "user": _c_user,
        "users": _c_users,
        "received": _c_received,
        "block": _c_block,
        "rate_limit": _c_rate_limit,
        "fail": _c_fail,
        "raw_answer": _c_raw_answer,
        "config": _c_config,
        "flood": _c_flood,
        "reset": _c_reset,
    }.items():
        router.add_post(f"{prefix}/{name}", _control(handler))
    router.add_get(prefix + "/chats/{chat_id}/messages", _control(_c_messages))
    router.add_get(prefix + "/counters", _control(_c_counters))
    router.add_get(prefix + "/chats/{chat_id}/callback_answers", _control(_c_callback_answers))
    router.add_get(prefix + "/files/{file_id}", _control(_c_file))
    router.add_get(f"{prefix}/state", _control(_c_state))
    router.add_get(f"{prefix}/requests", _control(_c_requests))

    async def on_shutdown(app: web.Application) -> None:
        # Long polls (getUpdates, control-API messages) answer now rather than hold the shutdown for 25 s.
        for bot in fake.bots.values():
            fake._close_bot(bot)

    async def on_cleanup(app: web.Application) -> None:
        await fake.aclose()

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


async def start_fake_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    fake: FakeTelegram | None = None,
    send_latency_ms: tuple[float, float] = (0.0, 0.0),
    state_dir: Path | str | None = None,
) -> tuple[FakeTelegram, web.AppRunner, str]:
    """Starts the fake server in the running loop; returns (state, runner, base URL). Stop with runner.cleanup().

    state_dir: where update ids are persisted so they keep growing across restarts (see FakeTelegram).
    """
    if fake is None:
        fake = FakeTelegram(send_latency_ms=send_latency_ms, state_dir=state_dir)
    elif send_latency_ms != (0.0, 0.0) or state_dir is not None:
        raise ValueError("pass send_latency_ms and state_dir to the FakeTelegram you give, not to start_fake_server")
    # handler_cancellation: a client that gives up on a long poll must not leave a zombie poller behind.
    runner = web.AppRunner(create_app(fake), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    real_port = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            real_port = int(address[1])
            break
    url_host = f"[{host}]" if ":" in host else host
    return fake, runner, f"http://{url_host}:{real_port}"


def run_fake_server(
    host: str,
    port: int,
    *,
    send_latency_ms: tuple[float, float] = (0.0, 0.0),
    state_dir: Path | str | None = None,
) -> None:
    """Runs the fake server until interrupted (SIGINT/SIGTERM); logs the base URL once."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    async def serve() -> None:
        _, runner, url = await start_fake_server(host, port, send_latency_ms=send_latency_ms, state_dir=state_dir)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        log.info("Fake Telegram Bot API listening on %s (control API: %s/__control/<token>/...)", url, url)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
