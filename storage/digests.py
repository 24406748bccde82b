"""What a barrio's weekly digest needs beyond the figures: polls and elections closing, coexistence outcomes of
the week (counts only), who receives it, and which digests have already gone out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from bot.domain.permissions import Role
from bot.domain.residents import MembershipStatus
from storage.base import Repository
from storage.elections import ACTIVE as ELECTIONS_UNDER_WAY
from storage.models import (
    BodySeat,
    Case,
    CaseEvent,
    Circle,
    CoexistenceCase,
    Election,
    Membership,
    Notice,
    NoticeDelivery,
    OutboxMessage,
    Poll,
    Resident,
    RoleGrant,
)

DIGEST_REF = "digest:{week}:{barrio}:{resident}"


def digest_ref(week: str, barrio_id: int, resident_id: int) -> str:
    """The outbox ref of one person's digest of one barrio for one week (it is sent once)."""
    return DIGEST_REF.format(week=week, barrio=barrio_id, resident=resident_id)


@dataclass(frozen=True, slots=True)
class HeldNotice:
    """A notice waiting for a resident's weekly digest: its texts per language, to be shown in theirs."""

    delivery_id: int
    kind: str
    texts: dict[str, str]
    original_locale: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Closing:
    """A poll or an election closing soon: what it is and when it closes."""

    kind: str  # poll | election
    title: str  # the question, or the office elected
    scope_kind: str
    scope_id: int | None
    closes_at: datetime
    seats: int = 1


class DigestRepository(Repository):
    """Queries of the weekly digest."""

    async def recipients(self, barrio_id: int) -> Sequence[Resident]:
        """The barrio's community managers and the members of its Community Governance Commission."""
        managers = select(RoleGrant.resident_id).where(
            RoleGrant.role == Role.COMMUNITY_MANAGER, RoleGrant.scope == "barrio", RoleGrant.scope_id == barrio_id
        )
        governance = select(BodySeat.resident_id).where(BodySeat.body == "governance", BodySeat.barrio_id == barrio_id)
        query = (
            select(Resident)
            .where(or_(Resident.id.in_(managers), Resident.id.in_(governance)), Resident.status == "active")
            .order_by(Resident.id)
        )
        return (await self.session.scalars(query)).all()

    async def sent_this_week(self, week: str) -> set[str]:
        """The refs of the digests of `week` already queued (so each goes once, whatever the ticks)."""
        query = select(OutboxMessage.ref).where(OutboxMessage.ref.like(f"digest:{week}:%"))
        return {ref for ref in (await self.session.scalars(query)) if ref}

    async def closing(self, barrio_id: int, since: datetime, until: datetime) -> list[Closing]:
        """Polls (not an election's own) and elections of the barrio, its council and its circles, closing in
        [since, until), soonest first."""
        circles = select(Circle.id).where(Circle.barrio_id == barrio_id)
        in_barrio = or_(
            and_(Poll.scope_kind.in_(["barrio", "council"]), Poll.scope_id == barrio_id),
            and_(Poll.scope_kind == "circle", Poll.scope_id.in_(circles)),
        )
        election_polls = select(Election.poll_id).where(Election.poll_id.is_not(None))
        polls = await self.session.execute(
            select(Poll.question, Poll.scope_kind, Poll.scope_id, Poll.closes_at).where(
                in_barrio,
                Poll.status.in_(["scheduled", "open"]),
                Poll.closes_at >= since,
                Poll.closes_at < until,
                Poll.id.not_in(election_polls),
            )
        )
        found = [Closing("poll", q, k, i, at) for q, k, i, at in polls]
        elections = await self.session.execute(
            select(
                Election.office, Election.scope_kind, Election.scope_id, Election.voting_closes_at, Election.seats
            ).where(
                or_(
                    and_(Election.scope_kind == "council", Election.scope_id == barrio_id),
                    and_(Election.scope_kind == "circle", Election.scope_id.in_(circles)),
                ),
                Election.status.in_(list(ELECTIONS_UNDER_WAY)),
                Election.voting_closes_at >= since,
                Election.voting_closes_at < until,
            )
        )
        found += [Closing("election", o, k, i, at, seats) for o, k, i, at, seats in elections]
        return sorted(found, key=lambda c: c.closes_at)

    async def resolved_by_sector(self, barrio_id: int, since: datetime, until: datetime) -> dict[str, int]:
        """How many of the barrio's cases were resolved in [since, until), by the sector that resolved them
        ("" for the community managers)."""
        rows = await self.session.execute(
            select(CaseEvent.sector, func.count(func.distinct(CaseEvent.case_id)))
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                Case.barrio_id == barrio_id,
                CaseEvent.kind == "transition",
                CaseEvent.to_status == "resolved",
                CaseEvent.at >= since,
                CaseEvent.at < until,
            )
            .group_by(CaseEvent.sector)
        )
        return {sector or "": int(n) for sector, n in rows}

    async def coexistence_closed(self, barrio_id: int, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
        """(kind, outcome, count) of the barrio's mediation, support and court cases closed in [since, until)."""
        rows = await self.session.execute(
            select(CoexistenceCase.kind, CoexistenceCase.outcome, func.count())
            .where(
                CoexistenceCase.barrio_id == barrio_id,
                CoexistenceCase.closed_at >= since,
                CoexistenceCase.closed_at < until,
            )
            .group_by(CoexistenceCase.kind, CoexistenceCase.outcome)
            .order_by(CoexistenceCase.kind, CoexistenceCase.outcome)
        )
        return [(kind, outcome or "", int(n)) for kind, outcome, n in rows]

    # ------------------------------------------------------------ residents' own digest

    async def digest_readers(self) -> list[tuple[Resident, int]]:
        """Residents who chose a weekly digest, with the circle they are a verified member of."""
        rows = await self.session.execute(
            select(Resident, Membership.circle_id)
            .join(Membership, Membership.resident_id == Resident.id)
            .where(Resident.weekly_digest, Resident.status == "active", Membership.status == MembershipStatus.VERIFIED)
            .order_by(Resident.id)
        )
        return [(resident, circle_id) for resident, circle_id in rows]

    async def held_notices(self, resident_id: int) -> list[HeldNotice]:
        """The notices waiting for this resident's digest, oldest first."""
        rows = await self.session.execute(
            select(NoticeDelivery.id, Notice.kind, Notice.texts, Notice.original_locale, Notice.created_at)
            .join(Notice, Notice.id == NoticeDelivery.notice_id)
            .where(NoticeDelivery.resident_id == resident_id, NoticeDelivery.status == "digest")
            .order_by(NoticeDelivery.id)
        )
        return [HeldNotice(int(i), kind, dict(texts), original, at) for i, kind, texts, original, at in rows]

    async def digested(self, delivery_ids: Sequence[int], now: datetime) -> None:
        """These deliveries went out inside a digest."""
        if delivery_ids:
            await self.session.execute(
                update(NoticeDelivery)
                .where(NoticeDelivery.id.in_(list(delivery_ids)), NoticeDelivery.status == "digest")
                .values(status="sent", sent_at=now)
            )

    async def circle_reports(self, circle_id: int, since: datetime, until: datetime) -> int:
        """How many reports were made about the circle in [since, until)."""
        query = select(func.count()).where(
            Case.circle_id == circle_id, Case.created_at >= since, Case.created_at < until
        )
        return int(await self.session.scalar(query) or 0)

    async def open_circle_polls(self, circle_id: int) -> list[tuple[str, datetime]]:
        """The circle's polls open for voting now: (question, closes at), soonest first."""
        election_polls = select(Election.poll_id).where(Election.poll_id.is_not(None))
        rows = await self.session.execute(
            select(Poll.question, Poll.closes_at)
            .where(Poll.scope_kind == "circle", Poll.scope_id == circle_id, Poll.status == "open",
                   Poll.id.not_in(election_polls))
            .order_by(Poll.closes_at)
        )  # fmt: skip
        return [(question, closes_at) for question, closes_at in rows]
