"""Polls: their terms and options, the electorate frozen at opening, and the scheduler's due polls.

How anyone voted is not here: that is `storage.ballots`, the ballot box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, exists, func, insert, literal, not_, or_, select

from bot.domain.ballots import PollKind
from bot.domain.permissions import Role
from bot.domain.permissions import ScopeKind as GrantScope
from bot.domain.polls import YESNO_OPTIONS, PollScope, PollStatus, PollTerms, ScopeKind, next_due
from bot.domain.residents import MembershipStatus, ResidentStatus
from storage.base import Repository
from storage.models import (
    Circle,
    Membership,
    Poll,
    PollElector,
    PollOption,
    PollParticipation,
    Resident,
    RoleGrant,
)


@dataclass(frozen=True, slots=True)
class Contact:
    """Where and in which language to reach someone (for fan-out to thousands: no ORM objects)."""

    resident_id: int
    chat_id: int
    locale: str


def council_members(barrio_id: int | None) -> Select[tuple[int]]:
    """The members of a barrio's Citizen Community Council (its council_member grants), as resident ids."""
    return (
        select(RoleGrant.resident_id)
        .where(
            RoleGrant.role == Role.COUNCIL_MEMBER,
            RoleGrant.scope == GrantScope.BARRIO,
            RoleGrant.scope_id == barrio_id,
            RoleGrant.resident_id.is_not(None),
        )
        .distinct()
    )


# Built once: a tap on a ballot runs these, and keying a fresh statement costs more than running it.
_POLL_BY_ID = select(Poll).where(Poll.id == bindparam("poll_id"))
_OPTIONS_OF_POLL = select(PollOption).where(PollOption.poll_id == bindparam("poll_id")).order_by(PollOption.position)
_IS_ELECTOR = select(literal(1)).where(
    PollElector.poll_id == bindparam("poll_id"), PollElector.resident_id == bindparam("resident_id")
)


def _scope_members(scope: PollScope) -> Select[tuple[int]]:
    """The residents who are verified members of the scope, as a SELECT of resident ids."""
    if scope.kind is ScopeKind.COUNCIL:
        return council_members(scope.id)
    query = (
        select(Membership.resident_id)
        .where(Membership.status == MembershipStatus.VERIFIED, Membership.resident_id.is_not(None))
        .distinct()
    )
    if scope.kind is ScopeKind.CIRCLE:
        return query.where(Membership.circle_id == scope.id)
    if scope.kind is ScopeKind.BARRIO:
        return query.join(Circle, Circle.id == Membership.circle_id).where(Circle.barrio_id == scope.id)
    if scope.kind is ScopeKind.DISTRICT:
        return query
    raise ValueError(f"no electorate for scope {scope.key} yet")


class PollRepository(Repository):
    """Polls, options and electorates."""

    async def create(
        self, terms: PollTerms, scope: PollScope, now: datetime, *, created_by: int | None, remind_at: datetime | None
    ) -> Poll:
        """Store a poll and its options (yes/no polls get their three coded options), not yet open."""
        poll = Poll(
            scope_kind=scope.kind.value,
            scope_id=scope.id,
            kind=terms.kind.value,
            question=terms.question,
            max_choices=terms.max_choices if terms.kind is PollKind.APPROVAL else None,
            status=PollStatus.SCHEDULED,
            created_by=created_by,
            created_at=now,
            opens_at=terms.opens_at,
            closes_at=terms.closes_at,
            remind_at=remind_at,
            reminded=False,
            due_at=terms.opens_at,
            quorum_percent=terms.quorum_percent,
            threshold_percent=terms.threshold_percent,
            results_visible=terms.results_visible,
            vote_change=terms.vote_change,
            eligible_count=0,
            lot_order=[],
        )
        self.session.add(poll)
        await self.session.flush()
        if terms.kind is PollKind.YESNO:
            options = [
                PollOption(poll_id=poll.id, position=i, text=o.value, code=o.value) for i, o in enumerate(YESNO_OPTIONS)
            ]
        else:
            options = [PollOption(poll_id=poll.id, position=i, text=text) for i, text in enumerate(terms.options)]
        self.session.add_all(options)
        await self.session.flush()
        return poll

    async def set_lot_order(self, poll: Poll, option_ids: Sequence[int]) -> None:
        """Fix the order that breaks ties by lot (before the poll opens)."""
        poll.lot_order = list(option_ids)
        await self.session.flush()

    async def get(self, poll_id: int, *, lock: bool = False) -> Poll | None:
        """One poll, locked for update on PostgreSQL when asked."""
        if lock and self.postgres:
            return await self.session.scalar(_POLL_BY_ID.with_for_update(), {"poll_id": poll_id})
        return await self.session.scalar(_POLL_BY_ID, {"poll_id": poll_id})

    async def make_election_vote(self, poll: Poll, *, seats: int, method: str, office: str) -> None:
        """Before it opens: the poll is an election's vote, filling `seats` by `method`."""
        poll.seats = seats
        poll.count_method = method
        poll.office = office

    async def options(self, poll_id: int) -> list[PollOption]:
        """A poll's options in their order."""
        return list((await self.session.scalars(_OPTIONS_OF_POLL, {"poll_id": poll_id})).all())

    async def open(self, poll: Poll, now: datetime) -> int:
        """Open a poll: freeze its electorate (the scope's verified members now) and schedule it."""
        members = _scope_members(PollScope(ScopeKind(poll.scope_kind), poll.scope_id)).subquery()
        await self.session.execute(
            insert(PollElector).from_select(["poll_id", "resident_id"], select(literal(poll.id), members.c.resident_id))
        )
        count = await self.session.scalar(select(func.count()).where(PollElector.poll_id == poll.id))
        poll.eligible_count = int(count or 0)
        poll.status = PollStatus.OPEN
        self._reschedule(poll)
        await self.session.flush()
        return poll.eligible_count

    def _reschedule(self, poll: Poll) -> None:
        poll.due_at = next_due(PollStatus(poll.status), poll.opens_at, poll.closes_at, poll.remind_at, poll.reminded)

    async def mark_reminded(self, poll: Poll) -> None:
        """The reminder went out: next, the close."""
        poll.reminded = True
        self._reschedule(poll)
        await self.session.flush()

    async def close_now(self, poll: Poll, now: datetime) -> None:
        """Bring the closing time forward to now (an office closing a poll early)."""
        poll.closes_at = min(poll.closes_at, now)
        poll.due_at = now
        await self.session.flush()

    async def record_count(self, poll: Poll, result: dict, published_sha256: str | None) -> None:  # type: ignore[type-arg]
        """Store the count; the poll is counted and its result is about to be announced."""
        poll.result = result
        poll.published_sha256 = published_sha256
        poll.status = PollStatus.COUNTED
        await self.session.flush()

    async def mark_closed(self, poll: Poll, now: datetime) -> None:
        """The result was announced: nothing more to do."""
        poll.status = PollStatus.CLOSED
        poll.closed_at = now
        poll.due_at = None
        await self.session.flush()

    async def claim_due(self, now: datetime, limit: int = 20) -> Sequence[Poll]:
        """Polls whose opening, reminder or closing is due (each claimed by one scheduler on PostgreSQL)."""
        query = select(Poll).where(Poll.due_at <= now).order_by(Poll.due_at).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).all()

    # ------------------------------------------------------------ electorate

    async def is_elector(self, poll_id: int, resident_id: int) -> bool:
        """Whether a resident is in a poll's frozen electorate."""
        found = await self.session.scalar(_IS_ELECTOR, {"poll_id": poll_id, "resident_id": resident_id})
        return found is not None

    async def members_of(self, scope: PollScope) -> int:
        """How many verified members a scope has now (proposal thresholds, previews)."""
        members = _scope_members(scope).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(members)) or 0)

    async def members_contacts(self, scope: PollScope) -> list[Contact]:
        """The reachable verified members of a scope now (a proposal's audience), by resident id."""
        members = _scope_members(scope).subquery()
        query = (
            select(Resident.id, Resident.chat_id, Resident.locale)
            .where(Resident.id.in_(select(members.c.resident_id)), Resident.status == ResidentStatus.ACTIVE)
            .order_by(Resident.id)
        )
        return [Contact(int(r.id), int(r.chat_id), r.locale) for r in (await self.session.execute(query)).all()]

    async def electors(self, poll_id: int, *, not_voted: bool = False) -> list[Contact]:
        """The reachable electors of a poll (only those who have not voted, when asked), by resident id."""
        query = (
            select(Resident.id, Resident.chat_id, Resident.locale)
            .join(PollElector, PollElector.resident_id == Resident.id)
            .where(PollElector.poll_id == poll_id, Resident.status == ResidentStatus.ACTIVE)
            .order_by(Resident.id)
        )
        if not_voted:
            voted = exists().where(
                PollParticipation.poll_id == poll_id, PollParticipation.resident_id == PollElector.resident_id
            )
            query = query.where(not_(voted))
        return [Contact(int(r.id), int(r.chat_id), r.locale) for r in (await self.session.execute(query)).all()]

    async def open_for(self, resident_id: int) -> list[tuple[Poll, bool]]:
        """The open polls a resident may vote in, with whether they have voted, newest first."""
        voted = (
            exists()
            .where(PollParticipation.poll_id == Poll.id, PollParticipation.resident_id == resident_id)
            .correlate(Poll)
        )
        query = (
            select(Poll, voted.label("voted"))
            .join(PollElector, and_(PollElector.poll_id == Poll.id, PollElector.resident_id == resident_id))
            .where(Poll.status == PollStatus.OPEN)
            .order_by(Poll.closes_at, Poll.id)
        )
        return [(row[0], bool(row[1])) for row in (await self.session.execute(query)).all()]

    async def closed_for(self, resident_id: int, limit: int = 5) -> list[Poll]:
        """The latest closed polls a resident could vote in or created."""
        query = (
            select(Poll)
            .outerjoin(PollElector, and_(PollElector.poll_id == Poll.id, PollElector.resident_id == resident_id))
            .where(
                Poll.status == PollStatus.CLOSED,
                or_(PollElector.resident_id.is_not(None), Poll.created_by == resident_id),
            )
            .order_by(Poll.closed_at.desc(), Poll.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def created_by(self, resident_id: int, limit: int = 10) -> list[Poll]:
        """Open or scheduled polls someone created (their turnout is theirs to see)."""
        query = (
            select(Poll)
            .where(Poll.created_by == resident_id, Poll.status.in_([PollStatus.SCHEDULED, PollStatus.OPEN]))
            .order_by(Poll.closes_at, Poll.id)
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())
