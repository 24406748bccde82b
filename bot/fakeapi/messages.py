"""Messages in the fake Bot API: send*, edit*, answerCallbackQuery, bot commands, rate limits and flood."""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from typing import Any

from bot.fakeapi.entities import EntityParseError, parse_html
from bot.fakeapi.state import (
    _CHAT_ACTIONS,
    _COMMAND_RE,
    _DEFAULT_FAILURE_DESCRIPTIONS,
    _INLINE_BUTTON_ACTIONS,
    _INT_RE,
    _SCOPE_TYPES,
    FREEZE_EVERY,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    BotState,
    ChatState,
    StoredMessage,
    Upload,
    _bad,
    _bool,
    _freeze_what_is_kept,
    _inline_markup,
    _int,
    _json_field,
    _norm_json,
    _now,
    _sends,
    _too_many,
)


class MessagesMixin:
    """The Bot API methods that send, edit and answer, and the limits they are subject to."""

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
