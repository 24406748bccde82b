"""Conversation state per chat, and the record of updates already applied (exactly-once in effect).

Plain SQL on the hot path: an update reads and writes one conversation row and one update record, and the
statements are built once (building and keying a statement per call cost more than running it). On PostgreSQL,
where every statement is a round trip to the server, an update is opened with one statement (the chat's row lock
and everything it starts from) and closed with one (its record and the chat's state together).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.domain.permissions import Grant
from storage.base import Repository, rowcount
from storage.models import Conversation, Membership, ProcessedUpdate, Resident, RoleGrant
from storage.pg_driver import attach_loaded, count_statement, driver_connection
from storage.roles import grant_of, grant_of_values

_CONVERSATION, _UPDATES, _MEMBERSHIP = Conversation.__table__, ProcessedUpdate.__table__, Membership.__table__
# The chat's state, the update's record, the sender's resident row, their verified circle and their grants,
# in one round trip.
_OPEN_UPDATE = (
    select(
        _CONVERSATION.c.flow,
        _CONVERSATION.c.step,
        _CONVERSATION.c.data,
        _UPDATES.c.update_id,
        _UPDATES.c.chat_id.label("record_chat_id"),
        _UPDATES.c.delivered,
        _UPDATES.c.replies,
        _UPDATES.c.outcome,
        _UPDATES.c.deliver_by,
        _MEMBERSHIP.c.circle_id.label("verified_circle_id"),
        Resident,
        RoleGrant,
    )
    .select_from(_CONVERSATION)
    .outerjoin(_UPDATES, _UPDATES.c.update_id == bindparam("update_id"))
    .outerjoin(Resident, Resident.telegram_user_id == bindparam("user_id"))
    .outerjoin(_MEMBERSHIP, and_(_MEMBERSHIP.c.resident_id == Resident.id, _MEMBERSHIP.c.status == "verified"))
    .outerjoin(RoleGrant, RoleGrant.resident_id == Resident.id)
    .where(_CONVERSATION.c.chat_id == bindparam("chat_id"))
)
# The update record, inserted unless another process recorded it meanwhile (one prebuilt statement per backend).
_RECORD_UPDATE = {
    True: pg_insert(_UPDATES).on_conflict_do_nothing(index_elements=[_UPDATES.c.update_id]),
    False: sqlite_insert(_UPDATES).on_conflict_do_nothing(index_elements=[_UPDATES.c.update_id]),
}
_SAVE_CONVERSATION = (
    update(_CONVERSATION)
    .where(_CONVERSATION.c.chat_id == bindparam("b_chat_id"))
    .values(
        flow=bindparam("b_flow"),
        step=bindparam("b_step"),
        data=bindparam("b_data", type_=JSON()),
        updated_at=bindparam("b_updated_at", type_=_CONVERSATION.c.updated_at.type),
    )
)
# replies as JSON null, as SQLAlchemy's JSON type writes None.
_PG_MARK_DELIVERED = (
    "UPDATE processed_update SET delivered = true, replies = 'null' WHERE update_id = ANY($1::bigint[])"
)
# PostgreSQL, on the driver's connection (storage/pg_driver.py; SQLAlchemy's part cost more CPU than the
# statements): the same, row-locking the chat's conversation, with its row version twice: as locked and as in the
# statement's snapshot. A statement that waited for the lock gets the row as the holder left it but everything
# else as it was when it started; the versions then differ, and everything is read again (the lock now held).
_RESIDENT_COLUMNS = tuple(column.name for column in Resident.__table__.columns)
_PG_OPEN_UPDATE = f"""SELECT conversation.flow, conversation.step, conversation.data,
    processed_update.update_id, processed_update.chat_id, processed_update.delivered, processed_update.replies,
    processed_update.outcome, processed_update.deliver_by, membership.circle_id,
    role_grant.role, role_grant.scope, role_grant.scope_id, role_grant.sector,
    conversation.xmin::text, (SELECT snapshot.xmin::text FROM conversation AS snapshot WHERE snapshot.chat_id = $1),
    {", ".join(f"resident.{name}" for name in _RESIDENT_COLUMNS)}
FROM conversation
LEFT OUTER JOIN processed_update ON processed_update.update_id = $2
LEFT OUTER JOIN resident ON resident.telegram_user_id = $3
LEFT OUTER JOIN membership ON membership.resident_id = resident.id AND membership.status = 'verified'
LEFT OUTER JOIN role_grant ON role_grant.resident_id = resident.id
WHERE conversation.chat_id = $1
FOR UPDATE OF conversation"""
_PG_FIRST_RESIDENT_COLUMN = 16
# A new chat's row, unless another process inserted it meanwhile.
_PG_CREATE_CONVERSATION = """INSERT INTO conversation (chat_id, flow, step, data, updated_at)
VALUES ($1, '', '', '{}', $2) ON CONFLICT (chat_id) DO NOTHING"""
# The close of an update on PostgreSQL, in one statement: the chat's state (always written, even unchanged, so a
# process that waited for the row's lock sees a new version, see _PG_OPEN_UPDATE) and the update's record,
# inserted unless another process recorded it meanwhile; the status says whether the record was inserted.
_PG_CLOSE_UPDATE = """WITH saved AS (
    UPDATE conversation SET flow = $1, step = $2, data = $3, updated_at = $4 WHERE chat_id = $5
)
INSERT INTO processed_update (update_id, chat_id, handled_at, replies, delivered, outcome, deliver_by)
VALUES ($6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (update_id) DO NOTHING"""


def _aware(moment: datetime | None) -> datetime | None:
    """Plain-SQL reads of SQLite give naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(slots=True)
class ChatState:
    """Where a chat is in a conversation (a plain value; saved with ConversationRepository.save)."""

    chat_id: int
    flow: str
    step: str
    data: dict[str, Any]
    # A change not written yet (PostgreSQL: it goes with the update's record), as the save statement's parameters.
    unsaved: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    """What is known about an update applied before."""

    chat_id: int
    delivered: bool
    replies: list[dict[str, Any]] | None
    outcome: str = "applied"
    deliver_by: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpenedUpdate:
    """Everything an update starts from."""

    state: ChatState
    seen: UpdateRecord | None
    resident: Resident | None
    grants: list[Grant]
    verified_circle_id: int | None = None


def _record_params(
    update_id: int,
    chat_id: int,
    replies: list[dict[str, Any]],
    now: datetime,
    outcome: str,
    deliver_by: datetime | None,
) -> dict[str, Any]:
    """The parameters of an update's record."""
    return {
        "update_id": update_id,
        "chat_id": chat_id,
        "handled_at": now,
        "replies": replies or None,
        "delivered": not replies,
        "outcome": outcome,
        "deliver_by": deliver_by if replies else None,
    }


class ConversationRepository(Repository):
    """Conversation state per chat."""

    def __init__(self, session: Any, postgres: bool, statement_counts: Counter[str] | None = None) -> None:
        super().__init__(session, postgres, statement_counts)
        self._unsaved: list[ChatState] = []

    async def open_update(self, chat_id: int, update_id: int, user_id: int, now: datetime) -> OpenedUpdate:
        """The chat's state (created if missing, and row-locked on PostgreSQL so one chat's updates are applied
        one at a time even across processes), the update's record if it was seen before, and the sender's
        resident row with their role grants: one statement, unless the chat is new or (PostgreSQL) another
        process held the chat's lock and changed it meanwhile (see _PG_OPEN_UPDATE)."""
        if self.postgres:
            return await self._open_update_on_postgres(chat_id, update_id, user_id, now)
        params = {"chat_id": chat_id, "update_id": update_id, "user_id": user_id}
        query = _OPEN_UPDATE
        rows = (await self.session.execute(query, params)).all()
        if not rows:
            # A row we insert stays ours until commit: another process's insert waits for it.
            await self._create(chat_id, now)
            rows = (await self.session.execute(query, params)).all()
        first = rows[0]
        record = None
        if first.update_id is not None:
            record = UpdateRecord(
                int(first.record_chat_id), bool(first.delivered), first.replies, first.outcome, _aware(first.deliver_by)
            )
        grants = [grant_of(row.RoleGrant) for row in rows if row.RoleGrant is not None]
        state = ChatState(chat_id, first.flow, first.step, dict(first.data or {}))
        return OpenedUpdate(state, record, first.Resident, grants, first.verified_circle_id)

    async def _open_update_on_postgres(self, chat_id: int, update_id: int, user_id: int, now: datetime) -> OpenedUpdate:
        """open_update on PostgreSQL: one statement on the driver's connection, read as plain rows."""
        connection = await driver_connection(self.session)
        count_statement(self.statement_counts)
        rows = await connection.fetch(_PG_OPEN_UPDATE, chat_id, update_id, user_id)
        while not rows or rows[0][14] != rows[0][15]:
            # A row we insert stays ours until commit: another process's insert or lock waits for it.
            if not rows:
                count_statement(self.statement_counts)
                await connection.execute(_PG_CREATE_CONVERSATION, chat_id, now)
            count_statement(self.statement_counts)
            rows = await connection.fetch(_PG_OPEN_UPDATE, chat_id, update_id, user_id)
        first = rows[0]
        record = None
        if first[3] is not None:
            record = UpdateRecord(int(first[4]), bool(first[5]), first[6], first[7], _aware(first[8]))
        grants = [grant_of_values(row[10], row[11], row[12], row[13]) for row in rows if row[10] is not None]
        resident = None
        if first[_PG_FIRST_RESIDENT_COLUMN] is not None:
            values = dict(zip(_RESIDENT_COLUMNS, first[_PG_FIRST_RESIDENT_COLUMN:], strict=True))
            # As if loaded by the session: persistent, nothing changed yet.
            resident = attach_loaded(self.session, Resident, values)
        state = ChatState(chat_id, first[0], first[1], dict(first[2] or {}))
        return OpenedUpdate(state, record, resident, grants, first[9])

    async def _create(self, chat_id: int, now: datetime) -> bool:
        """Insert the chat's row unless it exists; whether this did."""
        stmt = self._insert(Conversation).values(chat_id=chat_id, flow="", step="", data={}, updated_at=now)
        return rowcount(await self.session.execute(stmt.on_conflict_do_nothing(index_elements=["chat_id"]))) == 1

    async def save(self, state: ChatState, flow: str, step: str, data: dict[str, Any], now: datetime) -> None:
        """Move a chat to a flow and step, with its answers so far (on PostgreSQL written when the update is
        closed, see close_update; anything else that commits writes it first)."""
        if (state.flow, state.step, state.data) == (flow, step, data):
            return
        state.flow, state.step, state.data = flow, step, dict(data)
        params = {"b_chat_id": state.chat_id, "b_flow": flow, "b_step": step, "b_data": dict(data), "b_updated_at": now}
        if self.postgres:
            state.unsaved = params
            self._unsaved.append(state)
        else:
            await self.session.execute(_SAVE_CONVERSATION, params)

    def forget_unsaved(self) -> None:
        """Drop the changes of state kept for the close (the transaction was rolled back)."""
        for state in self._unsaved:
            state.unsaved = None
        self._unsaved.clear()

    async def write_unsaved(self) -> None:
        """Write the changes of state kept for the close (a commit without close_update)."""
        while self._unsaved:
            state = self._unsaved.pop()
            if state.unsaved is not None:
                params, state.unsaved = state.unsaved, None
                await self.session.execute(_SAVE_CONVERSATION, params)

    async def close_update(
        self,
        state: ChatState,
        update_id: int,
        chat_id: int,
        replies: list[dict[str, Any]],
        now: datetime,
        *,
        deliver_by: datetime | None = None,
    ) -> bool:
        """Record an update as applied together with its chat's state (UpdateRepository.record's answer: False
        if someone recorded it meanwhile, and then nothing of ours may commit)."""
        record = _record_params(update_id, chat_id, replies, now, "applied", deliver_by)
        if not self.postgres:
            return rowcount(await self.session.execute(_RECORD_UPDATE[False], record)) == 1
        state.unsaved = None
        self._unsaved = [other for other in self._unsaved if other is not state]
        await self.write_unsaved()
        connection = await driver_connection(self.session)
        count_statement(self.statement_counts)
        # JSON goes to asyncpg as text, serialised as SQLAlchemy's JSON type does (None too, as JSON null).
        status = await connection.execute(
            _PG_CLOSE_UPDATE,
            state.flow,
            state.step,
            json.dumps(state.data),
            now,
            state.chat_id,
            record["update_id"],
            record["chat_id"],
            record["handled_at"],
            json.dumps(record["replies"]),
            record["delivered"],
            record["outcome"],
            record["deliver_by"],
        )
        return status == "INSERT 0 1"


class UpdateRepository(Repository):
    """The record of updates already applied (exactly-once in effect)."""

    async def seen(self, update_id: int) -> UpdateRecord | None:
        """The record of an update applied before, if any."""
        table = _UPDATES
        query = select(table.c.chat_id, table.c.delivered, table.c.replies, table.c.outcome, table.c.deliver_by).where(
            table.c.update_id == update_id
        )
        row = (await self.session.execute(query)).first()
        if row is None:
            return None
        return UpdateRecord(int(row.chat_id), bool(row.delivered), row.replies, row.outcome, _aware(row.deliver_by))

    async def record(
        self,
        update_id: int,
        chat_id: int,
        replies: list[dict[str, Any]],
        now: datetime,
        *,
        outcome: str = "applied",
        deliver_by: datetime | None = None,
    ) -> bool:
        """Remember an update as applied (or failed), with the replies still to deliver (none: delivered
        already). False if it was recorded meanwhile by someone else: then nothing of ours may commit."""
        result = await self.session.execute(
            _RECORD_UPDATE[self.postgres], _record_params(update_id, chat_id, replies, now, outcome, deliver_by)
        )
        return rowcount(result) == 1

    async def mark_delivered(self, update_ids: Sequence[int]) -> None:
        """Forget the replies of updates whose replies reached the chat."""
        if not update_ids:
            return
        if self.postgres:
            # One statement text for any number of ids, so it stays prepared (an IN list is a new one per length),
            # on the driver's connection (storage/pg_driver.py).
            connection = await driver_connection(self.session)
            count_statement(self.statement_counts)
            await connection.execute(_PG_MARK_DELIVERED, list(update_ids))
        else:
            await self.session.execute(
                update(ProcessedUpdate)
                .where(ProcessedUpdate.update_id.in_(list(update_ids)))
                .values(delivered=True, replies=None)
            )

    async def prune(self, before: datetime) -> int:
        """Drop records older than `before` (Telegram never redelivers that late)."""
        result = await self.session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.handled_at < before))
        return rowcount(result)

    async def count(self) -> int:
        """How many updates are recorded."""
        return await self.session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0
