"""Leadership: one process among many runs the outbox sender and the scheduler.

PostgreSQL: a session-level advisory lock held on a dedicated connection; when the holder dies its connection
closes and the lock is free for the next process. SQLite: an exclusive flock on a file beside the database,
released by the kernel when the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# A fixed key: "vecinos" + "sender" would do; any 64-bit number shared by all processes works.
ADVISORY_KEY = 0x7665636E6F73


class LeaderLock:
    """Try to become, and then stay, the one process that sends and schedules."""

    def __init__(self, engine: AsyncEngine, sqlite_path: str | None) -> None:
        self.engine = engine
        self.sqlite_path = sqlite_path
        self._connection: AsyncConnection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process believes it is the leader."""
        return self._connection is not None or self._fd is not None

    async def try_acquire(self) -> bool:
        """Become the leader if nobody is; False otherwise."""
        if self.held:
            return True
        if self.sqlite_path is not None:
            return self._try_flock()
        connection = await self.engine.connect()
        try:
            got = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})).scalar()
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if got:
            self._connection = connection
            return True
        await connection.close()
        return False

    async def still_held(self) -> bool:
        """Check the lock's connection is alive (a dead connection means the lock is gone)."""
        if self._fd is not None:
            return True
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
            await self._connection.commit()
            return True
        except Exception:
            log.warning("lost the leader lock's connection")
            await self.release()
            return False

    async def release(self) -> None:
        """Give up leadership."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                await self._connection.commit()
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _try_flock(self) -> bool:
        assert self.sqlite_path is not None
        path = Path(self.sqlite_path + ".leader")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True
