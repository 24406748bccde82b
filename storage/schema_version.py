"""Whether the database is already at the newest migration, without loading Alembic.

Why: Alembic (and Mako, which it brings) costs a tenth of a second and about 11 MB for the life of the process,
and on every start but the first after an upgrade the answer is "nothing to do". The newest revision is read
from the migration files' `revision` / `down_revision` lines; anything unusual (a file whose revision cannot be
read, several heads, several rows in alembic_version) answers "don't know", and Alembic decides as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_ASSIGNMENT = r"^{name}\s*(?::[^=]+)?=\s*(.+?)\s*$"
_REVISION = re.compile(_ASSIGNMENT.format(name="revision"), re.MULTILINE)
_DOWN_REVISION = re.compile(_ASSIGNMENT.format(name="down_revision"), re.MULTILINE)
_QUOTED = re.compile(r"""['"]([^'"]+)['"]""")


def newest_revision(versions: Path = VERSIONS_DIR) -> str | None:
    """The single head of the migration files in `versions`, or None when it cannot be told for sure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        if path.name.startswith("__"):
            continue
        source = path.read_text(encoding="utf-8")
        revision, down_revision = _REVISION.search(source), _DOWN_REVISION.search(source)
        named = _QUOTED.fullmatch(revision.group(1)) if revision else None
        if named is None or down_revision is None:
            return None
        revisions.add(named.group(1))
        parents.update(_QUOTED.findall(down_revision.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_at_newest(connection: Connection) -> bool:
    """Whether the database's recorded revision is the newest migration (False when unsure)."""
    head = newest_revision()
    if head is None or not inspect(connection).has_table("alembic_version"):
        return False
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(rows) == [head]
