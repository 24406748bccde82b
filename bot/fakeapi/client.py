"""Async client for the fake Telegram server's control API (``/__control/{token}/...``)."""

from __future__ import annotations

import base64
from types import TracebackType
from typing import Any, Self

import aiohttp


class FakeTelegramError(RuntimeError):
    """The control API answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class FakeTelegramClient:
    """Plays the Telegram users (and inspects the bot's output) against a running fake server."""

    def __init__(self, base_url: str, token: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP session if this client created it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    @property
    def control_url(self) -> str:
        """Base URL of this bot's control API."""
        return f"{self.base_url}/__control/{self.token}"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        request_timeout: float = 30.0,
        raw: bool = False,
    ) -> Any:
        async with self._http().request(
            method,
            f"{self.control_url}/{path}",
            json=json,
            params=params,
            timeout=aiohttp.ClientTimeout(total=request_timeout),
        ) as resp:
            if resp.status >= 400:
                try:
                    message = (await resp.json()).get("error", resp.reason)
                except (aiohttp.ContentTypeError, ValueError):
                    message = await resp.text()
                raise FakeTelegramError(resp.status, str(message))
            if raw:
                return await resp.read()
            return await resp.json()

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._request("POST", path, json={k: v for k, v in body.items() if v is not None})

    async def send_message(self, user_id: int, text: str, **kw: Any) -> dict[str, Any]:
        """User `user_id` writes `text` (kw: first_name, language_code, chat_id, chat_type, edited, ...)."""
        return await self._post("message", {"user_id": user_id, "text": text, **kw})

    async def edit_message(self, user_id: int, text: str, message_id: int | None = None, **kw: Any) -> dict[str, Any]:
        """User edits their message (default: their latest one), producing an edited_message update."""
        return await self.send_message(user_id, text, edited=True, message_id=message_id, **kw)

    async def tap(self, user_id: int, message_id: int, data: str, chat_id: int | None = None) -> dict[str, Any]:
        """User taps an inline button with callback_data `data` on bot message `message_id`."""
        body = {"user_id": user_id, "message_id": message_id, "data": data, "chat_id": chat_id}
        return await self._post("callback", body)

    async def send_location(self, user_id: int, latitude: float, longitude: float, **kw: Any) -> dict[str, Any]:
        """User shares a location."""
        return await self._post("location", {"user_id": user_id, "latitude": latitude, "longitude": longitude, **kw})

    async def send_photo(self, user_id: int, caption: str | None = None, **kw: Any) -> dict[str, Any]:
        """User sends a (generated) photo with an optional caption."""
        return await self._post("photo", {"user_id": user_id, "caption": caption, **kw})

    async def send_document(
        self, user_id: int, file_name: str, data: bytes, caption: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """User sends a document with these bytes."""
        body = {
            "user_id": user_id,
            "file_name": file_name,
            "content_base64": base64.b64encode(data).decode(),
            "caption": caption,
            **kw,
        }
        return await self._post("document", body)

    async def send_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queues a raw update object (update_id assigned when missing; a known id is re-delivered)."""
        return await self._request("POST", "update", json=update)

    async def messages(
        self,
        chat_id: int,
        since: int = 0,
        wait: int = 0,
        timeout: float = 5.0,
        changed_after: int = 0,
    ) -> list[dict[str, Any]]:
        """Bot messages in a chat newer than `since`; with wait=n, long-polls until n exist or timeout."""
        params = {"since": since, "wait": wait, "timeout": timeout, "changed_after": changed_after}
        result = await self._request("GET", f"chats/{chat_id}/messages", params=params, request_timeout=timeout + 10)
        return list(result["messages"])

    async def poll_messages(
        self,
        chat_id: int,
        changed_after: int = 0,
        wait: int = 0,
        timeout: float = 5.0,
        instance_id: str | None = None,
    ) -> dict[str, Any]:
        """Like messages(), plus the server's instance_id; a different instance_id answers at once (restart)."""
        params: dict[str, Any] = {"wait": wait, "timeout": timeout, "changed_after": changed_after}
        if instance_id is not None:
            params["instance_id"] = instance_id
        result = await self._request("GET", f"chats/{chat_id}/messages", params=params, request_timeout=timeout + 10)
        return {"messages": list(result["messages"]), "instance_id": result.get("instance_id")}

    async def callback_answers(self, chat_id: int) -> list[dict[str, Any]]:
        """answerCallbackQuery calls for queries from this chat."""
        return list(await self._request("GET", f"chats/{chat_id}/callback_answers"))

    async def register_user(self, user_id: int, open_chat: bool = True, **kw: Any) -> dict[str, Any]:
        """Makes a user known (kw: first_name, language_code, ...); open_chat lets the bot message them."""
        result = await self._post("user", {"user_id": user_id, "open_chat": open_chat, **kw})
        return dict(result["user"])

    async def register_users(self, first: int, count: int) -> int:
        """Makes `count` users known from id `first` on, each with an open chat."""
        return int((await self._post("users", {"first": first, "count": count}))["registered"])

    async def counters(self) -> dict[str, int]:
        """Messages sent so far and 429s answered for the rate limits (cheap, unlike state())."""
        return dict(await self._request("GET", "counters"))

    async def received(self, first: int, count: int, contains: str) -> dict[str, Any]:
        """How many of chats first..first+count-1 got a bot message containing `contains`, and duplicates."""
        return dict(await self._post("received", {"first": first, "count": count, "contains": contains}))

    async def block(self, user_id: int, blocked: bool = True, notify: bool = False) -> dict[str, Any]:
        """User blocks (or unblocks) the bot; notify=True also sends a my_chat_member update."""
        return await self._post("block", {"user_id": user_id, "blocked": blocked, "notify": notify})

    async def set_rate_limit(
        self, global_per_second: int | None = None, per_chat_per_second: int | None = None
    ) -> None:
        """Sets the send*/edit* rate limits (None disables each)."""
        body = {"global_per_second": global_per_second, "per_chat_per_second": per_chat_per_second}
        await self._request("POST", "rate_limit", json=body)

    async def fail(
        self, method: str, status: int, description: str | None = None, count: int = 1, retry_after: int | None = None
    ) -> None:
        """Makes the next `count` calls of `method` fail with `status`."""
        body = {"method": method, "status": status, "description": description, "count": count}
        body["retry_after"] = retry_after
        await self._post("fail", body)

    async def raw_answer(
        self, method: str, status: int, body: str, content_type: str = "text/plain", count: int = 1
    ) -> None:
        """Makes the next `count` calls of `method` answer exactly `body` (not a Bot API answer) with `status`."""
        await self._post(
            "raw_answer",
            {"method": method, "status": status, "body": body, "content_type": content_type, "count": count},
        )

    async def configure(
        self, callback_timeout: float | None = None, send_latency_ms: tuple[float, float] | None = None
    ) -> dict[str, Any]:
        """Changes per-bot settings: how long callback queries stay answerable, send latency (min, max) in ms."""
        latency = None if send_latency_ms is None else list(send_latency_ms)
        return await self._post("config", {"callback_timeout": callback_timeout, "send_latency_ms": latency})

    async def flood(self, seconds: float) -> dict[str, Any]:
        """Flood control: every send*/edit* answers 429 retry_after for `seconds` from now (0 ends it)."""
        return await self._post("flood", {"seconds": seconds})

    async def state(self) -> dict[str, Any]:
        """Summary: pending_updates, confirmed_offset, webhook, commands, sent_count, requests, ..."""
        return dict(await self._request("GET", "state"))

    async def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        """Recent Bot API calls made by the bot, optionally of one method."""
        params = {"method": method} if method else None
        return list(await self._request("GET", "requests", params=params))

    async def file_bytes(self, file_id: str) -> bytes:
        """Raw bytes of a file the bot sent or a user uploaded."""
        return bytes(await self._request("GET", f"files/{file_id}", raw=True))

    async def reset(self) -> None:
        """Clears all of this bot's state on the server."""
        await self._request("POST", "reset")
