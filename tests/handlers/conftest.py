"""Fixtures for handler flows on real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Database
from tests.handlers.harness import Harness


@pytest.fixture
async def bot(sqlite_db: Database) -> AsyncIterator[Harness]:
    """A dispatcher on a seeded SQLite database, with a settable clock."""
    yield Harness(sqlite_db)
