"""A fake Telegram Bot API server (aiohttp.web) that speaks the real HTTP wire format of aiogram and PTB.

Bot API: ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``. Test control API: ``/__control/{token}/...``
(see ``create_app`` for the routes). All state lives in a ``FakeTelegram`` instance, keyed by bot token.

This module assembles the app; each Bot API area lives in its own module: ``updates`` (the update queue and
getUpdates), ``messages`` (sending, editing, limits), ``files``, ``webhooks`` and ``control`` (the test control
API), over what ``state`` shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.fakeapi.control import (
    ControlHandler,
    ControlMixin,
    _c_block,
    _c_callback,
    _c_callback_answers,
    _c_config,
    _c_counters,
    _c_document,
    _c_fail,
    _c_file,
    _c_flood,
    _c_location,
    _c_message,
    _c_messages,
    _c_photo,
    _c_rate_limit,
    _c_raw_answer,
    _c_received,
    _c_requests,
    _c_reset,
    _c_state,
    _c_update,
    _c_user,
    _c_users,
    _control,
)
from bot.fakeapi.files import FilesMixin, _handle_file
from bot.fakeapi.messages import MessagesMixin
from bot.fakeapi.state import (
    CONFLICT_POLL,
    CONFLICT_WEBHOOK,
    DEFAULT_CALLBACK_TIMEOUT,
    DEFAULT_EXCLUDED_UPDATES,
    FAKE_KEY,
    FREEZE_EVERY,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    NOT_UTF8,
    QUERY_TOO_OLD,
    REQUEST_LOG_SIZE,
    STATE_FILE_NAME,
    TOKEN_RE,
    UPDATE_HISTORY_SIZE,
    UPDATE_ID_BLOCK,
    ApiError,
    BotState,
    ChatState,
    ControlError,
    QueuedUpdate,
    StoredFile,
    StoredMessage,
    Upload,
    _bad,
    _delayed,
    _fake,
    _find_surrogate,
    _json_response,
    _params_from_bytes,
    _params_from_multipart,
    _parse_query,
    decode_params,
    image_size,
    latency_range,
    log,
    parse_latency,
)
from bot.fakeapi.state import _dumps as _dumps  # tests use it
from bot.fakeapi.updates import UpdatesMixin
from bot.fakeapi.webhooks import WebhooksMixin

__all__ = [
    "CONFLICT_POLL",
    "CONFLICT_WEBHOOK",
    "DEFAULT_CALLBACK_TIMEOUT",
    "DEFAULT_EXCLUDED_UPDATES",
    "FAKE_KEY",
    "FREEZE_EVERY",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "NOT_MODIFIED",
    "NOT_UTF8",
    "QUERY_TOO_OLD",
    "REQUEST_LOG_SIZE",
    "STATE_FILE_NAME",
    "TOKEN_RE",
    "UPDATE_HISTORY_SIZE",
    "UPDATE_ID_BLOCK",
    "ApiError",
    "BotState",
    "ChatState",
    "ControlError",
    "ControlHandler",
    "FakeTelegram",
    "QueuedUpdate",
    "StoredFile",
    "StoredMessage",
    "Upload",
    "create_app",
    "decode_params",
    "image_size",
    "latency_range",
    "log",
    "parse_latency",
    "run_fake_server",
    "start_fake_server",
]


class FakeTelegram(UpdatesMixin, MessagesMixin, FilesMixin, WebhooksMixin, ControlMixin):
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


# ---------------------------------------------------------------------- HTTP layer


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


def listening_url(runner: web.AppRunner, host: str, port: int) -> str:
    """The http:// address a started runner listens on (the real port when `port` was 0), without a slash."""
    real_port = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            real_port = int(address[1])
            break
    url_host = f"[{host}]" if ":" in host else host
    return f"http://{url_host}:{real_port}"


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
    return fake, runner, listening_url(runner, host, port)


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
