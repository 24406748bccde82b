"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import Database
from storage.models import Base
from tests.conftest import database_params, drop_database, fresh_database_url


@pytest.mark.parametrize("kind", database_params())
async def test_migrated_schema_matches_the_models(kind, tmp_path):
    url = await fresh_database_url(kind, tmp_path)
    db = Database(url)
    try:
        await db.migrate()
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        # SQLite reports server defaults and types loosely; what matters is tables, columns and indexes.
        relevant = [
            d
            for d in differences
            if d[0] in ("add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index")
        ]
        assert relevant == []
    finally:
        await db.dispose()
        await drop_database(url)


async def test_bookkeeping_writes_go_before_waiting_updates_on_sqlite():
    """The delivery record must not wait behind every update queued for SQLite's one writer."""
    import asyncio

    from storage.uow import PriorityLock

    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()

    async def take(name: str, priority: bool) -> None:
        await lock.acquire(priority=priority)
        order.append(name)
        lock.release()

    waiting = [asyncio.create_task(take(f"update {n}", False)) for n in range(3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(take("delivery record", True)))
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*waiting)
    assert order == ["delivery record", "update 0", "update 1", "update 2"]
