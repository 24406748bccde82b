"""Statements an update sends to the database (a regression guard), and on PostgreSQL the close that refuses to
commit over a chat another process changed meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.channels.base import Incoming, IncomingKind
from bot.domain.permissions import Action
from handlers import Dispatcher
from handlers.context import Context, Flow, NoStep
from handlers.routing import Command, Routes
from storage.db import Database
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
async def two_processes(tmp_path) -> AsyncIterator[tuple[Database, Database]]:  # type: ignore[no-untyped-def]
    """Two databases objects (as two processes have) on one fresh PostgreSQL database."""
    if not POSTGRES_URL:
        pytest.skip("VECINOS_TEST_POSTGRES_URL not set")
    url = await fresh_database_url("postgres", tmp_path)
    first = await open_seeded(url)
    second = Database(url)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()
        await drop_database(url)


@pytest.mark.postgres
async def test_an_update_whose_chat_changed_meanwhile_is_applied_again_from_there(
    two_processes: tuple[Database, Database],
) -> None:
    """Process A opens an update; process B applies another update of the same chat and commits; A's close must
    not commit over B's state: A applies its update again and counts from B's result."""
    first_db, second_db = two_processes
    first, second = Harness(first_db), Harness(second_db)
    calls = {"first": 0}

    async def count(ctx: Context) -> None:
        await ctx.go(Flow.NONE, NoStep.NONE, n=int(ctx.data.get("n", 0)) + 1)
        ctx.say(str(ctx.data["n"]))

    async def count_slowly(ctx: Context) -> None:
        calls["first"] += 1
        await count(ctx)
        if calls["first"] == 1:
            # Meanwhile, the other process handles the chat's next update to the end.
            await second_process.handle(command(2, "count"))

    first_process = Dispatcher(first.services, Routes(commands={"count": Command(count_slowly, Action.JOIN_CIRCLE)}))
    second_process = Dispatcher(second.services, Routes(commands={"count": Command(count, Action.JOIN_CIRCLE)}))
    # The chat exists before (as it does for every update but a chat's first).
    await second_process.handle(command(1, "count"))

    outcome = await asyncio.wait_for(first_process.handle(command(3, "count")), 30)

    assert calls["first"] == 2
    assert [r.text for r in outcome.replies] == ["3"]
    async with first_db.unit_of_work() as uow:
        opened = await uow.conversations.open_update(ANA.user_id, 999, ANA.user_id, first.clock())
        assert opened.state.data["n"] == 3
        assert await uow.updates.count() == 3
