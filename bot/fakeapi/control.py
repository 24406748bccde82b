"""The test control API of the fake Bot API (what bot.fakeapi.client calls): injecting updates, inspecting state."""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import json
import mimetypes
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.fakeapi.entities import utf16_len
from bot.fakeapi.state import (
    _MESSAGE_UPDATE_KINDS,
    TOKEN_RE,
    ApiError,
    BotState,
    ChatState,
    ControlError,
    StoredFile,
    StoredMessage,
    _cached_png,
    _fake,
    _find_surrogate,
    _freeze_what_is_kept,
    _json_response,
    _now,
    _surrogate_error,
    _update_kind,
    latency_range,
)

if TYPE_CHECKING:
    from bot.fakeapi.server import FakeTelegram


class ControlMixin:
    """Injection and inspection methods behind the control API."""

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

    def inject_photo(
        self,
        token: str,
        user_id: int,
        caption: str | None = None,
        *,
        data: bytes | None = None,
        mime_type: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Queues a photo message with three real PNG sizes (smallest first) the bot can download; with `data`
        (an uploaded image) that image is the one size."""
        bot = self.get_bot(token)
        if data:
            sizes = self._photo_sizes(self._new_file(bot, "photo", data, mime_type=mime_type or "image/jpeg"))
        else:
            sizes = [
                self._photo_sizes(self._new_file(bot, "photo", _cached_png(w, h), mime_type="image/png"))[0]
                for w, h in ((90, 67), (320, 240), (800, 600))
            ]
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


ControlHandler = Callable[["FakeTelegram", str, dict[str, Any], web.Request], Awaitable[Any]]


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
