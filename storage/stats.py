"""What the managers' figures are computed from: a barrio's cases with their first acknowledgement and
resolution, the polls and elections that closed, and who may see a barrio's figures through a body seat."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select

from bot.domain.polls import PollStatus, ScopeKind
from bot.domain.reports import OPEN_STATES, CaseStatus
from bot.domain.stats import BallotFact, CaseFact
from storage.base import Repository
from storage.models import BodySeat, Case, CaseEvent, Circle, Poll, PollParticipation

GOVERNANCE = "governance"


class StatsRepository(Repository):
    """Read-only queries for the figures (`bot/domain/stats.py` does the arithmetic)."""

    async def case_facts(self, barrio_id: int, since: datetime, until: datetime) -> list[CaseFact]:
        """The barrio's cases created in [since, until) or open now, each with the moments it was first
        acknowledged and first resolved after it was created."""
        chosen = and_(
            Case.barrio_id == barrio_id,
            or_(
                and_(Case.created_at >= since, Case.created_at < until),
                Case.status.in_([s.value for s in OPEN_STATES]),
            ),
        )
        columns = (
            Case.id, Case.circle_id, Case.category, Case.sector, Case.status, Case.created_at, Case.acknowledge_by,
            Case.resolve_by, Case.supporters,
        )  # fmt: skip
        cases = list(await self.session.execute(select(*columns).where(chosen).order_by(Case.id)))
        # The first transition to each state at or after creation, from the history of the same cases (joined
        # rather than listed by id, so a barrio with thousands of open cases stays one bounded statement).
        moments = (
            select(CaseEvent.case_id, CaseEvent.to_status, func.min(CaseEvent.at))
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                chosen,
                CaseEvent.kind == "transition",
                CaseEvent.to_status.in_([CaseStatus.ACKNOWLEDGED.value, CaseStatus.RESOLVED.value]),
                CaseEvent.at >= Case.created_at,
            )
            .group_by(CaseEvent.case_id, CaseEvent.to_status)
        )
        firsts: dict[tuple[int, str], datetime] = {
            (case_id, status): at for case_id, status, at in await self.session.execute(moments)
        }
        return [
            CaseFact(
                case_id=c.id,
                circle_id=c.circle_id,
                category=c.category,
                sector=c.sector,
                status=c.status,
                created_at=c.created_at,
                acknowledge_by=c.acknowledge_by,
                resolve_by=c.resolve_by,
                supporters=c.supporters,
                first_acknowledged_at=_aware(firsts.get((c.id, CaseStatus.ACKNOWLEDGED.value))),
                first_resolved_at=_aware(firsts.get((c.id, CaseStatus.RESOLVED.value))),
            )
            for c in cases
        ]

    async def ballot_facts(self, barrio_id: int, since: datetime, until: datetime) -> list[BallotFact]:
        """Polls and election votes of the barrio (its own, its circles' and its council's) that closed in
        [since, until), with their participations and frozen electorate."""
        circle_ids = select(Circle.id).where(Circle.barrio_id == barrio_id)
        taking_part = (
            select(func.count(PollParticipation.id))
            .where(PollParticipation.poll_id == Poll.id)
            .correlate(Poll)
            .scalar_subquery()
        )
        query = (
            select(Poll.id, Poll.scope_kind, Poll.scope_id, Poll.office, Poll.eligible_count, taking_part)
            .where(
                Poll.status.in_([PollStatus.COUNTED.value, PollStatus.CLOSED.value]),
                Poll.closes_at >= since,
                Poll.closes_at < until,
                or_(
                    and_(Poll.scope_kind == ScopeKind.CIRCLE.value, Poll.scope_id.in_(circle_ids)),
                    and_(
                        Poll.scope_kind.in_([ScopeKind.BARRIO.value, ScopeKind.COUNCIL.value]),
                        Poll.scope_id == barrio_id,
                    ),
                ),
            )
            .order_by(Poll.id)
        )
        return [
            BallotFact(
                poll_id=poll_id,
                circle_id=scope_id if kind == ScopeKind.CIRCLE.value else None,
                election=office is not None,
                participations=int(participations or 0),
                electors=int(electors or 0),
            )
            for poll_id, kind, scope_id, office, electors, participations in await self.session.execute(query)
        ]

    async def governance_barrios(self, resident_id: int) -> list[int]:
        """The barrios whose Community Governance Commission this resident sits on."""
        query = (
            select(BodySeat.barrio_id)
            .where(BodySeat.body == GOVERNANCE, BodySeat.resident_id == resident_id)
            .distinct()
            .order_by(BodySeat.barrio_id)
        )
        return list((await self.session.execute(query)).scalars())


def _aware(moment: datetime | None) -> datetime | None:
    # Should an aggregate lose the column's type, SQLite hands back a naive UTC datetime or even text.
    if moment is None or (isinstance(moment, datetime) and moment.tzinfo is not None):
        return moment
    parsed = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
