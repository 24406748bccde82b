"""Fixtures of the storage tests: a seeded database on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Database
from tests.conftest import database_params, drop_database, fresh_database_url, open_seeded


@pytest.fixture(params=database_params())
async def db(request, tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """A fresh database with the MCD territory, on SQLite and (when configured) PostgreSQL."""
    url = await fresh_database_url(request.param, tmp_path)
    database = await open_seeded(url)
    yield database
    await database.dispose()
    await drop_database(url)
