"""Repositories: every query Vecinos runs, grouped by what it is about."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.permissions import Grant, Role, ScopeKind, Sector
from bot.domain.residents import ACTIVE_MEMBERSHIP, MembershipStatus, ResidentStatus
from bot.domain.territory import CirclePoint
from storage.models import (
    Barrio,
    Building,
    Circle,
    Conversation,
    District,
    Invite,
    Membership,
    OutboxMessage,
    ProcessedUpdate,
    Resident,
    RoleGrant,
)


class Repository:
    """Base: a session and whether we are on PostgreSQL (row locks, SKIP LOCKED)."""

    def __init__(self, session: AsyncSession, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres

    def _insert(self, model: type) -> Any:
        return pg_insert(model) if self.postgres else sqlite_insert(model)


@dataclass(frozen=True, slots=True)
class BarrioView:
    """A barrio, as read-only reference data."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class CircleView:
    """A circle, as read-only reference data."""

    id: int
    barrio_id: int
    code: str
    name: str
    kind: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class BuildingView:
    """A building, as read-only reference data."""

    id: int
    circle_id: int
    code: str
    address: str


@dataclass
class TerritorySnapshot:
    """The whole territory in memory: it changes only when a seed is loaded."""

    barrios: dict[int, BarrioView]
    circles: dict[int, CircleView]
    buildings: dict[int, BuildingView]
    loaded_at: float


class TerritoryCache:
    """Process-wide territory snapshot, refreshed after `ttl` seconds (other processes may reseed)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self.snapshot: TerritorySnapshot | None = None

    def fresh(self) -> TerritorySnapshot | None:
        """The snapshot, unless it is missing or stale."""
        if self.snapshot is not None and time.monotonic() - self.snapshot.loaded_at < self.ttl:
            return self.snapshot
        return None

    def invalidate(self) -> None:
        """Forget the snapshot (after a seed)."""
        self.snapshot = None


def _grant(row: RoleGrant) -> Grant:
    return Grant(Role(row.role), ScopeKind(row.scope), row.scope_id, Sector(row.sector) if row.sector else None)


# The hot path's statements are built once: building and keying a statement per call cost more than running it.
_CONVERSATION, _UPDATES = Conversation.__table__, ProcessedUpdate.__table__
_OPEN_UPDATE = (
    select(
        _CONVERSATION.c.flow,
        _CONVERSATION.c.step,
        _CONVERSATION.c.data,
        _UPDATES.c.update_id,
        _UPDATES.c.delivered,
        _UPDATES.c.replies,
        Resident,
        RoleGrant,
    )
    .select_from(_CONVERSATION)
    .outerjoin(_UPDATES, _UPDATES.c.update_id == bindparam("update_id"))
    .outerjoin(Resident, Resident.telegram_user_id == bindparam("user_id"))
    .outerjoin(RoleGrant, RoleGrant.resident_id == Resident.id)
    .where(_CONVERSATION.c.chat_id == bindparam("chat_id"))
)
_OPEN_UPDATE_FOR_UPDATE = _OPEN_UPDATE.with_for_update(of=_CONVERSATION)
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
_RECORD_UPDATE = _UPDATES.insert()


class TerritoryRepository(Repository):
    """District, barrios, circles and buildings (reads come from an in-memory snapshot)."""

    def __init__(self, session: AsyncSession, postgres: bool, cache: TerritoryCache | None = None) -> None:
        super().__init__(session, postgres)
        self.cache = cache or TerritoryCache(ttl=0)

    async def _snapshot(self) -> TerritorySnapshot:
        snapshot = self.cache.fresh()
        if snapshot is None:
            barrios = {b.id: BarrioView(b.id, b.code, b.name) for b in await self.session.scalars(select(Barrio))}
            circles = {
                c.id: CircleView(c.id, c.barrio_id, c.code, c.name, c.kind, c.latitude, c.longitude)
                for c in await self.session.scalars(select(Circle))
            }
            buildings = {
                b.id: BuildingView(b.id, b.circle_id, b.code, b.address)
                for b in await self.session.scalars(select(Building))
            }
            snapshot = self.cache.snapshot = TerritorySnapshot(barrios, circles, buildings, time.monotonic())
        return snapshot

    async def barrios(self) -> list[BarrioView]:
        """All barrios, by name."""
        return sorted((await self._snapshot()).barrios.values(), key=lambda b: b.name)

    async def barrio(self, barrio_id: int) -> BarrioView | None:
        """One barrio by id."""
        return (await self._snapshot()).barrios.get(barrio_id)

    async def circle(self, circle_id: int) -> CircleView | None:
        """One circle by id."""
        return (await self._snapshot()).circles.get(circle_id)

    async def building(self, building_id: int) -> BuildingView | None:
        """One building by id."""
        return (await self._snapshot()).buildings.get(building_id)

    async def circles_in_barrio(self, barrio_id: int) -> list[CircleView]:
        """The circles of a barrio, by name."""
        circles = (await self._snapshot()).circles.values()
        return sorted((c for c in circles if c.barrio_id == barrio_id), key=lambda c: c.name)

    async def circles_by_ids(self, ids: Sequence[int]) -> dict[int, CircleView]:
        """Circles keyed by id."""
        circles = (await self._snapshot()).circles
        return {i: circles[i] for i in ids if i in circles}

    async def circle_points(self) -> list[CirclePoint]:
        """Every circle's centre, for nearest-circle search."""
        return [CirclePoint(c.id, c.latitude, c.longitude) for c in (await self._snapshot()).circles.values()]

    async def buildings_in_circle(self, circle_id: int) -> list[BuildingView]:
        """The known buildings of a circle."""
        buildings = (await self._snapshot()).buildings.values()
        return sorted((b for b in buildings if b.circle_id == circle_id), key=lambda b: b.address)

    async def by_code(self, model: type[Any], code: str) -> Any:
        """A district, barrio, circle or building by its code."""
        return await self.session.scalar(select(model).where(model.code == code))

    async def upsert(self, model: type[Any], code: str, **fields: Any) -> Any:
        """Create or update a territory row by code (for idempotent seeding)."""
        row = await self.by_code(model, code)
        if row is None:
            row = model(code=code, **fields)
            self.session.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
        await self.session.flush()
        self.cache.invalidate()
        return row

    async def counts(self) -> dict[str, int]:
        """How many rows of each territory level exist."""
        result = {}
        for name, model in (("districts", District), ("barrios", Barrio), ("circles", Circle)):
            result[name] = await self.session.scalar(select(func.count()).select_from(model)) or 0
        result["buildings"] = await self.session.scalar(select(func.count()).select_from(Building)) or 0
        return result


class ResidentRepository(Repository):
    """Residents and their personal data."""

    async def by_telegram_id(self, telegram_user_id: int) -> Resident | None:
        """The resident with this Telegram user id, if registered."""
        return await self.session.scalar(select(Resident).where(Resident.telegram_user_id == telegram_user_id))

    async def get(self, resident_id: int) -> Resident | None:
        """One resident by id."""
        return await self.session.get(Resident, resident_id)

    async def create(
        self, telegram_user_id: int, chat_id: int, first_name: str, locale: str, now: datetime
    ) -> Resident:
        """Register a resident who has just consented."""
        resident = Resident(
            telegram_user_id=telegram_user_id,
            chat_id=chat_id,
            first_name=first_name,
            locale=locale,
            status=ResidentStatus.ACTIVE,
            consent_at=now,
            created_at=now,
        )
        self.session.add(resident)
        await self.session.flush()
        return resident

    async def set_locale(self, resident: Resident, locale: str) -> None:
        """Change a resident's language."""
        resident.locale = locale

    async def touch(self, resident: Resident, first_name: str, chat_id: int) -> None:
        """Keep name and chat in step with Telegram, and mark the resident reachable again."""
        if first_name and resident.first_name != first_name:
            resident.first_name = first_name
        if resident.chat_id != chat_id:
            resident.chat_id = chat_id
        if resident.status != ResidentStatus.ACTIVE:
            resident.status = ResidentStatus.ACTIVE
            resident.unreachable_at = None

    async def mark_unreachable(self, chat_id: int, now: datetime) -> None:
        """Remember that a chat blocked the bot, so nothing more is sent to it."""
        await self.session.execute(
            update(Resident)
            .where(Resident.chat_id == chat_id)
            .values(status=ResidentStatus.UNREACHABLE, unreachable_at=now)
        )

    async def erase(self, resident: Resident) -> None:
        """Delete a resident's personal data, keeping anonymous membership counts."""
        await self.session.execute(
            update(Membership)
            .where(Membership.resident_id == resident.id)
            .values(resident_id=None, status=MembershipStatus.ERASED, portal=None, building_id=None)
        )
        await self.session.execute(
            update(Membership).where(Membership.decided_by == resident.id).values(decided_by=None)
        )
        await self.session.execute(delete(RoleGrant).where(RoleGrant.resident_id == resident.id))
        await self.session.execute(
            delete(OutboxMessage).where(
                or_(
                    OutboxMessage.resident_id == resident.id,
                    OutboxMessage.about_resident_id == resident.id,
                    OutboxMessage.chat_id == resident.chat_id,
                )
            )
        )
        await self.session.execute(delete(Conversation).where(Conversation.chat_id == resident.chat_id))
        await self.session.execute(
            update(ProcessedUpdate)
            .where(ProcessedUpdate.chat_id == resident.chat_id)
            .values(chat_id=0, replies=None, delivered=True)
        )
        await self.session.delete(resident)
        await self.session.flush()


class MembershipRepository(Repository):
    """Memberships of circles."""

    async def current(self, resident_id: int) -> Membership | None:
        """A resident's pending or verified membership, if any."""
        query = (
            select(Membership)
            .where(Membership.resident_id == resident_id, Membership.status.in_(list(ACTIVE_MEMBERSHIP)))
            .order_by(Membership.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)

    async def of_resident(self, resident_id: int) -> Sequence[Membership]:
        """Every membership a resident has had."""
        query = select(Membership).where(Membership.resident_id == resident_id).order_by(Membership.id)
        return (await self.session.scalars(query)).all()

    async def get(self, membership_id: int, *, lock: bool = False) -> Membership | None:
        """One membership, locked for update on PostgreSQL when asked."""
        query = select(Membership).where(Membership.id == membership_id)
        if lock and self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def create(self, **fields: Any) -> Membership:
        """Add a membership."""
        membership = Membership(**fields)
        self.session.add(membership)
        await self.session.flush()
        return membership

    async def pending_in(self, circle_ids: Sequence[int], limit: int = 20) -> Sequence[Membership]:
        """Pending memberships of the given circles, oldest first."""
        query = (
            select(Membership)
            .where(Membership.status == MembershipStatus.PENDING, Membership.circle_id.in_(circle_ids))
            .order_by(Membership.created_at)
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    async def claim_due_reminders(self, now: datetime, every: timedelta, limit: int = 100) -> Sequence[Membership]:
        """Pending memberships whose reminder is due, moved to their next reminder time (claimed once)."""
        query = (
            select(Membership)
            .where(Membership.status == MembershipStatus.PENDING, Membership.remind_at <= now)
            .order_by(Membership.remind_at)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        rows = (await self.session.scalars(query)).all()
        for row in rows:
            row.remind_at = now + every
            row.reminders_sent += 1
        await self.session.flush()
        return rows

    async def count_by_status(self) -> dict[str, int]:
        """How many memberships are in each status."""
        rows = await self.session.execute(select(Membership.status, func.count()).group_by(Membership.status))
        return {status: count for status, count in rows}


class RoleRepository(Repository):
    """Role grants."""

    async def grants_of(self, resident_id: int) -> list[Grant]:
        """A resident's grants as domain values."""
        rows = await self.session.scalars(select(RoleGrant).where(RoleGrant.resident_id == resident_id))
        return [
            Grant(Role(r.role), ScopeKind(r.scope), r.scope_id, Sector(r.sector) if r.sector else None) for r in rows
        ]

    async def grant(self, resident_id: int, grant: Grant, granted_by: int | None, now: datetime) -> bool:
        """Give a role; False if the resident already had it."""
        existing = await self.session.scalar(
            select(RoleGrant.id).where(
                RoleGrant.resident_id == resident_id,
                RoleGrant.role == grant.role,
                RoleGrant.scope == grant.scope,
                RoleGrant.scope_id.is_(None) if grant.scope_id is None else RoleGrant.scope_id == grant.scope_id,
                RoleGrant.sector.is_(None) if grant.sector is None else RoleGrant.sector == grant.sector,
            )
        )
        if existing is not None:
            return False
        self.session.add(
            RoleGrant(
                resident_id=resident_id,
                role=grant.role,
                scope=grant.scope,
                scope_id=grant.scope_id,
                sector=grant.sector,
                granted_by=granted_by,
                granted_at=now,
            )
        )
        await self.session.flush()
        return True

    async def revoke_circle_roles(self, resident_id: int, circle_id: int) -> None:
        """Drop the roles a resident held over one circle (when they leave it)."""
        await self.session.execute(
            delete(RoleGrant).where(
                RoleGrant.resident_id == resident_id,
                RoleGrant.scope == ScopeKind.CIRCLE,
                RoleGrant.scope_id == circle_id,
            )
        )

    async def approvers(self, circle_id: int, barrio_id: int) -> Sequence[Resident]:
        """Who decides on a membership: the circle's delegates and the barrio's community managers,
        or the district admins when the circle has neither."""
        by_place = or_(
            and_(RoleGrant.role == Role.DELEGATE, RoleGrant.scope_id == circle_id),
            and_(RoleGrant.role == Role.COMMUNITY_MANAGER, RoleGrant.scope_id == barrio_id),
        )
        for condition in (by_place, RoleGrant.role == Role.ADMIN):
            query = (
                select(Resident)
                .join(RoleGrant, RoleGrant.resident_id == Resident.id)
                .where(condition)
                .distinct()
                .order_by(Resident.id)
            )
            rows = (await self.session.scalars(query)).all()
            if rows:
                return rows
        return []


class InviteRepository(Repository):
    """Invite codes."""

    async def create(self, **fields: Any) -> Invite:
        """Store a new invite."""
        invite = Invite(**fields)
        self.session.add(invite)
        await self.session.flush()
        return invite

    async def by_code(self, code: str) -> Invite | None:
        """An invite by code, locked on PostgreSQL so two residents cannot take its last use."""
        query = select(Invite).where(Invite.code == code)
        if self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def consume(self, invite: Invite) -> None:
        """Use up one use of an invite (unlimited invites stay unlimited)."""
        if invite.uses_left is not None:
            invite.uses_left -= 1


@dataclass(slots=True)
class ChatState:
    """Where a chat is in a conversation (a plain value; saved with ConversationRepository.save)."""

    chat_id: int
    flow: str
    step: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    """What is known about an update applied before."""

    delivered: bool
    replies: list[dict[str, Any]] | None


class ConversationRepository(Repository):
    """Conversation state per chat (plain SQL on the hot path: one update = one row read and written)."""

    async def open_update(
        self, chat_id: int, update_id: int, user_id: int, now: datetime
    ) -> tuple[ChatState, UpdateRecord | None, Resident | None, list[Grant]]:
        """Everything an update starts from, in one round trip: the chat's state (created if missing, and
        row-locked on PostgreSQL so one chat's updates are applied one at a time even across processes), the
        update's record if it was seen before, and the sender's resident row with their role grants."""
        query = _OPEN_UPDATE_FOR_UPDATE if self.postgres else _OPEN_UPDATE
        params = {"chat_id": chat_id, "update_id": update_id, "user_id": user_id}
        rows = (await self.session.execute(query, params)).all()
        if not rows:
            stmt = self._insert(Conversation).values(chat_id=chat_id, flow="", step="", data={}, updated_at=now)
            await self.session.execute(stmt.on_conflict_do_nothing(index_elements=["chat_id"]))
            rows = (await self.session.execute(query, params)).all()
        first = rows[0]
        record = UpdateRecord(bool(first.delivered), first.replies) if first.update_id is not None else None
        grants = [_grant(row.RoleGrant) for row in rows if row.RoleGrant is not None]
        return ChatState(chat_id, first.flow, first.step, dict(first.data or {})), record, first.Resident, grants

    async def save(self, state: ChatState, flow: str, step: str, data: dict[str, Any], now: datetime) -> None:
        """Move a chat to a flow and step, with its answers so far."""
        if (state.flow, state.step, state.data) == (flow, step, data):
            return
        state.flow, state.step, state.data = flow, step, dict(data)
        await self.session.execute(
            _SAVE_CONVERSATION,
            {"b_chat_id": state.chat_id, "b_flow": flow, "b_step": step, "b_data": dict(data), "b_updated_at": now},
        )


class UpdateRepository(Repository):
    """The record of updates already applied (exactly-once in effect)."""

    async def seen(self, update_id: int) -> UpdateRecord | None:
        """The record of an update applied before, if any."""
        table = ProcessedUpdate.__table__
        query = select(table.c.delivered, table.c.replies).where(table.c.update_id == update_id)
        row = (await self.session.execute(query)).first()
        return UpdateRecord(bool(row.delivered), row.replies) if row is not None else None

    async def record(self, update_id: int, chat_id: int, replies: list[dict[str, Any]], now: datetime) -> None:
        """Remember an update as applied, with the replies still to deliver (none: delivered already)."""
        await self.session.execute(
            _RECORD_UPDATE,
            {
                "update_id": update_id,
                "chat_id": chat_id,
                "handled_at": now,
                "replies": replies or None,
                "delivered": not replies,
            },
        )

    async def mark_delivered(self, update_ids: Sequence[int]) -> None:
        """Forget the replies of updates whose replies reached the chat."""
        if update_ids:
            await self.session.execute(
                update(ProcessedUpdate)
                .where(ProcessedUpdate.update_id.in_(list(update_ids)))
                .values(delivered=True, replies=None)
            )

    async def prune(self, before: datetime) -> int:
        """Drop records older than `before` (Telegram never redelivers that late)."""
        result = await self.session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.handled_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    async def count(self) -> int:
        """How many updates are recorded."""
        return await self.session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0


class OutboxRepository(Repository):
    """Messages waiting for the sender."""

    async def add(
        self,
        chat_id: int,
        payload: dict[str, Any],
        topic: str,
        now: datetime,
        resident_id: int | None = None,
        send_at: datetime | None = None,
        about_resident_id: int | None = None,
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
        )
        self.session.add(row)
        return row

    async def claim_due(self, now: datetime, limit: int, busy_chats: Sequence[int] = ()) -> Sequence[OutboxMessage]:
        """Claim due pending messages (oldest first, one per chat), marking them as being sent."""
        query = select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.send_at <= now)
        if busy_chats:
            query = query.where(OutboxMessage.chat_id.not_in(list(busy_chats)))
        query = query.order_by(OutboxMessage.id).limit(limit * 4)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        claimed: list[OutboxMessage] = []
        chats: set[int] = set()
        for row in (await self.session.scalars(query)).all():
            # One message per chat per round keeps each chat's order and its 1/s limit.
            if row.chat_id in chats:
                continue
            chats.add(row.chat_id)
            row.status, row.claimed_at = "sending", now
            claimed.append(row)
            if len(claimed) >= limit:
                break
        await self.session.flush()
        return claimed

    async def get(self, message_id: int) -> OutboxMessage | None:
        """One outbox row."""
        return await self.session.get(OutboxMessage, message_id)

    async def settle(
        self, message_id: int, status: str, now: datetime, error: str | None = None, send_at: datetime | None = None
    ) -> None:
        """Record a send attempt's outcome: sent, failed, or pending again at `send_at`."""
        values: dict[str, Any] = {"status": status, "last_error": error, "attempts": OutboxMessage.attempts + 1}
        if status == "sent":
            values["sent_at"] = now
        if send_at is not None:
            values["send_at"] = send_at
        await self.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))

    async def release(self, message_id: int) -> None:
        """Put a claimed message back without counting an attempt (e.g. during a 429 pause)."""
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(status="pending", claimed_at=None)
        )

    async def fail_chat(self, chat_id: int, error: str) -> None:
        """Give up on every waiting message to a chat that blocked the bot."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status.in_(["pending", "sending"]))
            .values(status="failed", last_error=error)
        )

    async def recover_stale(self, older_than: datetime) -> int:
        """Put back messages left 'sending' by a sender that died (they may be sent twice, never lost)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < older_than)
            .values(status="pending", claimed_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def count_by_status(self) -> dict[str, int]:
        """How many outbox rows are in each status."""
        rows = await self.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: count for status, count in rows}

    async def for_chat(self, chat_id: int) -> Sequence[OutboxMessage]:
        """Every outbox row addressed to a chat, oldest first."""
        query = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        return (await self.session.scalars(query)).all()
