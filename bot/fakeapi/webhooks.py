"""Webhooks of the fake Bot API: setWebhook, deleteWebhook, getWebhookInfo and delivery to the webhook."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import aiohttp

from bot.fakeapi.state import (
    ApiError,
    BotState,
    QueuedUpdate,
    Upload,
    _bad,
    _bool,
    _dumps,
    _int,
    _now,
    _params_from_bytes,
    _params_from_multipart,
    decode_params,
)


class WebhooksMixin:
    """Webhook settings and the task that delivers updates to the webhook."""

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
