"""Machine translations, cached per text and language."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from storage.base import Repository
from storage.models import MachineTranslation


def text_hash(text: str) -> str:
    """The cache key of a text: its sha256 (texts run to thousands of characters)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TranslationRepository(Repository):
    """The machine translations a translator has already made."""

    async def cached(self, text: str, source: str, targets: Iterable[str] | None = None) -> dict[str, str]:
        """The translations of `text` from `source` already made, by target language (all, or `targets`)."""
        query = select(MachineTranslation.target, MachineTranslation.translated).where(
            MachineTranslation.text_hash == text_hash(text), MachineTranslation.source == source
        )
        if targets is not None:
            query = query.where(MachineTranslation.target.in_(list(targets)))
        return {target: translated for target, translated in (await self.session.execute(query)).all()}

    async def keep(self, text: str, source: str, translations: dict[str, str], now: datetime) -> None:
        """Remember translations of `text` (a translation made twice, by two processes, is kept once)."""
        if not translations:
            return
        rows = [
            {
                "text_hash": text_hash(text),
                "source": source,
                "target": target,
                "translated": translated,
                "created_at": now,
            }
            for target, translated in translations.items()
        ]
        await self.session.execute(self._insert(MachineTranslation).values(rows).on_conflict_do_nothing())
