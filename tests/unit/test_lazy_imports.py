"""`vecinos run` loads only the engine and the database driver in use, and nothing only other commands need.

Each case runs in a fresh interpreter (this one has long imported everything), walks what `vecinos run` does up
to its first getUpdates (parse the command line, read the settings, build the app and the channel, migrate and
seed a SQLite file) and reports the modules loaded. No time or memory is asserted: bench/startup.py measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.schema_version import newest_revision

ROOT = Path(__file__).resolve().parents[2]

# Loaded by commands other than `run`, or only when a feature is used: charts (matplotlib), calendar invitations,
# PDFs, the browser, progress bars, QR codes, the fake server, the language detector's models (first needed by
# /notice, /propose or /case).
NEVER_FOR_RUN = (
    "lingua",
    "matplotlib",
    "icalendar",
    "fpdf",
    "playwright",
    "rich",
    "tqdm",
    "qrcode",
    "segno",
    "PIL",
    "numpy",
    "bot.fakeapi",
)
OTHER_ENGINE = {"aiogram": ("telegram", "httpx"), "ptb": ("aiogram",)}
OTHER_DRIVER = {"sqlite": ("asyncpg",), "postgresql": ("aiosqlite",)}

RUN_UP_TO_POLLING = """
import asyncio, json, sys
from bot.cli import build_parser
from bot.config import load_settings
from bot.sandbox.local import run_bot_or_sandbox
from bot.app import Vecinos, build_channel
import bot.channels.http, bot.scheduler, bot.outbox, bot.metrics

build_parser().parse_args(["run"])
settings = load_settings()
app = Vecinos.build(settings)
build_channel(settings.engine, settings.token, "http://127.0.0.1:9", app.dispatcher, app.catalogs)
if settings.database_url.startswith("sqlite"):
    asyncio.run(app.open())
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded(script: str, env: dict[str, str]) -> set[str]:
    """The top-level and dotted names of every module a fresh interpreter holds after `script`."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def loaded_of(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The packages of `packages` that appear in `modules` (as themselves or through a submodule)."""
    return [p for p in packages if p in modules or any(m.startswith(p + ".") for m in modules)]


@pytest.mark.parametrize("engine", ["aiogram", "ptb"])
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_run_loads_only_its_engine_and_driver(engine: str, database: str, tmp_path: Path) -> None:
    """Up to polling, `vecinos run` holds its own engine and driver, not the other ones, nor other commands'."""
    url = (
        f"sqlite:///{tmp_path}/vecinos.db"
        if database == "sqlite"
        else "postgresql+asyncpg://nobody@127.0.0.1:9/not-contacted"
    )
    env = {"VECINOS_BOT_TOKEN": "123:lazy-imports", "VECINOS_ENGINE": engine, "VECINOS_DATABASE_URL": url}
    if database == "sqlite":
        # Any start but the first after an upgrade: the schema is already at the newest migration.
        migrate = [sys.executable, "-m", "bot", "migrate"]
        done = subprocess.run(migrate, cwd=ROOT, env={**os.environ, **env}, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
    modules = modules_loaded(RUN_UP_TO_POLLING, env)
    assert loaded_of(modules, (engine if engine == "aiogram" else "telegram",)), "the engine in use is loaded"
    assert loaded_of(modules, ("aiosqlite",) if database == "sqlite" else ("asyncpg",)), "its driver is loaded"
    assert loaded_of(modules, OTHER_ENGINE[engine]) == []
    assert loaded_of(modules, OTHER_DRIVER[database]) == []
    assert loaded_of(modules, NEVER_FOR_RUN) == []
    if database == "sqlite":
        assert loaded_of(modules, ("alembic", "mako")) == [], "a schema at the newest migration needs no Alembic"


def test_the_newest_revision_is_alembics_head() -> None:
    """Read from the migration files, the newest revision is the head Alembic itself finds."""
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    assert newest_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def migration(revision: str, down_revision: str) -> str:
    """A migration file's header lines."""
    return f'"""A step."""\nrevision = {revision}\ndown_revision = {down_revision}\nbranch_labels = None\n'


@pytest.mark.parametrize(
    ("files", "newest"),
    [
        ({"a.py": migration("'1'", "None"), "b.py": migration("'2'", "'1'")}, "2"),
        ({"a.py": migration("'1'", "None"), "b.py": migration('"2"', '"1"'), "c.py": migration("'3'", "'1'")}, None),
        (
            {"a.py": migration("'1'", "None"), "b.py": migration("'2'", "'1'"), "m.py": migration("'3'", "('2', '1')")},
            "3",
        ),
        ({"a.py": migration("'1'", "None"), "b.py": "revision = make_revision()\ndown_revision = '1'\n"}, None),
        ({"a.py": migration("'1'", "None"), "b.py": "# a migration without its header\n"}, None),
        ({}, None),
    ],
    ids=["a-line", "two-heads", "a-merge", "unreadable-revision", "no-header", "none"],
)
def test_the_newest_revision_read_from_files(tmp_path: Path, files: dict[str, str], newest: str | None) -> None:
    """One head is named; several heads, or a file whose revision cannot be read, leave it to Alembic."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert newest_revision(tmp_path) == newest


DEFERRED_TYPES = """
import json
from bot.channels import aiogram_channel
from aiogram.types import Message, Update

deferred = not Message.__pydantic_complete__ and not Update.__pydantic_complete__
user = {"id": 7, "is_bot": False, "first_name": "Amina", "language_code": "ar"}
chat = {"id": 7, "type": "private"}
updates = aiogram_channel.pinned_response(list[Update]).model_validate({"ok": True, "result": [
    {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": chat, "from": user, "text": "/start",
     "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}},
    {"update_id": 2, "message": {"message_id": 2, "date": 0, "chat": chat, "from": user,
     "location": {"latitude": 40.41, "longitude": -3.70}}},
    {"update_id": 3, "callback_query": {"id": "q", "from": user, "chat_instance": "c", "data": "lang:ar",
     "message": {"message_id": 3, "date": 0, "chat": chat, "text": "?"}}},
]}).result
photo = aiogram_channel.pinned_response(Message).model_validate({"ok": True, "result": {
    "message_id": 4, "date": 0, "chat": chat, "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1,
    "height": 1}]}}).result
print(json.dumps({
    "deferred": deferred,
    "text": updates[0].message.text,
    "command": updates[0].message.entities[0].type,
    "latitude": updates[1].message.location.latitude,
    "data": updates[2].callback_query.data,
    "first_name": updates[2].callback_query.from_user.first_name,
    "file_id": photo.photo[0].file_id,
}))
"""


def test_aiogram_types_are_built_on_first_use_and_still_validate() -> None:
    """aiogram's types are left unbuilt at import, and then validate updates and results as before."""
    result = subprocess.run(
        [sys.executable, "-c", DEFERRED_TYPES], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "deferred": True,
        "text": "/start",
        "command": "bot_command",
        "latitude": 40.41,
        "data": "lang:ar",
        "first_name": "Amina",
        "file_id": "f",
    }
