"""Webhook mode: one aiohttp application serving Telegram's webhook path and /healthz.

Updates are answered 200 only after they are applied and answered, so Telegram re-sends whatever a crashed or
failing process did not finish (at-least-once), and the update-id record makes that harmless. aiogram's
SimpleRequestHandler (in background mode) and PTB's update queue both answer 200 before handling, which would
lose an update on a crash; this handler drives the same ChannelRuntime both engines share.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.channels.runtime import BatchIncomplete, ChannelRuntime

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def build_web_app(
    channel: ChannelRuntime, *, secret: str, path: str, health: Callable[[], dict[str, Any]]
) -> web.Application:
    """The HTTP application: POST `path` (Telegram's updates), GET /healthz."""

    async def receive_update(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), secret):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = await request.json()
            update = channel.parse_update(data)
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            # Malformed input will not improve with retries: accept it and log.
            log.warning("ignoring a malformed webhook body: %s", exc)
            return web.json_response({"ok": True})
        try:
            await channel.handle_batch([update])
        except BatchIncomplete as exc:
            log.warning("%s; Telegram will send it again", exc)
            return web.json_response({"ok": False}, status=500)
        except Exception:
            log.exception("update %s failed; Telegram will send it again", data.get("update_id"))
            return web.json_response({"ok": False}, status=500)
        return web.json_response({"ok": True})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **health()})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post(path, receive_update)
    app.router.add_get("/healthz", healthz)
    return app
