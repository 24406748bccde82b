"""Which database failures are worth retrying as they are (the database is down, busy or restarting)."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# PostgreSQL SQLSTATE classes and codes that say "try again", not "this statement is wrong":
# 08 connection exceptions, 53 insufficient resources, 57P0x shutdowns, 40001 serialization, 40P01 deadlock,
# 55P03 lock not available.
_RETRYABLE_CLASSES = ("08", "53", "57P0")
_RETRYABLE_CODES = frozenset({"40001", "40P01", "55P03"})


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, getattr(error, "orig", None), getattr(error, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_transient_database_error(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database was unreachable, restarting or contended,
    so the same work will likely succeed later. Programming and data errors are not transient."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.DisconnectionError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return True
        state = _sqlstate(current)
        if state is not None and (state in _RETRYABLE_CODES or state.startswith(_RETRYABLE_CLASSES)):
            return True
        if isinstance(current, sa_exc.OperationalError):
            # SQLite: "database is locked", "disk I/O error", "unable to open database file".
            return True
        if isinstance(current, ConnectionError | TimeoutError) or type(current).__name__ in _DRIVER_GONE:
            return True
        if isinstance(current, OSError):
            return True
        current = current.__cause__ or current.__context__
    return False


# asyncpg's connection-level errors, matched by name so this module needs no driver import.
_DRIVER_GONE = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "InterfaceError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
    }
)
