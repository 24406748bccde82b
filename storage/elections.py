"""Elections: their phases, candidacies and results, and the seats of the bodies above the councils.

How anyone voted is not here: voting is a ranked poll in the ballot box (`storage.ballots`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, or_, select

from bot.domain.elections import CandidacyStatus, ElectionStatus, ElectorateKind, Office, Outcome
from bot.domain.permissions import Role
from bot.domain.permissions import ScopeKind as GrantScope
from bot.domain.residents import MembershipStatus
from storage.base import Repository
from storage.models import BodySeat, Candidacy, Election, Membership, Resident, RoleGrant
from storage.polls import council_members

ACTIVE = (ElectionStatus.NOMINATING, ElectionStatus.VOTING)
COMMISSION = "commission"  # a council's sectorial commission (body_seat.label: the sector)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who can be named on a ballot or nominated: id, name, where to reach them."""

    resident_id: int
    first_name: str
    chat_id: int
    locale: str


class ElectionRepository(Repository):
    """Elections, candidacies and body seats."""

    async def create(self, *, scope_kind: ElectorateKind, scope_id: int, office: Office, seats: int,
                     nominations_close_at: datetime, voting_closes_at: datetime, created_by: int | None,
                     now: datetime) -> Election:  # fmt: skip
        """A new election in its nominations phase."""
        election = Election(
            scope_kind=scope_kind,
            scope_id=scope_id,
            office=office,
            seats=seats,
            status=ElectionStatus.NOMINATING,
            created_by=created_by,
            created_at=now,
            nominations_close_at=nominations_close_at,
            voting_closes_at=voting_closes_at,
            due_at=nominations_close_at,
            lot_order=[],
        )
        self.session.add(election)
        await self.session.flush()
        return election

    async def get(self, election_id: int, *, lock: bool = False) -> Election | None:
        """One election, locked for update on PostgreSQL when asked."""
        query = select(Election).where(Election.id == election_id)
        if lock and self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def by_poll(self, poll_id: int) -> Election | None:
        """The election whose vote is this poll."""
        return await self.session.scalar(select(Election).where(Election.poll_id == poll_id))

    async def active_for(self, scope_kind: str, scope_id: int, office: str) -> Election | None:
        """The election under way for this electorate and office, if any (one at a time)."""
        query = select(Election).where(
            Election.scope_kind == scope_kind,
            Election.scope_id == scope_id,
            Election.office == office,
            Election.status.in_(ACTIVE),
        )
        return await self.session.scalar(query)

    async def under_way(self) -> set[tuple[str, int, str]]:
        """(electorate kind, id, office) of every election under way, in one query."""
        query = select(Election.scope_kind, Election.scope_id, Election.office).where(Election.status.in_(ACTIVE))
        return {(r[0], int(r[1]), r[2]) for r in (await self.session.execute(query)).all()}

    async def latest_elected(self, scope_kind: str, scope_id: int, office: str) -> Election | None:
        """The last election that elected someone for this electorate and office."""
        query = (
            select(Election)
            .where(
                Election.scope_kind == scope_kind,
                Election.scope_id == scope_id,
                Election.office == office,
                Election.status == ElectionStatus.ELECTED,
            )
            .order_by(Election.decided_at.desc(), Election.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)

    async def visible_to(self, circle_id: int | None, council_barrios: Sequence[int]) -> list[Election]:
        """Elections of a resident's circle and of the councils they sit in, newest first (the last 20)."""
        conditions = []
        if circle_id is not None:
            conditions.append(and_(Election.scope_kind == ElectorateKind.CIRCLE, Election.scope_id == circle_id))
        if council_barrios:
            conditions.append(
                and_(Election.scope_kind == ElectorateKind.COUNCIL, Election.scope_id.in_(list(council_barrios)))
            )
        if not conditions:
            return []
        query = select(Election).where(or_(*conditions)).order_by(Election.id.desc()).limit(20)
        return list((await self.session.scalars(query)).all())

    async def claim_due(self, now: datetime, limit: int) -> list[Election]:
        """Elections whose phase ends now (locked, skipping those another process holds)."""
        query = select(Election).where(Election.due_at <= now).order_by(Election.due_at).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return list((await self.session.scalars(query)).all())

    async def terms_ended(self, now: datetime, limit: int) -> list[int]:
        """Circles whose delegates' term has ended with no election since: a new one is due."""
        latest = Election.__table__.alias("latest")
        later = (
            select(Election.id)
            .where(
                Election.scope_kind == ElectorateKind.CIRCLE,
                Election.office == Office.DELEGATE,
                Election.scope_id == latest.c.scope_id,
                Election.id > latest.c.id,
            )
            .exists()
        )
        query = (
            select(latest.c.scope_id)
            .where(
                latest.c.scope_kind == ElectorateKind.CIRCLE,
                latest.c.office == Office.DELEGATE,
                latest.c.status == ElectionStatus.ELECTED,
                latest.c.term_ends_at <= now,
                ~later,
            )
            .distinct()
            .limit(limit)
        )
        return [int(c) for c in (await self.session.scalars(query)).all()]

    async def start_voting(self, election: Election, poll_id: int, lot_order: Sequence[int]) -> None:
        """The candidate list is final: the vote is open as `poll_id`."""
        election.status = ElectionStatus.VOTING
        election.poll_id = poll_id
        election.lot_order = list(lot_order)
        election.due_at = None  # the poll's close leads on

    async def decide(self, election: Election, now: datetime, term_ends_at: datetime | None) -> None:
        """Elected: the result is final."""
        election.status = ElectionStatus.ELECTED
        election.decided_at = now
        election.due_at = None
        election.term_ends_at = term_ends_at

    async def void(self, election: Election, now: datetime) -> None:
        """Nobody stood."""
        election.status = ElectionStatus.VOID
        election.decided_at = now
        election.due_at = None

    async def candidacies(self, election_id: int, *, statuses: Sequence[str] | None = None) -> list[Candidacy]:
        """An election's candidacies in the order they were made (or in the result's order once counted)."""
        query = select(Candidacy).where(Candidacy.election_id == election_id)
        if statuses is not None:
            query = query.where(Candidacy.status.in_(list(statuses)))
        query = query.order_by(Candidacy.place.is_(None), Candidacy.place, Candidacy.id)
        return list((await self.session.scalars(query)).all())

    async def candidacy(self, candidacy_id: int) -> Candidacy | None:
        """One candidacy."""
        return await self.session.get(Candidacy, candidacy_id)

    async def candidacy_of(self, election_id: int, resident_id: int) -> Candidacy | None:
        """A person's candidacy in an election."""
        query = select(Candidacy).where(Candidacy.election_id == election_id, Candidacy.resident_id == resident_id)
        return await self.session.scalar(query)

    async def nominate(self, election_id: int, person: Person, *, statement: str, status: CandidacyStatus,
                       nominated_by: int | None, now: datetime) -> Candidacy:  # fmt: skip
        """A candidacy: standing (self-nominated) or proposed (by someone else, until accepted)."""
        candidacy = Candidacy(
            election_id=election_id,
            resident_id=person.resident_id,
            name=person.first_name[:80],
            statement=statement,
            status=status,
            nominated_by=nominated_by,
            created_at=now,
        )
        self.session.add(candidacy)
        await self.session.flush()
        return candidacy

    async def stand(self, candidacy: Candidacy, statement: str | None = None) -> None:
        """The candidate stands (accepting a nomination, or standing again after withdrawing)."""
        candidacy.status = CandidacyStatus.STANDING
        if statement is not None:
            candidacy.statement = statement

    async def set_status(self, candidacy: Candidacy, status: CandidacyStatus) -> None:
        """Withdraw or decline."""
        candidacy.status = status

    async def record_outcome(self, candidacy: Candidacy, outcome: Outcome, place: int | None) -> None:
        """Where the count placed a candidate."""
        candidacy.outcome = outcome
        candidacy.place = place

    async def next_substitute(self, election_id: int) -> Candidacy | None:
        """The first substitute still waiting."""
        query = (
            select(Candidacy)
            .where(Candidacy.election_id == election_id, Candidacy.outcome == Outcome.SUBSTITUTE)
            .order_by(Candidacy.place)
            .limit(1)
        )
        return await self.session.scalar(query)

    async def seat_of(self, resident_id: int, scope_kind: str, scope_id: int, office: str) -> Candidacy | None:
        """A person's seat from the latest decided election of this electorate and office."""
        latest = await self.latest_elected(scope_kind, scope_id, office)
        if latest is None:
            return None
        candidacy = await self.candidacy_of(latest.id, resident_id)
        return candidacy if candidacy and candidacy.outcome in (Outcome.ELECTED, Outcome.REPLACED) else None

    # ------------------------------------------------------------ people

    async def circle_members(self, circle_id: int, *, offset: int = 0, limit: int = 8) -> tuple[list[Person], int]:
        """A page of a circle's verified members (by name) and how many there are."""
        base = (
            select(Resident.id, Resident.first_name, Resident.chat_id, Resident.locale)
            .join(Membership, Membership.resident_id == Resident.id)
            .where(
                Membership.circle_id == circle_id,
                Membership.status == MembershipStatus.VERIFIED,
                Resident.status == "active",
            )
        )
        total = int(await self.session.scalar(select(func.count()).select_from(base.subquery())) or 0)
        rows = (await self.session.execute(base.order_by(Resident.first_name, Resident.id).offset(offset)
                                           .limit(limit))).all()  # fmt: skip
        return [Person(r.id, r.first_name, r.chat_id, r.locale) for r in rows], total

    async def person(self, resident_id: int) -> Person | None:
        """Someone by resident id (active residents only)."""
        row = (
            await self.session.execute(
                select(Resident.id, Resident.first_name, Resident.chat_id, Resident.locale).where(
                    Resident.id == resident_id, Resident.status == "active"
                )
            )
        ).first()
        return Person(row.id, row.first_name, row.chat_id, row.locale) if row else None

    async def is_eligible(self, election: Election, resident_id: int) -> bool:
        """Whether a person may stand and vote in an election now (the poll freezes voters when it opens)."""
        if election.scope_kind == ElectorateKind.COUNCIL:
            query = select(exists(council_members(election.scope_id).where(RoleGrant.resident_id == resident_id)))
        else:
            query = select(
                exists().where(
                    Membership.circle_id == election.scope_id,
                    Membership.resident_id == resident_id,
                    Membership.status == MembershipStatus.VERIFIED,
                )
            )
        return bool(await self.session.scalar(query))

    async def council_barrios(self, resident_id: int) -> list[int]:
        """The barrios whose council this person sits in."""
        query = select(RoleGrant.scope_id).where(
            RoleGrant.resident_id == resident_id,
            RoleGrant.role == Role.COUNCIL_MEMBER,
            RoleGrant.scope == GrantScope.BARRIO,
        )
        return [int(b) for b in (await self.session.scalars(query)).all() if b is not None]

    async def council(self, barrio_id: int) -> list[Person]:
        """A barrio council's members, by name."""
        query = (
            select(Resident.id, Resident.first_name, Resident.chat_id, Resident.locale)
            .where(Resident.id.in_(council_members(barrio_id)), Resident.status == "active")
            .order_by(Resident.first_name, Resident.id)
        )
        return [Person(r.id, r.first_name, r.chat_id, r.locale) for r in (await self.session.execute(query)).all()]

    # ------------------------------------------------------------ bodies above the councils

    async def replace_elected_seats(self, body: Office, barrio_id: int, resident_ids: Sequence[int],
                                    election_id: int, now: datetime) -> None:  # fmt: skip
        """The seats a council elects in a body are now held by these people."""
        await self.session.execute(
            delete(BodySeat).where(BodySeat.body == body, BodySeat.barrio_id == barrio_id, BodySeat.source == "elected")
        )
        for resident_id in resident_ids:
            self.session.add(BodySeat(body=body, barrio_id=barrio_id, resident_id=resident_id, source="elected",
                                      label="", election_id=election_id, since=now))  # fmt: skip
        await self.session.flush()

    async def add_institution_seat(self, barrio_id: int, resident_id: int, label: str, now: datetime) -> None:
        """An institution's member of a barrio's Governance Commission (granted by an admin)."""
        self.session.add(BodySeat(body=Office.GOVERNANCE, barrio_id=barrio_id, resident_id=resident_id,
                                  source="institution", label=label[:120], since=now))  # fmt: skip
        await self.session.flush()

    async def add_commission_member(self, barrio_id: int, resident_id: int, sector: str, now: datetime) -> bool:
        """A council member the council chose for one of its sectorial commissions; False if already in it."""
        existing = await self.session.scalar(
            select(BodySeat.id).where(
                BodySeat.body == COMMISSION,
                BodySeat.barrio_id == barrio_id,
                BodySeat.resident_id == resident_id,
                BodySeat.label == sector,
            )
        )
        if existing is not None:
            return False
        self.session.add(BodySeat(body=COMMISSION, barrio_id=barrio_id, resident_id=resident_id, source="council",
                                  label=sector, since=now))  # fmt: skip
        await self.session.flush()
        return True

    async def body_seats(self, body: str, barrio_id: int | None = None) -> list[tuple[BodySeat, Person]]:
        """Who sits in the Forum (every barrio's representatives) or in one barrio's Governance Commission."""
        query = (
            select(BodySeat, Resident.id, Resident.first_name, Resident.chat_id, Resident.locale)
            .join(Resident, Resident.id == BodySeat.resident_id)
            .where(BodySeat.body == body)
            .order_by(BodySeat.barrio_id, BodySeat.source, BodySeat.id)
        )
        if barrio_id is not None:
            query = query.where(BodySeat.barrio_id == barrio_id)
        return [(r[0], Person(r[1], r[2], r[3], r[4])) for r in (await self.session.execute(query)).all()]

    async def drop_seats_of(self, resident_id: int, barrio_id: int) -> None:
        """Someone who left the council leaves the seats it elected them to."""
        await self.session.execute(
            delete(BodySeat).where(
                BodySeat.resident_id == resident_id, BodySeat.barrio_id == barrio_id, BodySeat.source == "elected"
            )
        )
