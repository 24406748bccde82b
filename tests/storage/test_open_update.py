"""An update's open and close (storage/conversations.py) read and write the same on both backends; on PostgreSQL
they run on the driver's connection inside the session's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.permissions import Grant, Role, ScopeKind
from storage.db import Database

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def test_the_opened_resident_belongs_to_the_transaction_and_a_change_to_it_commits(db: Database) -> None:
    async with db.unit_of_work() as uow:
        resident = await uow.residents.register(501, 501, "Ana", "es", NOW)
        await uow.roles.grant(Grant(Role.COMMUNITY_MANAGER, ScopeKind.CIRCLE, 7), NOW, resident_id=resident.id)
        await uow.commit()
    async with db.unit_of_work() as uow:
        opened = await uow.conversations.open_update(501, 1, 501, NOW)
        assert opened.seen is None and opened.resident is not None
        assert (opened.resident.first_name, opened.resident.locale) == ("Ana", "es")
        assert [(g.role, g.scope, g.scope_id) for g in opened.grants] == [(Role.COMMUNITY_MANAGER, ScopeKind.CIRCLE, 7)]
        await uow.residents.touch(opened.resident, "Ana María", 501)
        await uow.conversations.save(opened.state, "menu", "main", {"page": 2}, NOW)
        assert await uow.conversations.close_update(opened.state, 1, 501, [{"text": "hola"}], NOW, deliver_by=NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        opened = await uow.conversations.open_update(501, 1, 501, NOW)
        assert opened.resident is not None and opened.resident.first_name == "Ana María"
        assert (opened.state.flow, opened.state.step, opened.state.data) == ("menu", "main", {"page": 2})
        assert opened.seen is not None and opened.seen.replies == [{"text": "hola"}]
        assert opened.seen.delivered is False and opened.seen.deliver_by == NOW
        # Recorded already: a second close of the same update does not count.
        assert not await uow.conversations.close_update(opened.state, 1, 501, [], NOW)


async def test_a_rolled_back_update_leaves_no_record_and_no_state(db: Database) -> None:
    async with db.unit_of_work() as uow:
        opened = await uow.conversations.open_update(777, 5, 777, NOW)
        assert opened.resident is None and opened.grants == [] and opened.state.flow == ""
        await uow.conversations.save(opened.state, "registration", "language", {}, NOW)
        assert await uow.conversations.close_update(opened.state, 5, 777, [], NOW)
        await uow.rollback()
    async with db.unit_of_work() as uow:
        opened = await uow.conversations.open_update(777, 5, 777, NOW)
        assert opened.seen is None and opened.state.step == ""
