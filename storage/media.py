"""Stored media: files the outbox sends to many (a poll's result chart), uploaded to Telegram once, then re-sent
by the file id Telegram gave them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from storage.base import Repository
from storage.models import Media


@dataclass(frozen=True, slots=True)
class MediaRow:
    """A stored file: its bytes, and Telegram's file id once it has been uploaded."""

    key: str
    content: bytes
    filename: str
    file_id: str | None


class MediaRepository(Repository):
    """Files sent by key (`Reply.photo_media`)."""

    async def store(self, key: str, content: bytes, filename: str, now: datetime) -> None:
        """Store a file under `key`; storing a key again replaces its bytes and forgets its old file id."""
        values = {"content": content, "filename": filename, "file_id": None, "created_at": now}
        statement = self._insert(Media).values(key=key, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[Media.key],
            set_=values,
        )
        await self.session.execute(statement)

    async def get(self, key: str) -> MediaRow | None:
        """The file stored under `key`, if any."""
        query = select(Media.key, Media.content, Media.filename, Media.file_id).where(Media.key == key)
        row = (await self.session.execute(query)).first()
        return None if row is None else MediaRow(row.key, bytes(row.content), row.filename, row.file_id)

    async def remember_file_id(self, key: str, file_id: str) -> None:
        """Record the file id Telegram gave the upload of `key`, so every later send (any process) reuses it."""
        await self.session.execute(update(Media).where(Media.key == key).values(file_id=file_id))
