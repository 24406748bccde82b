"""Notices and their deliveries: one row per notice, one slim row per recipient, claimed by the sender in
due order through one index (never a scan of the whole queue)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, update

from bot.domain.notices import NoticeScope, NoticeScopeKind
from bot.domain.permissions import ScopeKind as GrantScope
from bot.domain.residents import MembershipStatus, ResidentStatus
from storage.base import Repository, rowcount
from storage.models import Circle, Membership, Notice, NoticeDelivery, Resident, RoleGrant

# What a delivery row may become after a send; 'pending' again means a retry later.
SETTLED = ("sent", "failed", "unreachable")


@dataclass(frozen=True, slots=True)
class AudienceMember:
    """One person a notice is for, with what the delivery rules need (no ORM objects: there may be 100,000)."""

    resident_id: int
    chat_id: int
    locale: str
    reachable: bool
    quiet_start: int | None
    quiet_end: int | None
    muted_kinds: str | None
    weekly_digest: bool = False


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """A delivery row to insert."""

    resident_id: int
    chat_id: int
    locale: str
    status: str
    send_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery the sender holds: to whom, which notice, and the recipient's language now."""

    id: int
    chat_id: int
    notice_id: int
    attempts: int
    locale: str


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What happened to one send of a delivery (status 'pending' with `send_at`: retry then)."""

    id: int
    status: str
    locale: str | None = None
    send_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a notice has got: counts by status, by language, and those waiting for quiet hours."""

    total: int
    sent: int
    unreachable: int
    muted: int
    failed: int
    waiting: int  # pending, not due yet (quiet hours)
    digest: int  # waiting for the recipients' weekly digest
    due: int  # pending and due, or being sent
    by_locale: dict[str, dict[str, int]]

    @property
    def settled(self) -> int:
        """Deliveries that reached an end (sent, skipped, muted, failed, or left to the weekly digest)."""
        return self.sent + self.unreachable + self.muted + self.failed + self.digest


def audience_query(scope: NoticeScope) -> Select[tuple[int]]:
    """The resident ids a notice's scope reaches now: verified members of a place, or holders of a role."""
    if scope.kind is NoticeScopeKind.ROLE:
        role, sector = scope.role_parts()
        query = select(RoleGrant.resident_id).where(RoleGrant.role == role, RoleGrant.resident_id.is_not(None))
        if sector is not None:
            query = query.where(RoleGrant.sector == sector)
        if scope.id is not None:
            in_barrio_circles = select(Circle.id).where(Circle.barrio_id == scope.id)
            query = query.where(
                or_(
                    and_(RoleGrant.scope == GrantScope.BARRIO, RoleGrant.scope_id == scope.id),
                    and_(RoleGrant.scope == GrantScope.CIRCLE, RoleGrant.scope_id.in_(in_barrio_circles)),
                )
            )
        return query.distinct()
    query = select(Membership.resident_id).where(
        Membership.status == MembershipStatus.VERIFIED, Membership.resident_id.is_not(None)
    )
    if scope.kind is NoticeScopeKind.CIRCLE:
        query = query.where(Membership.circle_id == scope.id)
    elif scope.kind is NoticeScopeKind.BARRIO:
        query = query.join(Circle, Circle.id == Membership.circle_id).where(Circle.barrio_id == scope.id)
    return query.distinct()


@lru_cache(maxsize=1)
def _settle_statement() -> Any:
    """The one UPDATE that records many sends' outcomes, built once (at 1000 sends a second, building it
    every few milliseconds showed in the sender's profile)."""
    table = NoticeDelivery.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), or_(table.c.status == "sending", table.c.status == "pending"))
        .values(
            status=bindparam("b_status"),
            attempts=table.c.attempts + bindparam("b_attempt"),
            locale=func.coalesce(bindparam("b_locale", type_=table.c.locale.type), table.c.locale),
            send_at=func.coalesce(bindparam("b_send_at", type_=table.c.send_at.type), table.c.send_at),
            sent_at=bindparam("b_sent_at", type_=table.c.sent_at.type),
            claimed_by=None,
            lease_until=None,
        )
    )


class NoticeRepository(Repository):
    """Notices, their audiences and their deliveries."""

    async def create(self, **fields: Any) -> Notice:
        """Store a notice (its deliveries are queued separately)."""
        notice = Notice(**fields)
        self.session.add(notice)
        await self.session.flush()
        return notice

    async def get(self, notice_id: int) -> Notice | None:
        """One notice."""
        return await self.session.get(Notice, notice_id)

    async def many(self, ids: Sequence[int]) -> list[Notice]:
        """Several notices by id."""
        if not ids:
            return []
        return list((await self.session.scalars(select(Notice).where(Notice.id.in_(list(ids))))).all())

    async def author_names(self, ids: Sequence[int]) -> dict[int, str]:
        """First names of notice authors, by resident id."""
        if not ids:
            return {}
        rows = await self.session.execute(select(Resident.id, Resident.first_name).where(Resident.id.in_(list(ids))))
        return {int(r.id): r.first_name for r in rows}

    # ------------------------------------------------------------ audiences

    async def audience(self, scope: NoticeScope) -> list[AudienceMember]:
        """Everyone the scope reaches now, with their delivery preferences, by resident id."""
        members = audience_query(scope).subquery()
        query = (
            select(
                Resident.id,
                Resident.chat_id,
                Resident.locale,
                Resident.status,
                Resident.quiet_start,
                Resident.quiet_end,
                Resident.muted_kinds,
                Resident.weekly_digest,
            )
            .where(Resident.id.in_(select(members.c.resident_id)))
            .order_by(Resident.id)
        )
        rows = (await self.session.execute(query)).all()
        return [
            AudienceMember(
                int(r.id),
                int(r.chat_id),
                r.locale,
                r.status == ResidentStatus.ACTIVE,
                r.quiet_start,
                r.quiet_end,
                r.muted_kinds,
                bool(r.weekly_digest),
            )
            for r in rows
        ]

    async def languages(self, scope: NoticeScope, *, besides: int | None = None) -> dict[str, int]:
        """How many people of the audience (but `besides`, the author) read each language (for the author's
        choice of versions)."""
        members = audience_query(scope).subquery()
        query = (
            select(Resident.locale, func.count())
            .where(Resident.id.in_(select(members.c.resident_id)), Resident.id != (besides or 0))
            .group_by(Resident.locale)
        )
        return {locale: int(count) for locale, count in (await self.session.execute(query)).all()}

    # ------------------------------------------------------------ queuing

    async def queue(self, notice: Notice, deliveries: Sequence[QueuedDelivery], now: datetime) -> int:
        """Insert a notice's deliveries (one statement for many) and mark it sending."""
        table = NoticeDelivery.__table__
        rows = [
            {
                "notice_id": notice.id,
                "resident_id": d.resident_id,
                "chat_id": d.chat_id,
                "locale": d.locale,
                "status": d.status,
                "send_at": d.send_at,
                "attempts": 0,
            }
            for d in deliveries
        ]
        for start in range(0, len(rows), 20_000):
            await self.session.execute(insert(table), rows[start : start + 20_000])
        notice.status = "sending"
        notice.queued_at = now
        notice.recipients = len(rows)
        return len(rows)

    async def due_scheduled(self, now: datetime, limit: int = 20) -> list[Notice]:
        """Scheduled notices whose time has come (locked on PostgreSQL so one process expands each)."""
        query = (
            select(Notice)
            .where(Notice.status == "scheduled", Notice.send_at <= now)
            .order_by(Notice.send_at, Notice.id)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return list((await self.session.scalars(query)).all())

    async def sending(self, limit: int = 50) -> list[Notice]:
        """Notices whose deliveries are under way and whose author has not had the final report."""
        query = select(Notice).where(Notice.status == "sending").order_by(Notice.id).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return list((await self.session.scalars(query)).all())

    # ------------------------------------------------------------ the sender's side

    async def claim(self, now: datetime, limit: int, sender: str, lease_until: datetime) -> list[ClaimedDelivery]:
        """Claim up to `limit` due deliveries for `sender`, earliest due first, reading each recipient's
        language now (they may have changed it since the notice was queued)."""
        table = NoticeDelivery.__table__
        ids_query = (
            select(table.c.id)
            .where(table.c.status == "pending", table.c.send_at <= now)
            .order_by(table.c.send_at, table.c.id)
            .limit(limit)
        )
        if self.postgres:
            ids_query = ids_query.with_for_update(skip_locked=True)
        ids = list((await self.session.scalars(ids_query)).all())
        if not ids:
            return []
        await self.session.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(status="sending", claimed_by=sender, lease_until=lease_until)
        )
        rows = await self.session.execute(
            select(table.c.id, table.c.chat_id, table.c.notice_id, table.c.attempts, Resident.locale)
            .join(Resident, Resident.id == table.c.resident_id)
            .where(table.c.id.in_(ids))
            .order_by(table.c.send_at, table.c.id)
        )
        return [ClaimedDelivery(int(r.id), int(r.chat_id), int(r.notice_id), int(r.attempts), r.locale) for r in rows]

    async def settle(self, outcomes: Sequence[DeliveryOutcome], now: datetime) -> None:
        """Record the outcome of sends (one round trip for many)."""
        if not outcomes:
            return
        statement = _settle_statement()
        await self.session.execute(
            statement,
            [
                {
                    "b_id": o.id,
                    "b_status": o.status,
                    "b_attempt": 1,
                    "b_locale": o.locale,
                    "b_send_at": o.send_at,
                    "b_sent_at": now if o.status == "sent" else None,
                }
                for o in outcomes
            ],
        )

    async def renew_leases(self, sender: str, lease_until: datetime) -> None:
        """Extend the lease of every delivery `sender` still holds."""
        table = NoticeDelivery.__table__
        await self.session.execute(
            update(table)
            .where(table.c.status == "sending", table.c.claimed_by == sender)
            .values(lease_until=lease_until)
        )

    async def reclaim(self, now: datetime, *, not_held_by: str | None = None) -> int:
        """Put back deliveries left 'sending' by a sender that is gone (expired lease, or, when a sender starts,
        held by anyone else): they may be sent twice, never lost."""
        table = NoticeDelivery.__table__
        stale = or_(table.c.lease_until.is_(None), table.c.lease_until < now)
        if not_held_by is not None:
            stale = or_(stale, table.c.claimed_by.is_(None), table.c.claimed_by != not_held_by)
        result = await self.session.execute(
            update(table)
            .where(table.c.status == "sending", stale)
            .values(status="pending", claimed_by=None, lease_until=None)
        )
        return rowcount(result)

    async def release(self, ids: Sequence[int]) -> None:
        """Put claimed deliveries back without counting an attempt (the sender is stopping)."""
        if ids:
            table = NoticeDelivery.__table__
            await self.session.execute(
                update(table)
                .where(table.c.id.in_(list(ids)), table.c.status == "sending")
                .values(status="pending", claimed_by=None, lease_until=None)
            )

    async def fail_chat(self, chat_id: int) -> None:
        """A chat blocked the bot: every delivery still waiting for it is skipped as unreachable."""
        table = NoticeDelivery.__table__
        await self.session.execute(
            update(table)
            .where(table.c.chat_id == chat_id, table.c.status.in_(["pending", "sending"]))
            .values(status="unreachable", claimed_by=None, lease_until=None)
        )

    # ------------------------------------------------------------ progress

    async def progress(self, notice_id: int, now: datetime) -> Progress:
        """Counts of a notice's deliveries by status and language."""
        table = NoticeDelivery.__table__
        waiting = and_(table.c.status == "pending", table.c.send_at > now)
        rows = (
            await self.session.execute(
                select(table.c.status, table.c.locale, func.count())
                .where(table.c.notice_id == notice_id)
                .group_by(table.c.status, table.c.locale)
            )
        ).all()
        waiting_count = int(
            await self.session.scalar(
                select(func.count()).select_from(table).where(table.c.notice_id == notice_id, waiting)
            )
            or 0
        )
        by_status: dict[str, int] = {}
        by_locale: dict[str, dict[str, int]] = {}
        for status, locale, count in rows:
            by_status[status] = by_status.get(status, 0) + int(count)
            by_locale.setdefault(locale, {})
            by_locale[locale][status] = by_locale[locale].get(status, 0) + int(count)
        pending = by_status.get("pending", 0) + by_status.get("sending", 0)
        return Progress(
            total=sum(by_status.values()),
            sent=by_status.get("sent", 0),
            unreachable=by_status.get("unreachable", 0),
            muted=by_status.get("muted", 0),
            failed=by_status.get("failed", 0),
            waiting=waiting_count,
            digest=by_status.get("digest", 0),
            due=pending - waiting_count,
            by_locale=by_locale,
        )

    async def release_from_digest(self, resident_id: int, now: datetime) -> int:
        """A resident went back to separate notices: what waited for their digest is due now."""
        result = await self.session.execute(
            update(NoticeDelivery)
            .where(NoticeDelivery.resident_id == resident_id, NoticeDelivery.status == "digest")
            .values(status="pending", send_at=now)
        )
        return rowcount(result)

    async def mark_reported(self, notice: Notice, stage: int, *, done: bool) -> None:
        """Remember which report the author has had (and that the notice is finished)."""
        notice.reported = stage
        if done:
            notice.status = "done"

    async def recent_by_author(self, author_id: int, limit: int = 10) -> list[Notice]:
        """A person's latest notices, newest first."""
        query = select(Notice).where(Notice.author_id == author_id).order_by(Notice.id.desc()).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def broadcasts_since(self, author_id: int, kind: str, since: datetime) -> int:
        """How many notices of `kind` a person has written since `since` (a delegate's daily limit)."""
        query = (
            select(func.count())
            .select_from(Notice)
            .where(Notice.author_id == author_id, Notice.kind == kind, Notice.created_at >= since)
        )
        return int(await self.session.scalar(query) or 0)

    async def deliveries_to(self, chat_id: int) -> list[NoticeDelivery]:
        """Every delivery addressed to a chat, oldest first (tests and tools)."""
        query = select(NoticeDelivery).where(NoticeDelivery.chat_id == chat_id).order_by(NoticeDelivery.id)
        return list((await self.session.scalars(query)).all())

    async def was_sent_to(self, notice_id: int, resident_id: int) -> bool:
        """Whether `notice` went (or is going) to this resident."""
        query = select(NoticeDelivery.id).where(
            NoticeDelivery.notice_id == notice_id, NoticeDelivery.resident_id == resident_id
        )
        return (await self.session.scalar(query.limit(1))) is not None
