"""The ballot box on SQLite and PostgreSQL: concurrent casts by one voter count once (also from two engines, as
two processes would), withdrawing needs the receipt, and after the close nothing orders ballots by casting time:
no rowid on SQLite; on PostgreSQL neither the rows' physical places nor their transaction ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.domain.ballots import PollKind, new_receipt
from bot.domain.polls import DEFAULT_POLICY, PollScope, PollTerms, ScopeKind
from storage.db import Database
from storage.demo import DEMO_FIRST_USER_ID

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


async def open_poll_of(db: Database, residents: int) -> tuple[int, list[int], list[int]]:
    """A circle with `residents` demo members and an open single-choice poll: (poll, options, resident ids)."""
    from bot.i18n import Catalogs
    from handlers.poll_schedule import create_poll

    async with db.unit_of_work() as uow:
        circle = await uow.territory.circle_by_code("emb-plaza-lavapies")
        assert circle is not None
        await uow.demo.populate(residents, [circle.id], ("es", "en", "ar"), NOW)
        terms = PollTerms(PollKind.SINGLE, "¿Bancos?", ("A", "B", "C"), NOW, NOW + timedelta(days=3))
        poll = await create_poll(
            uow, Catalogs(), terms, PollScope(ScopeKind.CIRCLE, circle.id), NOW, DEFAULT_POLICY, created_by=None
        )
        options = [o.id for o in await uow.polls.options(poll.id)]
        ids = [r[0] for r in (await uow.session.execute(text("SELECT id FROM resident ORDER BY id"))).all()]
        await uow.commit()
        return poll.id, options, ids


async def cast(db: Database, poll_id: int, resident_id: int, option_id: int) -> bool:
    async with db.unit_of_work() as uow:
        done = await uow.ballots.cast(poll_id, resident_id, [option_id], new_receipt(poll_id).tracker_hash)
        await uow.commit()
        return done


async def test_concurrent_casts_by_one_voter_count_once_even_from_two_engines(db, tmp_path):
    poll_id, options, residents = await open_poll_of(db, 3)
    second = Database(db.url)  # another engine and pool, as a second process has
    try:
        attempts = [cast(engine, poll_id, residents[0], options[i % 3]) for i in range(40) for engine in (db, second)]
        outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    finally:
        await second.dispose()
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert outcomes.count(True) == 1
    async with db.unit_of_work() as uow:
        assert await uow.ballots.turnout(poll_id) == 1
        assert await uow.ballots.ballot_count(poll_id) == 1


async def test_withdrawing_needs_the_voters_participation_and_the_receipt(db):
    poll_id, options, residents = await open_poll_of(db, 3)
    receipt = new_receipt(poll_id)
    async with db.unit_of_work() as uow:
        assert await uow.ballots.cast(poll_id, residents[0], [options[0]], receipt.tracker_hash)
        assert not await uow.ballots.withdraw(poll_id, residents[0], new_receipt(poll_id).tracker_hash)
        assert not await uow.ballots.withdraw(poll_id, residents[1], receipt.tracker_hash)  # not a voter
        assert await uow.ballots.find(poll_id, receipt.tracker_hash) == [options[0]]
        assert await uow.ballots.withdraw(poll_id, residents[0], receipt.tracker_hash)
        assert await uow.ballots.find(poll_id, receipt.tracker_hash) is None
        assert await uow.ballots.turnout(poll_id) == 0


async def test_after_the_close_nothing_orders_ballots_by_casting_time(db):
    poll_id, options, residents = await open_poll_of(db, 12)
    for index, resident in enumerate(residents):  # one transaction per vote, as in chat
        assert await cast(db, poll_id, resident, options[index % 3])
    async with db.unit_of_work() as uow:
        await uow.ballots.reseal(poll_id)
        await uow.commit()
    async with db.unit_of_work() as uow:
        session = uow.session
        if db.is_sqlite:
            with pytest.raises(OperationalError):
                await session.execute(text("SELECT rowid FROM poll_ballot"))
            # Rows sit in the order of their random keys; nothing else records an order.
        else:
            rows = (await session.execute(text("SELECT xmin::text, tracker_hash FROM poll_ballot ORDER BY ctid"))).all()
            assert len({xmin for xmin, _ in rows}) == 1, "ballots carry the transaction ids of their casting"
            physical = [h for _, h in rows]
            voters = (await session.execute(text("SELECT xmin::text FROM poll_participation"))).scalars().all()
            assert len(set(voters)) == 1
            assert physical == sorted(physical), "ballots sit in the order they were cast"
        assert await uow.ballots.turnout(poll_id) == await uow.ballots.ballot_count(poll_id) == 12
        demo = (await session.execute(text("SELECT min(telegram_user_id) FROM resident"))).scalar()
        assert demo == DEMO_FIRST_USER_ID
