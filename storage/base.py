"""The base of every repository: a session, and whether we are on PostgreSQL (row locks, SKIP LOCKED)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


class Repository:
    """Base: a session and whether we are on PostgreSQL."""

    def __init__(self, session: AsyncSession, postgres: bool, statement_counts: Counter[str] | None = None) -> None:
        self.session = session
        self.postgres = postgres
        # Statements sent on the driver's connection are counted by hand (storage/pg_driver.py).
        self.statement_counts = statement_counts

    def _insert(self, model: Any) -> Any:
        """An INSERT that knows ON CONFLICT on either backend."""
        return pg_insert(model) if self.postgres else sqlite_insert(model)


def rowcount(result: Any) -> int:
    """Rows touched by an UPDATE or DELETE (0 when the driver cannot tell)."""
    return int(getattr(result, "rowcount", 0) or 0)
