"""State shared by the fake Bot API areas: errors, stored chats, messages, files and updates, request parsing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import math
import re
import struct
import sys
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from bot.fakeapi.server import FakeTelegram

# The historical logger name, kept for every area of the fake server.
log = logging.getLogger("bot.fakeapi.server")

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


def _json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(payload), status=status, content_type="application/json")


# Set on the app by create_app; the key is defined here so that every area can read it.
FAKE_KEY: web.AppKey[FakeTelegram] = web.AppKey("fake_telegram")


def _fake(request: web.Request) -> FakeTelegram:
    return request.app[FAKE_KEY]
