"""Memberships of circles: requests, decisions, leaving, and the reminder schedule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.domain.residents import ACTIVE_MEMBERSHIP, MembershipStatus, Verification, can_move
from storage.base import Repository
from storage.models import Membership, Resident
from storage.pg_driver import insert_and_attach

# PostgreSQL: a new membership inserted on the driver's connection (storage/pg_driver.py).


class MembershipError(ValueError):
    """A membership change the lifecycle does not allow (callers check first; this guards storage)."""


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

    async def latest(self, resident_id: int) -> Membership | None:
        """A resident's newest membership, whatever its status."""
        query = select(Membership).where(Membership.resident_id == resident_id).order_by(Membership.id.desc()).limit(1)
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

    async def request(
        self,
        resident_id: int,
        circle_id: int,
        now: datetime,
        remind_at: datetime,
        *,
        building_id: int | None = None,
        portal: str | None = None,
    ) -> Membership:
        """Ask to join a circle: pending until a delegate or community manager decides."""
        return await self._add(
            resident_id, circle_id, now, MembershipStatus.PENDING, building_id, portal, remind_at=remind_at
        )

    async def join_with_invite(
        self,
        resident_id: int,
        circle_id: int,
        invite_id: int,
        now: datetime,
        *,
        building_id: int | None = None,
        portal: str | None = None,
    ) -> Membership:
        """Join a circle verified at once by an invitation."""
        return await self._add(
            resident_id,
            circle_id,
            now,
            MembershipStatus.VERIFIED,
            building_id,
            portal,
            verified_via=Verification.INVITE,
            invite_id=invite_id,
        )

    async def add_verified_member(self, resident_id: int, circle_id: int, now: datetime) -> Membership:
        """A member verified by the office itself (sandbox and demo staff)."""
        return await self._add(
            resident_id, circle_id, now, MembershipStatus.VERIFIED, None, None, verified_via=Verification.APPROVAL
        )

    async def _add(
        self,
        resident_id: int,
        circle_id: int,
        now: datetime,
        status: MembershipStatus,
        building_id: int | None,
        portal: str | None,
        *,
        verified_via: str | None = None,
        invite_id: int | None = None,
        remind_at: datetime | None = None,
    ) -> Membership:
        """Insert a membership (on PostgreSQL on the driver's connection, then held by the session)."""
        verified = status is MembershipStatus.VERIFIED
        values = {
            "resident_id": resident_id,
            "circle_id": circle_id,
            "building_id": building_id,
            "portal": portal,
            "status": status.value,
            "verified_via": verified_via,
            "invite_id": invite_id,
            "decided_by": None,
            "created_at": now,
            "decided_at": now if verified else None,
            "remind_at": remind_at,
            "reminders_sent": 0,
        }
        if self.postgres:
            return await insert_and_attach(self.session, self.statement_counts, Membership, values)
        membership = Membership(**values)
        self.session.add(membership)
        await self.session.flush()
        return membership

    async def approve(self, membership: Membership, decided_by: int, now: datetime) -> None:
        """A delegate or manager verified this person as living in the circle."""
        self._move(membership, MembershipStatus.VERIFIED, now)
        membership.decided_by = decided_by
        membership.verified_via = Verification.APPROVAL
        await self.session.flush()

    async def reject(self, membership: Membership, decided_by: int, now: datetime) -> None:
        """A delegate or manager did not approve this request."""
        self._move(membership, MembershipStatus.REJECTED, now)
        membership.decided_by = decided_by
        await self.session.flush()

    async def leave(self, membership: Membership, now: datetime) -> None:
        """The resident left the circle (or replaced the request by joining another)."""
        self._move(membership, MembershipStatus.LEFT, now)
        await self.session.flush()

    @staticmethod
    def _move(membership: Membership, target: MembershipStatus, now: datetime) -> None:
        if not can_move(MembershipStatus(membership.status), target):
            raise MembershipError(f"membership {membership.id} cannot go from {membership.status} to {target}")
        membership.status = target
        membership.decided_at = now
        membership.remind_at = None

    async def pending_in(
        self, circle_ids: Sequence[int], *, excluding_resident: int | None = None, limit: int = 20
    ) -> Sequence[Membership]:
        """Pending memberships of the given circles, oldest first (never the asker's own)."""
        query = select(Membership).where(
            Membership.status == MembershipStatus.PENDING, Membership.circle_id.in_(list(circle_ids))
        )
        if excluding_resident is not None:
            query = query.where(Membership.resident_id != excluding_resident)
        query = query.order_by(Membership.created_at, Membership.id).limit(limit)
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

    async def languages_in_circle(self, circle_id: int) -> list[tuple[str, int]]:
        """The languages the circle's current members chose, with how many chose each, most used first."""
        query = (
            select(Resident.locale, func.count())
            .join(Membership, Membership.resident_id == Resident.id)
            .where(Membership.circle_id == circle_id, Membership.status.in_(list(ACTIVE_MEMBERSHIP)))
            .group_by(Resident.locale)
            .order_by(func.count().desc(), Resident.locale)
        )
        return [(locale, count) for locale, count in await self.session.execute(query)]
