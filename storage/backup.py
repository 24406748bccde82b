"""Backups: SQLite's online backup API (a consistent copy while the bot keeps writing), and the pg_dump command
for PostgreSQL, whose backups are that tool's job."""

from __future__ import annotations

import shlex
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

# Pages copied per step: small steps let the running bot write between them (each step holds a read lock).
PAGES_PER_STEP = 1024


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL, None for any other database (or an in-memory one)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser()


def backup_sqlite(source: Path, target: Path, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Copy a live SQLite database into `target` (replaced if it exists) step by step; the pages copied."""
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such database file")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    copied = 0

    def progress(_status: int, remaining: int, total: int) -> None:
        nonlocal copied
        copied = total - remaining
        if on_progress is not None:
            on_progress(copied, total)

    # Read-only URI: a backup must never create or change the database it copies.
    live = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        live.backup(copy, pages=PAGES_PER_STEP, progress=progress)
    except sqlite3.Error as exc:
        raise OSError(f"{source}: {exc}") from exc
    finally:
        copy.close()
        live.close()
    # Renamed only once complete: an interrupted backup never leaves a half copy under the name asked for.
    partial.replace(target)
    return copied


def pg_dump_command(database_url: str, target: Path) -> tuple[str, bool]:
    """The pg_dump command that backs up this PostgreSQL database into `target` (custom format, for
    pg_restore), and whether the URL holds a password (which goes in ~/.pgpass, never on a command line)."""
    url = make_url(database_url)
    parts = ["pg_dump", "--format=custom", f"--file={target}"]
    if url.host:
        parts.append(f"--host={url.host}")
    if url.port:
        parts.append(f"--port={url.port}")
    if url.username:
        parts.append(f"--username={url.username}")
    parts.append(f"--dbname={url.database or ''}")
    return shlex.join(parts), bool(url.password)
