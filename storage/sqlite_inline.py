"""SQLite on the event loop thread, behind the aiosqlite interface SQLAlchemy's async dialect expects.

Why: aiosqlite runs every statement on a worker thread; the hand-off costs ~200 µs per statement, while a
statement on a local WAL database takes ~20 µs. A transaction of eight statements spent 90% of its time
crossing threads, and SQLite admits one writer anyway (transactions are queued on an asyncio lock), so
nothing runs in parallel that the thread would protect. The cost: a statement blocks the loop while another
*process* holds the write lock (bounded by busy_timeout); Vecinos' other processes are short CLI commands.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


class InlineCursor:
    """An aiosqlite-style cursor whose coroutines complete without leaving the thread."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        """Run one statement."""
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        """Run one statement for many parameter sets."""
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        """The next row."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next `size` rows."""
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()

    async def nextset(self) -> None:
        """SQLite has one result set per statement."""
        return None

    @property
    def description(self) -> Any:
        """Column descriptions of the last query."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """Row id of the last insert."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """Default fetchmany size."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """An aiosqlite-style connection over a plain sqlite3 connection used from the event loop thread."""

    def __init__(self, path: str) -> None:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves (see storage.db).
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        for pragma in PRAGMAS:
            self._conn.execute(pragma)
        self._connection = self._conn  # SQLAlchemy checks this attribute before commit/rollback

    def cursor(self) -> InlineCursor:
        """A new cursor."""
        return InlineCursor(self._conn.cursor())

    @property
    def isolation_level(self) -> str | None:
        """Always None: transactions are begun explicitly."""
        return self._conn.isolation_level

    async def commit(self) -> None:
        """Commit the transaction."""
        self._conn.commit()

    async def rollback(self) -> None:
        """Roll the transaction back."""
        self._conn.rollback()

    async def close(self) -> None:
        """Close the connection."""
        self._conn.close()
        self._connection = None  # type: ignore[assignment]

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """Register an SQL function."""
        self._conn.create_function(*args, **kwargs)


def inline_creator(path: str):  # type: ignore[no-untyped-def]
    """An `async_creator` for create_async_engine that opens inline SQLite connections to `path`."""

    async def create() -> InlineConnection:
        return InlineConnection(path)

    return create
