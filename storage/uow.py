"""Unit of work: one transaction, its repositories, rollback unless committed."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession

from storage.ballots import BallotBox
from storage.cases import CaseRepository
from storage.coexistence import CoexistenceRepository
from storage.conversations import ConversationRepository, UpdateRepository
from storage.demo import DemoRepository
from storage.digests import DigestRepository
from storage.elections import ElectionRepository
from storage.invites import InviteRepository
from storage.media import MediaRepository
from storage.meetings import MeetingRepository
from storage.memberships import MembershipRepository
from storage.notices import NoticeRepository
from storage.outbox import OutboxRepository
from storage.polls import PollRepository
from storage.proposals import ProposalRepository
from storage.residents import ResidentRepository
from storage.roles import RoleRepository
from storage.stats import StatsRepository
from storage.territory import TerritoryCache, TerritoryRepository
from storage.translations import TranslationRepository


class PriorityLock:
    """SQLite's one writer as an asyncio lock where short bookkeeping writes (recording that replies were shown)
    go before the queue of updates waiting to be applied: under load that queue is long, and a delivery record
    that waits in it lets a crash re-send answers shown long before."""

    def __init__(self) -> None:
        self._locked = False
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    async def acquire(self, *, priority: bool = False) -> None:
        """Wait for the lock; priority waiters are served first."""
        if not self._locked and not self._waiting[True] and not self._waiting[False]:
            self._locked = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[priority].append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # we were handed the lock as we were cancelled: pass it on
            else:
                self._waiting[priority].remove(future)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter (priority first), or free it."""
        for priority in (True, False):
            queue = self._waiting[priority]
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self._locked = False


class UnitOfWork:
    """A transaction and the repositories that work inside it."""

    def __init__(
        self,
        session: AsyncSession,
        write_lock: PriorityLock | None,
        *,
        postgres: bool,
        territory_cache: TerritoryCache | None = None,
        priority: bool = False,
        statement_counts: Counter[str] | None = None,
    ) -> None:
        self.session = session
        self._lock = write_lock
        self._priority = priority
        self.postgres = postgres
        self.territory = TerritoryRepository(session, postgres, territory_cache)
        self.residents = ResidentRepository(session, postgres, statement_counts)
        self.memberships = MembershipRepository(session, postgres, statement_counts)
        self.roles = RoleRepository(session, postgres, statement_counts)
        self.invites = InviteRepository(session, postgres)
        self.conversations = ConversationRepository(session, postgres, statement_counts)
        self.updates = UpdateRepository(session, postgres, statement_counts)
        self.outbox = OutboxRepository(session, postgres)
        self.cases = CaseRepository(session, postgres, territory_cache)
        self.polls = PollRepository(session, postgres)
        self.elections = ElectionRepository(session, postgres)
        self.ballots = BallotBox(session, postgres)
        self.proposals = ProposalRepository(session, postgres)
        self.demo = DemoRepository(session, postgres)
        self.media = MediaRepository(session, postgres)
        self.notices = NoticeRepository(session, postgres)
        self.coexistence = CoexistenceRepository(session, postgres)
        self.digests = DigestRepository(session, postgres)
        self.stats = StatsRepository(session, postgres)
        self.meetings = MeetingRepository(session, postgres)
        self.translations = TranslationRepository(session, postgres)

    async def __aenter__(self) -> UnitOfWork:
        if self._lock is not None:
            await self._lock.acquire(priority=self._priority)
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
        await self.conversations.write_unsaved()
        await self.session.commit()

    async def rollback(self) -> None:
        """Undo everything done in this unit of work so far."""
        self.conversations.forget_unsaved()
        await self.session.rollback()

    async def flush(self) -> None:
        """Send pending changes to the database without committing (to get ids)."""
        await self.session.flush()
