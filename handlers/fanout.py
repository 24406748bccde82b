"""Messages to many people at once (a poll to a district): rendered once per language, queued in one statement."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from bot.channels.base import Reply
from bot.i18n import Catalogs, Translator
from storage.outbox import PRIORITY_BULK, PRIORITY_PERSONAL, QueuedMessage
from storage.polls import Contact
from storage.uow import UnitOfWork


async def fan_out(
    uow: UnitOfWork,
    catalogs: Catalogs,
    contacts: Iterable[Contact],
    render: Callable[[Translator], Reply],
    topic: str,
    now: datetime,
    *,
    ref: str | None = None,
    priority: int = PRIORITY_BULK,
) -> int:
    """Queue `render`'s message for every contact in their own language; sent only if the caller commits.
    Returns how many were queued."""
    payloads: dict[str, dict[str, Any]] = {}
    messages = []
    for contact in contacts:
        payload = payloads.get(contact.locale)
        if payload is None:
            payload = payloads[contact.locale] = render(catalogs.translator(contact.locale)).to_dict()
        messages.append(QueuedMessage(contact.chat_id, contact.resident_id, payload, ref))
    return await uow.outbox.add_many(messages, topic, now, priority=priority)


async def tell(
    uow: UnitOfWork,
    catalogs: Catalogs,
    contacts: Iterable[Contact],
    render: Callable[[Translator], Reply],
    topic: str,
    now: datetime,
    *,
    ref: str | None = None,
) -> int:
    """Like `fan_out`, for a few people told about something of theirs (sent before any bulk fan-out)."""
    return await fan_out(uow, catalogs, contacts, render, topic, now, ref=ref, priority=PRIORITY_PERSONAL)
