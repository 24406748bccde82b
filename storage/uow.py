"""Unit of work: one transaction, its repositories, rollback unless committed."""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession

from storage.conversations import ConversationRepository, UpdateRepository
from storage.invites import InviteRepository
from storage.memberships import MembershipRepository
from storage.outbox import OutboxRepository
from storage.residents import ResidentRepository
from storage.roles import RoleRepository
from storage.territory import TerritoryCache, TerritoryRepository


class UnitOfWork:
    """A transaction and the repositories that work inside it."""

    def __init__(
        self,
        session: AsyncSession,
        write_lock: asyncio.Lock | None,
        *,
        postgres: bool,
        territory_cache: TerritoryCache | None = None,
    ) -> None:
        self.session = session
        self._lock = write_lock
        self.postgres = postgres
        self.territory = TerritoryRepository(session, postgres, territory_cache)
        self.residents = ResidentRepository(session, postgres)
        self.memberships = MembershipRepository(session, postgres)
        self.roles = RoleRepository(session, postgres)
        self.invites = InviteRepository(session, postgres)
        self.conversations = ConversationRepository(session, postgres)
        self.updates = UpdateRepository(session, postgres)
        self.outbox = OutboxRepository(session, postgres)

    async def __aenter__(self) -> UnitOfWork:
        if self._lock is not None:
            await self._lock.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.session.rollback()
            await self.session.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    async def commit(self) -> None:
        """Make everything done in this unit of work durable."""
        await self.session.commit()

    async def rollback(self) -> None:
        """Undo everything done in this unit of work so far."""
        await self.session.rollback()

    async def flush(self) -> None:
        """Send pending changes to the database without committing (to get ids)."""
        await self.session.flush()
