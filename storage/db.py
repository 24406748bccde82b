"""The database: engine, SQLite tuning, migrations applied on open, and units of work."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage.leader import LeaderLock
from storage.schema_version import is_at_newest
from storage.sqlite_inline import inline_creator
from storage.territory import TerritoryCache
from storage.uow import PriorityLock, UnitOfWork

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Prepared statements kept per PostgreSQL connection (SQLAlchemy's asyncpg default is 100).
STATEMENT_CACHE_SIZE = 500


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at our migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


class RoundTrips:
    """Statements sent to the database, by kind (statement, begin, commit, rollback), counted from the engines'
    events: what /metrics serves as `vecinos_db_statements_total` and the throughput bench divides by updates.

    On SQLite our BEGIN IMMEDIATE is a statement of its own, so only the PostgreSQL driver's implicit BEGIN is
    counted as a begin."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def watch(self, engine: AsyncEngine, *, count_begin: bool) -> None:
        """Count what `engine` sends from now on."""
        counts = self.counts
        sync_engine = engine.sync_engine

        def on_statement(*_args: Any) -> None:
            # An executemany counts once: asyncpg pipelines its parameter sets, SQLite runs them in-process.
            counts["statement"] += 1

        event.listen(sync_engine, "before_cursor_execute", on_statement)
        if count_begin:
            event.listen(sync_engine, "begin", lambda _conn: counts.update(("begin",)))
        event.listen(sync_engine, "commit", lambda _conn: counts.update(("commit",)))
        event.listen(sync_engine, "rollback", lambda _conn: counts.update(("rollback",)))

    def total(self) -> int:
        """Every statement counted so far."""
        return sum(self.counts.values())


# Connections each process keeps to PostgreSQL (VECINOS_DATABASE_POOL_SIZE): with several processes, mind the
# server's max_connections (100 by default).
DEFAULT_POOL_SIZE = 20


class Database:
    """One engine and its session factory; `unit_of_work()` opens one transaction."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            options["async_creator"] = inline_creator(url.split(":///", 1)[1])
            # Every unit of work ends in an explicit commit or rollback; no reset needed on check-in.
            options["pool_reset_on_return"] = None
        else:
            # No pre-ping: it costs a round trip per transaction; a dropped connection fails one update,
            # which is then re-delivered because its batch is not confirmed. No overflow: a connection opened
            # for a burst and closed after it costs its set-up queries and prepares every statement again.
            # asyncpg prepares each statement once per connection; the cache holds every hot statement.
            options.update(
                pool_size=pool_size,
                max_overflow=0,
                pool_recycle=1800,
                connect_args={"prepared_statement_cache_size": STATEMENT_CACHE_SIZE},
            )
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # Short bookkeeping writes have connections of their own, so they never queue behind updates.
        self.priority_engine: AsyncEngine | None = None
        self.priority_sessions = self.sessions
        if not self.is_sqlite:
            # Losing a delivery record in a crash only means its replies may be shown again on a redelivery (as
            # with one written late), so its commit need not wait for the disk.
            self.priority_engine = create_async_engine(
                url,
                echo=echo,
                pool_size=2,
                max_overflow=2,
                pool_recycle=1800,
                connect_args={
                    "prepared_statement_cache_size": STATEMENT_CACHE_SIZE,
                    "server_settings": {"synchronous_commit": "off"},
                },
            )
            self.priority_sessions = async_sessionmaker(self.priority_engine, expire_on_commit=False, autoflush=True)
        # SQLite has one writer: queueing in the event loop beats spinning in its busy handler.
        self.write_lock: PriorityLock | None = PriorityLock() if self.is_sqlite else None
        self.territory_cache = TerritoryCache()
        self.round_trips = RoundTrips()
        for engine in (self.engine, self.priority_engine):
            if engine is not None:
                self.round_trips.watch(engine, count_begin=not self.is_sqlite)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure means "not reachable" to a health check
            return False
        return True

    def unit_of_work(self, *, priority: bool = False) -> UnitOfWork:
        """A new unit of work: one transaction, rolled back unless committed. `priority`: a short bookkeeping
        write that goes before updates waiting for the database."""
        sessions = self.priority_sessions if priority else self.sessions
        return UnitOfWork(
            sessions(),
            self.write_lock,
            postgres=not self.is_sqlite,
            territory_cache=self.territory_cache,
            priority=priority,
            statement_counts=self.round_trips.counts,
        )

    def leader_lock(self) -> LeaderLock:
        """The lock that elects one process to send and schedule."""
        return LeaderLock(self.engine, self.url.split(":///", 1)[1] if self.is_sqlite else None)

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (cheap when it already is)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade_if_needed)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self.priority_engine is not None:
            await self.priority_engine.dispose()


def _upgrade_if_needed(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes may start together: one migrates, the others wait and then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(7365)"))
    if is_at_newest(connection):
        return  # the usual start: Alembic is not even imported (storage/schema_version.py)
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return
    log.info("migrating database from %s to %s", current, head)
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
