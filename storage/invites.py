"""Invitation codes for a circle or one of its buildings."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storage.base import Repository
from storage.models import Invite


class InviteRepository(Repository):
    """Invite codes."""

    async def create(
        self,
        code: str,
        circle_id: int,
        now: datetime,
        *,
        building_id: int | None = None,
        uses: int | None = 1,
        expires_at: datetime | None = None,
    ) -> Invite:
        """Store a new invite (`uses` None: unlimited)."""
        invite = Invite(
            code=code,
            circle_id=circle_id,
            building_id=building_id,
            uses_left=uses,
            max_uses=uses,
            expires_at=expires_at,
            created_at=now,
        )
        self.session.add(invite)
        await self.session.flush()
        return invite

    async def by_code(self, code: str) -> Invite | None:
        """An invite by code, locked on PostgreSQL so two residents cannot take its last use."""
        query = select(Invite).where(Invite.code == code)
        if self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def use_once(self, invite: Invite) -> None:
        """Use up one use of an invite (unlimited invites stay unlimited)."""
        if invite.uses_left is not None:
            invite.uses_left -= 1
            await self.session.flush()

    async def reusable(
        self, circle_id: int, building_id: int | None, now: datetime, min_left: timedelta
    ) -> Invite | None:
        """The newest unlimited, unrevoked invite of a building (or of the circle itself, with no building) still
        valid for at least `min_left`, so a re-printed sheet carries the code already on the wall."""
        place = Invite.building_id == building_id if building_id is not None else Invite.building_id.is_(None)
        query = (
            select(Invite)
            .where(
                Invite.circle_id == circle_id,
                place,
                Invite.max_uses.is_(None),
                Invite.revoked_at.is_(None),
                Invite.expires_at > now + min_left,
            )
            .order_by(Invite.expires_at.desc(), Invite.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)
