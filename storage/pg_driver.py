"""The asyncpg connection under a session's transaction, for the few statements every update runs.

SQLAlchemy spends more CPU building, keying and reading a statement than PostgreSQL spends running it (about
70 us a statement over asyncpg's own): the statements that open and close every update go to asyncpg directly,
inside the session's transaction (so they commit and roll back with everything else), as statements asyncpg
prepares once per connection and keeps in its statement cache.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> Any:
    """The session's asyncpg connection, with the session's transaction begun on it (as SQLAlchemy's asyncpg
    adapter begins it before its first statement, and commits or rolls it back with the session)."""
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    if adapted is None:
        raise RuntimeError("the session's connection is closed")
    if getattr(adapted, "_transaction", None) is None:
        # The adapter's own start, so that its commit and rollback end this transaction.
        await adapted._start_transaction()
    return adapted.driver_connection


def count_statement(counts: Counter[str] | None) -> None:
    """Count a statement sent past SQLAlchemy's events (storage.db.RoundTrips)."""
    if counts is not None:
        counts["statement"] += 1
