"""/healthz and /metrics of a running bot (both engines, SQLite and PostgreSQL): the database and the Telegram API
reported reachable, 503 when one is not, Prometheus counters of updates handled and messages sent; and log
lines as JSON when asked."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.http import build_http_app
from bot.logs import JsonLines
from tests.e2e.conftest import ENGINE_DATABASE, engine_database_id, journey_bot
from tests.e2e.people import Person, wait_until


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("param", ENGINE_DATABASE, ids=engine_database_id)
async def test_healthz_and_metrics_of_a_running_bot(fake, tmp_path, param):  # type: ignore[no-untyped-def]
    _api, client = fake
    async with journey_bot(param, fake, tmp_path) as (bot, _url):
        base = f"http://127.0.0.1:{bot.app.http_port}"
        status, body = await get(base + "/healthz")
        health = json.loads(body)
        assert status == 200, body
        assert (health["status"], health["database"], health["telegram"]) == ("ok", "reachable", "reachable")
        person = Person(client, 7801, "Lucía", "es")
        await person.say("/start")
        await person.wait_for("Vecinos")

        async def counted() -> bool:
            _status, text = await get(base + "/metrics")
            return 'vecinos_updates_total{kind="command"}' in text

        await wait_until(counted, True, what="the /start counted in /metrics")
        status, text = await get(base + "/metrics")
        assert status == 200
        names = (
            "vecinos_update_seconds_bucket",
            "vecinos_messages_sent_total",
            "vecinos_rate_limited_total",
            "vecinos_blocked_total",
            "vecinos_send_retries_total",
            "vecinos_scheduler_lag_seconds",
        )
        for name in names:
            assert name in text, name


async def test_healthz_is_503_when_the_database_or_telegram_is_unreachable():
    async def down() -> dict[str, bool]:
        return {"database": False, "telegram": True}

    app = build_http_app(None, health=lambda: {"pid": 1}, checks=down)  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as http:
        response = await http.get("/healthz")
        assert response.status == 503
        assert await response.json() == {"status": "degraded", "pid": 1, "database": "unreachable",
                                         "telegram": "reachable"}  # fmt: skip


def test_log_lines_are_json_objects_when_asked():
    record = logging.LogRecord("bot.app", logging.WARNING, __file__, 1, "outbox: %s queued", ("3",), None)
    line = json.loads(JsonLines().format(record))
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "bot.app", "outbox: 3 queued")
    assert line["time"].endswith("+00:00")
