"""Polling never dies silently: answers it cannot decode are logged and retried, and if a task that must run
for the life of the process ends anyway, the process says why and stops (for a supervisor to restart it)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.errors import TaskEnded
from tests.e2e.conftest import start_in_process
from tests.e2e.people import Person, wait_handled


@pytest.fixture(params=["aiogram", "ptb"])
def engine(request) -> str:  # type: ignore[no-untyped-def]
    """Both engines poll through the shared runtime."""
    return request.param


@pytest.mark.parametrize(
    ("status", "body", "content_type", "logged"),
    [
        # A proxy's error page after a 5,000-character paste: not JSON at all.
        (500, "<html><body>500 Internal Server Error</body></html>", "text/html", "getUpdates failed"),
        # JSON, but not a list of updates: the framework raises something that is no delivery error.
        (200, '{"ok": true, "result": {"not": "a list"}}', "application/json", "getUpdates failed unexpectedly"),
    ],
    ids=["undecodable", "unexpected"],
)
async def test_a_bad_getupdates_answer_is_logged_and_polling_goes_on(
    fake, database_url, engine, caplog, status, body, content_type, logged
):
    api_url, client = fake
    bot = await start_in_process(api_url, database_url, client, engine, "polling")
    try:
        lucia = Person(client, 5101, "Lucía", "es")
        with caplog.at_level(logging.WARNING, logger="bot.channels.runtime"):
            await client.raw_answer("getUpdates", status, body, content_type)
            # The poll waiting now returns this message; the next one gets the broken answer.
            assert await lucia.say("/help")
            sent = await client.send_message(5101, "/me", first_name="Lucía", language_code="es")
            await wait_handled(client, sent["update_id"], timeout=30)
        assert any(logged in record.getMessage() for record in caplog.records), caplog.text
        assert (await client.messages(5101))[-1]["text"]  # /me was answered after the failure
        assert not bot.task.done()
    finally:
        await bot.close()


async def test_a_polling_task_that_ends_stops_the_process_with_a_reason(fake, database_url, engine, caplog):
    api_url, client = fake
    bot = await start_in_process(api_url, database_url, client, engine, "polling")
    polling = next(task for task in asyncio.all_tasks() if task.get_name() == "polling")
    with caplog.at_level(logging.CRITICAL, logger="bot.app"):
        polling.cancel()  # whatever the reason, the task is gone
        with pytest.raises(TaskEnded, match="polling"):
            await asyncio.wait_for(bot.task, 15)
    assert any("the polling task ended unexpectedly" in r.getMessage() for r in caplog.records), caplog.text
