"""The asyncpg connection under a session's transaction, for the few statements every update runs.

SQLAlchemy spends more CPU building, keying and reading a statement than PostgreSQL spends running it (about
70 us a statement over asyncpg's own): the statements that open and close every update go to asyncpg directly,
inside the session's transaction (so they commit and roll back with everything else), as statements asyncpg
prepares once per connection and keeps in its statement cache.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.orm.util import identity_key

ModelT = TypeVar("ModelT")


async def driver_connection(session: AsyncSession) -> Any:
    """The session's asyncpg connection, with the session's transaction begun on it (as SQLAlchemy's asyncpg
    adapter begins it before its first statement, and commits or rolls it back with the session); what the
    session holds unsaved is written first, as its autoflush does before a statement of its own."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
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


def insert_returning_id(table: Table) -> tuple[str, tuple[str, ...]]:
    """An INSERT of every column of `table` but its id, returning the id; with the columns in parameter order
    (the caller gives every value, model defaults included, as the ORM would have filled them in)."""
    columns = tuple(column.name for column in table.columns if column.name != "id")
    placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id", columns


_INSERTS: dict[str, tuple[str, tuple[str, ...]]] = {}


async def insert_and_attach(
    session: AsyncSession, counts: Counter[str] | None, model: type[ModelT], values: dict[str, Any]
) -> ModelT:
    """Insert one row of `model` on the driver's connection (`values` holds every column but the id) and return
    the session's object for it, with its new id."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    statement, columns = _INSERTS.get(table.name) or _INSERTS.setdefault(table.name, insert_returning_id(table))
    connection = await driver_connection(session)
    count_statement(counts)
    values["id"] = await connection.fetchval(statement, *(values[name] for name in columns))
    return attach_loaded(session, model, values)


def attach_loaded(session: AsyncSession, model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """The session's object for a row read or written on the driver's connection: the one it holds already, or
    a new one as if the session had loaded it (persistent, nothing changed), so a change to it is saved."""
    key = identity_key(model, values["id"])
    held = session.identity_map.get(key)
    if held is not None:
        return held  # type: ignore[no-any-return]
    # As the ORM's loading does: the values go straight into the new instance's dict (no change events, no
    # history), and with its identity set the session takes it as persistent.
    instance = manager_of_class(model).new_instance()
    state = instance_state(instance)
    state.dict.update(values)
    state.key = key
    session.add(instance)
    return instance  # type: ignore[no-any-return]
