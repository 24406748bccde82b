"""Two processes on one PostgreSQL database (two engines, two dispatchers) given the same updates at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.channels.base import Incoming
from bot.domain.permissions import Action
from handlers import ROUTES, Dispatcher
from handlers.routing import Callback, Routes
from storage.db import Database
from tests.conftest import POSTGRES_URL, drop_database, fresh_database_url, open_seeded
from tests.handlers.harness import Harness, Person, command_update, tap_update

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs VECINOS_TEST_POSTGRES_URL")


@pytest.fixture
async def two_processes(tmp_path) -> AsyncIterator[tuple[Harness, Harness]]:  # type: ignore[no-untyped-def]
    url = await fresh_database_url("postgres", tmp_path)
    first = await open_seeded(url)
    second = Database(url)
    yield Harness(first), Harness(second)
    await first.dispose()
    await second.dispose()
    await drop_database(url)


def start(update_id: int, user_id: int) -> Incoming:
    return command_update(Person(user_id, "Vecina"), "/start", update_id)


def tap(update_id: int, user_id: int, data: str) -> Incoming:
    return tap_update(Person(user_id, "Vecina"), data, update_id)


async def handle_and_deliver(h: Harness, update: Incoming) -> int:
    """What a channel does: apply, show the replies, record them as shown. Returns how many were shown."""
    outcome = await h.dispatcher.handle(update)
    if outcome.needs_delivery:
        await h.dispatcher.mark_delivered([outcome.update_id])
        return len(outcome.replies)
    return 0


async def test_a_duplicate_update_in_two_processes_is_applied_once_and_answered_once(two_processes):
    a, b = two_processes
    answered = []
    for n in range(30):
        update = start(10_000 + n, 70_000 + n)
        shown = await asyncio.gather(handle_and_deliver(a, update), handle_and_deliver(b, update))
        answered.append(sum(shown))
    assert a.dispatcher.failures == b.dispatcher.failures == 0
    assert answered == [1] * 30  # one welcome per chat, and no apology
    assert await a.scalar("SELECT count(*) FROM processed_update") == 30
    assert await a.scalar("SELECT count(*) FROM conversation WHERE step = 'language'") == 30


async def test_a_process_sees_what_the_process_it_waited_for_committed(two_processes):
    """B waits for the chat's lock while A registers the person; once it has the lock, B must see the new
    resident (a statement that waited for a lock keeps its old snapshot: it would say "not registered")."""
    a, b = two_processes
    for update in (start(20_001, 71_000), tap(20_002, 71_000, "lang:es")):
        await a.feed(update)

    async def slow_consent(ctx, data):  # type: ignore[no-untyped-def]
        await ROUTES.callbacks["consent"].handler(ctx, data)
        await asyncio.sleep(0.5)  # still inside A's transaction, holding the chat's row lock

    a.dispatcher = Dispatcher(
        a.services,
        Routes(
            commands=ROUTES.commands,
            callbacks={**ROUTES.callbacks, "consent": Callback(slow_consent, Action.JOIN_CIRCLE)},
            step_inputs=ROUTES.step_inputs,
        ),
    )
    consenting = asyncio.create_task(a.dispatcher.handle(tap(20_003, 71_000, "consent:yes")))
    await asyncio.sleep(0.2)
    me = command_update(Person(71_000, "Vecina"), "/me", 20_004)
    outcome = await b.dispatcher.handle(me)
    await consenting
    assert a.dispatcher.failures == b.dispatcher.failures == 0
    assert outcome.replies[0].text.startswith("👤 <b>Vecina</b>"), outcome.replies[0].text
