"""Shared fixtures: databases (SQLite always, PostgreSQL when VECINOS_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.config import normalise_database_url
from storage.db import Database
from storage.seed import DEFAULT_SEED, read_seed, seed_territory

POSTGRES_URL = os.environ.get("VECINOS_TEST_POSTGRES_URL")
# Six test workers run bots, webhook clusters and harnesses against one PostgreSQL (max_connections 100): each
# bot process keeps fewer connections than in production. Bots started as subprocesses inherit it.
os.environ.setdefault("VECINOS_DATABASE_POOL_SIZE", "6")


def database_params() -> list:
    """SQLite always; PostgreSQL when a URL is set (CI sets it)."""
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgres",
            id="postgres",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="VECINOS_TEST_POSTGRES_URL not set"),
        ),
    ]


async def fresh_database_url(kind: str, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A URL to an empty database: a SQLite file, or a new PostgreSQL schema-isolated database."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/vecinos.db"
    assert POSTGRES_URL
    import asyncpg

    base = normalise_database_url(POSTGRES_URL)
    name = f"vecinos_test_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str) -> None:
    """Drop a PostgreSQL test database made by fresh_database_url."""
    if not url.startswith("postgresql") or not POSTGRES_URL:
        return
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def open_seeded(url: str) -> Database:
    """Migrate and seed a database."""
    db = Database(url)
    await db.migrate()
    async with db.unit_of_work() as uow:
        await seed_territory(uow, read_seed(DEFAULT_SEED))
        await uow.commit()
    return db


@pytest.fixture
async def sqlite_db(tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """A migrated, seeded SQLite database."""
    db = await open_seeded(f"sqlite+aiosqlite:///{tmp_path}/vecinos.db")
    yield db
    await db.dispose()


@pytest.fixture(scope="session", autouse=True)
def language_models_loaded() -> None:
    """The language detector's models, loaded before any test: what it labels must not depend on whether a
    background load has finished yet."""
    from bot.language_detection import warm_up

    warm_up()


@pytest.fixture
async def translator():  # type: ignore[no-untyped-def]
    """A fake LibreTranslate server (bot/fakeapi/translate.py) on a free port."""
    from bot.fakeapi.translate import FakeTranslator

    fake = FakeTranslator()
    await fake.start()
    yield fake
    await fake.stop()
