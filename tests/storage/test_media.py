"""Stored media: store, replace (forgetting the old file id), remember Telegram's file id; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.db import Database
from storage.media import MediaRow
from tests.conftest import database_params, drop_database, fresh_database_url

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.mark.parametrize("kind", database_params())
async def test_store_replace_and_remember(kind, tmp_path):
    url = await fresh_database_url(kind, tmp_path)
    db = Database(url)
    try:
        await db.migrate()
        now = datetime.now(UTC)
        async with db.unit_of_work() as uow:
            assert await uow.media.get("poll:1:chart") is None
            await uow.media.store("poll:1:chart", PNG, "resultados.png", now)
            await uow.commit()
        async with db.unit_of_work() as uow:
            assert await uow.media.get("poll:1:chart") == MediaRow("poll:1:chart", PNG, "resultados.png", None)
            await uow.media.remember_file_id("poll:1:chart", "AgACAgQ-chart")
            await uow.commit()
        async with db.unit_of_work() as uow:
            assert (await uow.media.get("poll:1:chart")).file_id == "AgACAgQ-chart"  # type: ignore[union-attr]
            # A new image under the same key: Telegram's id of the old one must not be sent for it.
            await uow.media.store("poll:1:chart", b"new bytes", "resultados-2.png", now)
            await uow.commit()
        async with db.unit_of_work() as uow:
            replaced = MediaRow("poll:1:chart", b"new bytes", "resultados-2.png", None)
            assert await uow.media.get("poll:1:chart") == replaced
    finally:
        await db.dispose()
        await drop_database(url)
