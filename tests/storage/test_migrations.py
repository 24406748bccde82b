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
