"""Statements an update sends to the database, counted by storage.db.RoundTrips (a regression guard). Two processes
on one chat are tests/storage/test_concurrency.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.channels.base import Incoming, IncomingKind
from tests.conftest import POSTGRES_URL, drop_database, fresh_database_url, open_seeded
from tests.handlers.harness import Harness, Person

ANA = Person(4242, "Ana")


async def statements_for(bot: Harness, step) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the database was sent while `step` ran, by kind."""
    before = dict(bot.db.round_trips.counts)
    await step
    return {kind: n - before.get(kind, 0) for kind, n in bot.db.round_trips.counts.items() if n != before.get(kind, 0)}


async def test_a_plain_start_and_a_tap_stay_within_a_few_statements(bot: Harness) -> None:
    # A new chat's /start: open (nothing yet), create the chat, open again, grants waiting for the person, the
    # close, and SQLite's BEGIN IMMEDIATE; the delivery record is a transaction of its own.
    start = await statements_for(bot, bot.dispatcher.handle(command(1, "start")))
    assert start.get("statement", 0) <= 8 and start.get("commit") == 1, start
    tap = await statements_for(bot, bot.dispatcher.handle(callback(2, "lang:es")))
    assert tap.get("statement", 0) <= 4 and tap.get("commit") == 1, tap


def command(update_id: int, name: str) -> Incoming:
    """Ana sends /name."""
    return Incoming(
        kind=IncomingKind.COMMAND,
        text=f"/{name}",
        command=name,
        args="",
        update_id=update_id,
        chat_id=ANA.user_id,
        user_id=ANA.user_id,
        first_name=ANA.first_name,
        language_code="es",
    )


def callback(update_id: int, data: str) -> Incoming:
    """Ana taps a button."""
    return Incoming(
        kind=IncomingKind.CALLBACK,
        callback_id=str(update_id),
        callback_data=data,
        message_id=1,
        update_id=update_id,
        chat_id=ANA.user_id,
        user_id=ANA.user_id,
        first_name=ANA.first_name,
        language_code="es",
    )


@pytest.fixture
async def postgres_bot(tmp_path) -> AsyncIterator[Harness]:  # type: ignore[no-untyped-def]
    """A dispatcher on a fresh, seeded PostgreSQL database."""
    if not POSTGRES_URL:
        pytest.skip("VECINOS_TEST_POSTGRES_URL not set")
    url = await fresh_database_url("postgres", tmp_path)
    db = await open_seeded(url)
    try:
        yield Harness(db)
    finally:
        await db.dispose()
        await drop_database(url)


@pytest.mark.postgres
async def test_on_postgresql_a_tap_is_begin_open_close_commit(postgres_bot: Harness) -> None:
    # The open (row lock and everything read) and the close (state and record) are one statement each.
    await postgres_bot.dispatcher.handle(command(1, "start"))
    tap = await statements_for(postgres_bot, postgres_bot.dispatcher.handle(callback(2, "lang:es")))
    assert tap == {"begin": 1, "statement": 2, "commit": 1}, tap
