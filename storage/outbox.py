"""The outbox: every message that is not a direct answer, queued in the transaction that decided it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, not_, or_, select, update
from sqlalchemy.orm import aliased

from storage.base import Repository, rowcount
from storage.models import OutboxMessage

# Lower goes first. Answers and personal notifications must never wait behind a district-wide fan-out.
PRIORITY_PERSONAL = 0
PRIORITY_BULK = 10
SOURCE_OUTBOX = "outbox"
SOURCE_NOTICE = "notice"
# A deferred reply holding a secret for its chat alone (a ballot receipt): its payload is forgotten once settled.
TOPIC_SECRET_REPLY = "reply.secret"

_EARLIER = aliased(OutboxMessage)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed message, as the sender needs it."""

    id: int
    chat_id: int
    attempts: int
    priority: int
    payload: dict[str, Any]
    # Where the message comes from: an outbox row, or a notice's delivery row (rendered at claim time, in
    # `locale`).
    source: str = "outbox"
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message of a fan-out, already rendered in its recipient's language."""

    chat_id: int
    resident_id: int | None
    payload: dict[str, Any]
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """The outcome of one send attempt, to record."""

    id: int
    status: str  # sent | failed | pending (retry later)
    counts_attempt: bool = True
    error: str | None = None
    send_at: datetime | None = None
    sent_message_id: int | None = None
    source: str = "outbox"
    locale: str | None = None


class OutboxRepository(Repository):
    """Messages waiting for the sender."""

    async def add(
        self,
        chat_id: int,
        payload: dict[str, Any],
        topic: str,
        now: datetime,
        *,
        resident_id: int | None = None,
        about_resident_id: int | None = None,
        send_at: datetime | None = None,
        priority: int = PRIORITY_PERSONAL,
        ref: str | None = None,
    ) -> OutboxMessage:
        """Queue a message; it is sent only if this transaction commits."""
        row = OutboxMessage(
            chat_id=chat_id,
            resident_id=resident_id,
            about_resident_id=about_resident_id,
            topic=topic,
            payload=payload,
            status="pending",
            attempts=0,
            send_at=send_at or now,
            created_at=now,
            priority=priority,
            ref=ref,
        )
        self.session.add(row)
        return row

    async def add_many(self, messages: Sequence[QueuedMessage], topic: str, now: datetime, *, priority: int) -> int:
        """Queue many messages in one statement (a fan-out to a whole district); sent only if we commit."""
        if not messages:
            return 0
        rows = [
            {
                "chat_id": m.chat_id,
                "resident_id": m.resident_id,
                "about_resident_id": None,
                "topic": topic,
                "payload": m.payload,
                "status": "pending",
                "attempts": 0,
                "send_at": now,
                "created_at": now,
                "priority": priority,
                "ref": m.ref,
            }
            for m in messages
        ]
        await self.session.execute(insert(OutboxMessage), rows)
        return len(rows)

    async def claim(
        self, now: datetime, limit: int, sender: str, lease_until: datetime, *, skip_chats: Sequence[int] = ()
    ) -> list[OutboxItem]:
        """Claim due messages for `sender` until `lease_until`: at most one per chat, and only the first one
        still waiting in its chat (a message in backoff holds back the newer ones), most urgent first."""
        earlier_waiting = (
            select(_EARLIER.id)
            .where(
                _EARLIER.chat_id == OutboxMessage.chat_id,
                _EARLIER.id != OutboxMessage.id,
                or_(
                    _EARLIER.status == "sending",
                    and_(
                        _EARLIER.status == "pending",
                        or_(
                            _EARLIER.priority < OutboxMessage.priority,
                            and_(_EARLIER.priority == OutboxMessage.priority, _EARLIER.id < OutboxMessage.id),
                        ),
                    ),
                ),
            )
            .exists()
        )
        query = select(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.send_at <= now, not_(earlier_waiting)
        )
        if skip_chats:
            query = query.where(OutboxMessage.chat_id.not_in(list(skip_chats)))
        query = query.order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit)
        if self.postgres:
            query = query.with_for_update(of=OutboxMessage, skip_locked=True)
        rows = (await self.session.scalars(query)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status="sending", claimed_at=now, claimed_by=sender, lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return [OutboxItem(r.id, r.chat_id, r.attempts, r.priority, dict(r.payload)) for r in rows]

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """Record the outcome of send attempts (one round trip for many); secrets that reached their chat (or
        never will) are forgotten."""
        if not settlements:
            return
        done = [s.id for s in settlements if s.status in ("sent", "failed")]
        if done:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(done), OutboxMessage.topic == TOPIC_SECRET_REPLY)
                .values(payload={"forgotten": True})
                .execution_options(synchronize_session=False)
            )
        table = OutboxMessage.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), or_(table.c.status == "sending", table.c.status == "pending"))
            .values(
                status=bindparam("b_status"),
                attempts=table.c.attempts + bindparam("b_attempt"),
                last_error=bindparam("b_error"),
                send_at=func.coalesce(bindparam("b_send_at", type_=table.c.send_at.type), table.c.send_at),
                sent_at=bindparam("b_sent_at", type_=table.c.sent_at.type),
                sent_message_id=bindparam("b_message_id", type_=table.c.sent_message_id.type),
                claimed_by=None,
                lease_until=None,
            )
        )
        await self.session.execute(
            statement,
            [
                {
                    "b_id": s.id,
                    "b_status": s.status,
                    "b_attempt": 1 if s.counts_attempt else 0,
                    "b_error": s.error,
                    "b_send_at": s.send_at,
                    "b_sent_at": now if s.status == "sent" else None,
                    "b_message_id": s.sent_message_id,
                }
                for s in settlements
            ],
        )

    async def renew_leases(self, sender: str, lease_until: datetime) -> None:
        """Extend the lease of every message `sender` still holds."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by == sender)
            .values(lease_until=lease_until)
        )

    async def reclaim(self, now: datetime, *, not_held_by: str | None = None) -> int:
        """Put back messages left 'sending' by a sender that is gone: their lease ran out, or (when a sender
        starts) anyone else held them. They may be sent twice, never lost."""
        stale = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
        if not_held_by is not None:
            stale = or_(stale, OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_by != not_held_by)
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", stale)
            .values(status="pending", claimed_at=None, claimed_by=None, lease_until=None)
        )
        return rowcount(result)

    async def release(self, ids: Sequence[int]) -> None:
        """Put claimed messages back without counting an attempt (the sender is stopping)."""
        if ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == "sending")
                .values(status="pending", claimed_at=None, claimed_by=None, lease_until=None)
            )

    async def fail_chat(self, chat_id: int, error: str) -> None:
        """Give up on every waiting message to a chat that blocked the bot."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status.in_(["pending", "sending"]))
            .values(status="failed", last_error=error, claimed_by=None, lease_until=None)
        )

    async def copies(self, ref: str) -> Sequence[OutboxMessage]:
        """Every message about `ref` (e.g. the copies of one approval request), oldest first."""
        query = select(OutboxMessage).where(OutboxMessage.ref == ref).order_by(OutboxMessage.id)
        return (await self.session.scalars(query)).all()

    async def withdraw(self, ids: Sequence[int]) -> None:
        """Never send these waiting messages: what they ask for is already done."""
        if ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == "pending")
                .values(status="withdrawn")
            )

    async def get(self, message_id: int) -> OutboxMessage | None:
        """One outbox row."""
        return await self.session.get(OutboxMessage, message_id)

    async def depth(self) -> dict[tuple[str, str], int]:
        """Outbox rows still to go (pending or being sent), by status and topic."""
        rows = await self.session.execute(
            select(OutboxMessage.status, OutboxMessage.topic, func.count())
            .where(OutboxMessage.status.in_(["pending", "sending"]))
            .group_by(OutboxMessage.status, OutboxMessage.topic)
        )
        return {(status, topic): int(count) for status, topic, count in rows}

    async def count_by_status(self) -> dict[str, int]:
        """How many outbox rows are in each status."""
        rows = await self.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: count for status, count in rows}

    async def for_chat(self, chat_id: int) -> Sequence[OutboxMessage]:
        """Every outbox row addressed to a chat, oldest first."""
        query = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        return (await self.session.scalars(query)).all()
