"""Resident proposals and their supports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, or_, select, update

from bot.domain.polls import PollScope
from bot.domain.proposals import ProposalStatus
from bot.domain.residents import ResidentStatus
from storage.base import Repository, rowcount
from storage.models import Proposal, ProposalSupport, Resident
from storage.polls import Contact


class ProposalRepository(Repository):
    """Proposals and who supports them."""

    async def create(
        self,
        scope: PollScope,
        author_id: int,
        title: str,
        text: str,
        now: datetime,
        expires_at: datetime,
        threshold: int,
    ) -> Proposal:
        """Store an open proposal, supported by its author."""
        proposal = Proposal(
            scope_kind=scope.kind.value,
            scope_id=scope.id,
            author_id=author_id,
            title=title,
            text=text,
            status=ProposalStatus.OPEN,
            created_at=now,
            expires_at=expires_at,
            threshold=threshold,
            supporters=0,
        )
        self.session.add(proposal)
        await self.session.flush()
        await self.support(proposal, author_id, now)
        return proposal

    async def get(self, proposal_id: int, *, lock: bool = False) -> Proposal | None:
        """One proposal, locked for update on PostgreSQL when asked."""
        query = select(Proposal).where(Proposal.id == proposal_id)
        if lock and self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def support(self, proposal: Proposal, resident_id: int, now: datetime) -> bool:
        """Add a resident's support once; False if they had supported it already."""
        added = await self.session.execute(
            self._insert(ProposalSupport)
            .values(proposal_id=proposal.id, resident_id=resident_id, since=now)
            .on_conflict_do_nothing(index_elements=["proposal_id", "resident_id"])
        )
        if rowcount(added) != 1:
            return False
        await self.session.execute(
            update(Proposal).where(Proposal.id == proposal.id).values(supporters=Proposal.supporters + 1)
        )
        await self.session.refresh(proposal)
        return True

    async def supports(self, proposal_id: int, resident_id: int) -> bool:
        """Whether a resident supports a proposal."""
        query = select(ProposalSupport.resident_id).where(
            ProposalSupport.proposal_id == proposal_id, ProposalSupport.resident_id == resident_id
        )
        return (await self.session.scalar(query)) is not None

    async def decide(
        self, proposal: Proposal, status: ProposalStatus, now: datetime, poll_id: int | None = None
    ) -> None:
        """Close a proposal: accepted (with the poll it became) or expired."""
        proposal.status = status
        proposal.decided_at = now
        proposal.poll_id = poll_id
        await self.session.flush()

    async def open_in(self, scopes: Sequence[PollScope], resident_id: int) -> list[tuple[Proposal, bool]]:
        """Open proposals in any of `scopes`, with whether the resident supports each, newest first."""
        if not scopes:
            return []
        where = or_(*(and_(Proposal.scope_kind == s.kind.value, Proposal.scope_id == s.id) for s in scopes))
        mine = (
            exists()
            .where(ProposalSupport.proposal_id == Proposal.id, ProposalSupport.resident_id == resident_id)
            .correlate(Proposal)
        )
        query = (
            select(Proposal, mine.label("mine"))
            .where(where, Proposal.status == ProposalStatus.OPEN)
            .order_by(Proposal.created_at.desc(), Proposal.id.desc())
            .limit(20)
        )
        return [(row[0], bool(row[1])) for row in (await self.session.execute(query)).all()]

    async def decided_in(self, scopes: Sequence[PollScope], limit: int = 5) -> list[Proposal]:
        """The latest accepted or expired proposals in `scopes`."""
        if not scopes:
            return []
        where = or_(*(and_(Proposal.scope_kind == s.kind.value, Proposal.scope_id == s.id) for s in scopes))
        query = (
            select(Proposal)
            .where(where, Proposal.status != ProposalStatus.OPEN)
            .order_by(Proposal.decided_at.desc(), Proposal.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def supporters(self, proposal_id: int) -> list[Contact]:
        """The reachable supporters (the author included) of a proposal."""
        query = (
            select(Resident.id, Resident.chat_id, Resident.locale)
            .join(ProposalSupport, ProposalSupport.resident_id == Resident.id)
            .where(ProposalSupport.proposal_id == proposal_id, Resident.status == ResidentStatus.ACTIVE)
            .order_by(Resident.id)
        )
        return [Contact(int(r.id), int(r.chat_id), r.locale) for r in (await self.session.execute(query)).all()]

    async def claim_expired(self, now: datetime, limit: int = 50) -> Sequence[Proposal]:
        """Open proposals whose window has ended (each claimed by one scheduler on PostgreSQL)."""
        query = (
            select(Proposal)
            .where(Proposal.status == ProposalStatus.OPEN, Proposal.expires_at <= now)
            .order_by(Proposal.expires_at)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).all()

    async def of_poll(self, poll_id: int) -> Proposal | None:
        """The proposal a poll was born of, if any."""
        return await self.session.scalar(select(Proposal).where(Proposal.poll_id == poll_id))
