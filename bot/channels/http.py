"""The bot's HTTP server (every mode): /healthz, Open311 GeoReport v2 under /open311/v2, and in webhook mode
Telegram's updates on the webhook path.

Webhook updates are answered 200 only after they are applied and answered, so Telegram re-sends whatever a
crashed or failing process did not finish (at-least-once), and the update-id record makes that harmless.
aiogram's SimpleRequestHandler (in background mode) and PTB's update queue both answer 200 before handling,
which would lose an update on a crash; this handler drives the same ChannelRuntime both engines share.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.runtime import BatchIncomplete, ChannelRuntime
from handlers import open311
from handlers.context import Services

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
OPEN311 = "/open311/v2"


def build_http_app(
    services: Services,
    *,
    health: Callable[[], dict[str, Any]],
    channel: ChannelRuntime | None = None,
    secret: str | None = None,
    path: str | None = None,
    checks: Callable[[], Awaitable[dict[str, bool]]] | None = None,
    metrics: Callable[[], Awaitable[bytes]] | None = None,
) -> web.Application:
    """The HTTP application: GET /healthz (503 when `checks` find the database or Telegram unreachable), GET
    /metrics (Prometheus), Open311, and with a channel POST `path` (Telegram's updates)."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/healthz", _healthz(health, checks))
    if metrics is not None:
        app.router.add_get("/metrics", _metrics(metrics))
    _add_open311(app, services)
    if channel is not None and secret and path:
        app.router.add_post(path, _receive_updates(channel, secret))
    return app


def _healthz(health: Callable[[], dict[str, Any]], checks: Callable[[], Awaitable[dict[str, bool]]] | None):  # type: ignore[no-untyped-def]
    async def healthz(_request: web.Request) -> web.Response:
        reachable = await checks() if checks is not None else {}
        ok = all(reachable.values())
        body = {
            "status": "ok" if ok else "degraded",
            **health(),
            **{name: "reachable" if up else "unreachable" for name, up in reachable.items()},
        }
        # 503 tells a load balancer or a supervisor that this process cannot do its work right now.
        return web.json_response(body, status=200 if ok else 503)

    return healthz


def _metrics(render: Callable[[], Awaitable[bytes]]):  # type: ignore[no-untyped-def]
    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=await render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type": "prometheus-0.0.4"},
        )

    return metrics


def _receive_updates(channel: ChannelRuntime, secret: str):  # type: ignore[no-untyped-def]
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

    return receive_update


def _answer(answer: open311.ApiAnswer) -> web.Response:
    return web.json_response(answer.body, status=answer.status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _json_only(handler):  # type: ignore[no-untyped-def]
    """GeoReport names the format in the path (.json, .xml); this server speaks JSON."""

    async def wrapped(request: web.Request) -> web.Response:
        if request.match_info.get("format", "json") != "json":
            return _answer(open311.error(400, "only JSON is served here: use .json"))
        try:
            return _answer(await handler(request))
        except Exception:
            log.exception("Open311 request failed: %s %s", request.method, request.path)
            return _answer(open311.error(400, "the request could not be processed"))

    return wrapped


def _add_open311(app: web.Application, services: Services) -> None:
    async def services_list(_request: web.Request) -> open311.ApiAnswer:
        return await open311.service_list(services)

    async def service(request: web.Request) -> open311.ApiAnswer:
        return await open311.service_definition(services, request.match_info["code"])

    async def requests_list(request: web.Request) -> open311.ApiAnswer:
        return await open311.request_list(services, request.query, services.clock())

    async def request_one(request: web.Request) -> open311.ApiAnswer:
        return await open311.request_one(services, request.match_info["ref"])

    async def create(request: web.Request) -> open311.ApiAnswer:
        form: dict[str, str] = dict(request.query)
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return open311.error(400, "the body is not JSON")
            if not isinstance(body, dict):
                return open311.error(400, "the body must be a JSON object")
            form.update({k: str(v) for k, v in body.items() if v is not None})
        else:
            form.update({k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)})
        return await open311.create_request(services, form)

    async def unknown(_request: web.Request) -> web.Response:
        return _answer(open311.error(404, "no such Open311 resource"))

    router = app.router
    router.add_get(OPEN311 + "/services.{format}", _json_only(services_list))
    router.add_get(OPEN311 + "/services/{code}.{format}", _json_only(service))
    router.add_get(OPEN311 + "/requests.{format}", _json_only(requests_list))
    router.add_post(OPEN311 + "/requests.{format}", _json_only(create))
    router.add_get(OPEN311 + "/requests/{ref}.{format}", _json_only(request_one))
    router.add_route("*", OPEN311 + "/{tail:.*}", unknown)
