"""Coexistence cases (mediation, support, community courts), their confidential threads and sessions, and the
anonymous outcome counts that outlive them."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update

from bot.domain.coexistence import OPEN_STATUSES, Answer, Kind, Outcome, Party, Status, case_reference, other_party
from bot.domain.reports import OPEN_STATES
from bot.domain.residents import MembershipStatus
from storage.base import Repository
from storage.models import (
    Case,
    CaseEvent,
    CaseFollower,
    CasePhoto,
    Circle,
    CoexistenceCase,
    CoexistenceMessage,
    CoexistenceOutcomeCount,
    CoexistenceSession,
    Membership,
    OutboxMessage,
    Resident,
)


def outbox_ref(coexistence_id: int, part: str = "") -> str:
    """The outbox ref of a case's messages ("coex:12"), or of one part of it ("coex:12:invite"), so they can
    be withdrawn and deleted with the case's content."""
    return f"coex:{coexistence_id}" + (f":{part}" if part else "")


class CoexistenceRepository(Repository):
    """Coexistence cases and their content."""

    async def open(
        self,
        kind: Kind,
        barrio_id: int,
        status: Status,
        now: datetime,
        *,
        case_id: int | None = None,
        opened_by: int | None = None,
        handler_id: int | None = None,
        party_a_id: int | None = None,
        anonymous: bool = False,
    ) -> CoexistenceCase:
        """A new case, with its reference (MED-0001) once it has an id."""
        row = CoexistenceCase(
            ref=f"new-{secrets.token_hex(6)}",  # unique until the id gives it its real one
            kind=kind.value,
            barrio_id=barrio_id,
            case_id=case_id,
            status=status.value,
            opened_by=opened_by,
            handler_id=handler_id,
            party_a_id=party_a_id,
            anonymous=anonymous,
            a_named=False,
            opened_at=now,
            updated_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        row.ref = case_reference(kind, row.id)
        return row

    async def get(self, coexistence_id: int, *, lock: bool = False) -> CoexistenceCase | None:
        """One case (locked for update on PostgreSQL when asked)."""
        query = select(CoexistenceCase).where(CoexistenceCase.id == coexistence_id)
        if lock and self.postgres:
            query = query.with_for_update()
        return (await self.session.scalars(query)).first()

    async def by_invite(self, invite_hash: str, *, lock: bool = False) -> CoexistenceCase | None:
        """The case a live invitation token belongs to."""
        query = select(CoexistenceCase).where(CoexistenceCase.invite_hash == invite_hash)
        if lock and self.postgres:
            query = query.with_for_update()
        return (await self.session.scalars(query)).first()

    async def for_report(self, case_id: int) -> CoexistenceCase | None:
        """The open coexistence case opened from a report, if any."""
        query = select(CoexistenceCase).where(
            CoexistenceCase.case_id == case_id, CoexistenceCase.status.in_([s.value for s in OPEN_STATUSES])
        )
        return (await self.session.scalars(query.order_by(CoexistenceCase.id.desc()))).first()

    async def latest_for_report(self, case_id: int) -> CoexistenceCase | None:
        """The latest coexistence case opened from a report, whatever its state."""
        query = select(CoexistenceCase).where(CoexistenceCase.case_id == case_id)
        return (await self.session.scalars(query.order_by(CoexistenceCase.id.desc()).limit(1))).first()

    async def reports_in_a_process(self, case_ids: Sequence[int]) -> set[int]:
        """Which of these reports went to a mediation or a community court (whatever became of it)."""
        if not case_ids:
            return set()
        query = select(CoexistenceCase.case_id).where(CoexistenceCase.case_id.in_(list(case_ids))).distinct()
        return {case_id for case_id in (await self.session.scalars(query)) if case_id is not None}

    async def of_person(self, resident_id: int, *, open_only: bool = True) -> Sequence[CoexistenceCase]:
        """The cases this person is a party to or handles, newest first."""
        query = select(CoexistenceCase).where(
            or_(
                CoexistenceCase.party_a_id == resident_id,
                CoexistenceCase.party_b_id == resident_id,
                CoexistenceCase.handler_id == resident_id,
            )
        )
        if open_only:
            query = query.where(CoexistenceCase.status.in_([s.value for s in OPEN_STATUSES]))
        return (await self.session.scalars(query.order_by(CoexistenceCase.id.desc()))).all()

    async def in_barrios(
        self, barrio_ids: Sequence[int] | None, *, open_only: bool = True, limit: int = 30
    ) -> Sequence[CoexistenceCase]:
        """The cases of these barrios (None: all), newest first."""
        query = select(CoexistenceCase)
        if barrio_ids is not None:
            query = query.where(CoexistenceCase.barrio_id.in_(list(barrio_ids)))
        if open_only:
            query = query.where(CoexistenceCase.status.in_([s.value for s in OPEN_STATUSES]))
        return (await self.session.scalars(query.order_by(CoexistenceCase.id.desc()).limit(limit))).all()

    async def touch(self, row: CoexistenceCase, now: datetime, **values: object) -> None:
        """Change a case's columns."""
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        await self.session.flush()

    async def residents_named(
        self, barrio_id: int, fragment: str, *, exclude: Sequence[int] = (), limit: int = 8
    ) -> list[tuple[Resident, str]]:
        """Active residents of the barrio's circles whose first name contains `fragment`, with their circle."""
        pattern = "%" + fragment.strip().replace("%", "").replace("_", "").lower() + "%"
        query = (
            select(Resident, Circle.name)
            .join(Membership, Membership.resident_id == Resident.id)
            .join(Circle, Circle.id == Membership.circle_id)
            .where(
                Circle.barrio_id == barrio_id,
                Membership.status.in_([MembershipStatus.VERIFIED, MembershipStatus.PENDING]),
                func.lower(Resident.first_name).like(pattern),
                Resident.status == "active",
                Resident.id.not_in(list(exclude) or [0]),
            )
            .order_by(Resident.first_name, Resident.id)
            .limit(limit)
        )
        return [(resident, circle) for resident, circle in (await self.session.execute(query)).all()]

    async def lives_in_barrio(self, resident_id: int, barrio_id: int) -> bool:
        """Whether the resident belongs (or asked to belong) to a circle of the barrio."""
        query = (
            select(func.count())
            .select_from(Membership)
            .join(Circle, Circle.id == Membership.circle_id)
            .where(
                Membership.resident_id == resident_id,
                Circle.barrio_id == barrio_id,
                Membership.status.in_([MembershipStatus.VERIFIED, MembershipStatus.PENDING]),
            )
        )
        return bool(await self.session.scalar(query))

    # ------------------------------------------------------------ the thread

    async def add_message(
        self, row: CoexistenceCase, author: Party, recipient: Party, text: str, now: datetime, *, shared: bool = False
    ) -> CoexistenceMessage:
        """Record one message of the confidential thread."""
        message = CoexistenceMessage(
            coexistence_id=row.id, at=now, author=author.value, recipient=recipient.value, text=text, shared=shared
        )
        self.session.add(message)
        await self.session.flush()
        return message

    async def message(self, message_id: int) -> CoexistenceMessage | None:
        """One message."""
        return await self.session.get(CoexistenceMessage, message_id)

    async def messages(self, coexistence_id: int) -> Sequence[CoexistenceMessage]:
        """The whole thread, oldest first."""
        query = select(CoexistenceMessage).where(CoexistenceMessage.coexistence_id == coexistence_id)
        return (await self.session.scalars(query.order_by(CoexistenceMessage.id))).all()

    # ------------------------------------------------------------ sessions

    async def propose_session(
        self, row: CoexistenceCase, at: datetime, place: str, now: datetime
    ) -> CoexistenceSession:
        """A session proposed to the parties (earlier proposals still unanswered are dropped)."""
        await self.session.execute(
            update(CoexistenceSession)
            .where(CoexistenceSession.coexistence_id == row.id, CoexistenceSession.status == "proposed")
            .values(status="off")
        )
        session = CoexistenceSession(coexistence_id=row.id, at=at, place=place, status="proposed")
        self.session.add(session)
        row.updated_at = now
        await self.session.flush()
        return session

    async def answer_session(self, session: CoexistenceSession, party: Party, answer: Answer) -> None:
        """Record one party's answer to a proposed session."""
        if party is Party.A:
            session.a_answer = answer.value
        else:
            session.b_answer = answer.value
        await self.session.flush()

    async def agree_session(self, session: CoexistenceSession, remind_at: datetime | None) -> None:
        """Both sides said yes: the session is on, with its reminder."""
        session.status = "agreed"
        session.remind_at = remind_at
        await self.session.flush()

    async def session_by_id(self, session_id: int) -> CoexistenceSession | None:
        """One session."""
        return await self.session.get(CoexistenceSession, session_id)

    async def sessions(self, coexistence_id: int) -> Sequence[CoexistenceSession]:
        """A case's sessions, by time."""
        query = select(CoexistenceSession).where(CoexistenceSession.coexistence_id == coexistence_id)
        return (await self.session.scalars(query.order_by(CoexistenceSession.at))).all()

    async def due_session_reminders(self, now: datetime, limit: int = 100) -> Sequence[CoexistenceSession]:
        """Agreed sessions whose day-before reminder is due (claimed by clearing it)."""
        query = select(CoexistenceSession).where(
            CoexistenceSession.remind_at <= now, CoexistenceSession.status == "agreed"
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        rows = (await self.session.scalars(query.limit(limit))).all()
        for session in rows:
            session.remind_at = None
        return rows

    # ------------------------------------------------------------ the scheduler's work

    async def _due(self, column, now: datetime, limit: int) -> Sequence[CoexistenceCase]:  # type: ignore[no-untyped-def]
        query = select(CoexistenceCase).where(column <= now).order_by(column).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).all()

    async def due_invite_lapses(self, now: datetime, limit: int = 100) -> Sequence[CoexistenceCase]:
        """Invitations never answered, even after the reminder: the handler decides."""
        return await self._due(CoexistenceCase.invite_lapse_at, now, limit)

    async def due_checks(self, now: datetime, limit: int = 100) -> Sequence[CoexistenceCase]:
        """Agreements whose "is it holding?" check is due."""
        return await self._due(CoexistenceCase.check_at, now, limit)

    async def due_purges(self, closed_before: datetime, limit: int = 100) -> Sequence[CoexistenceCase]:
        """Closed cases whose content has been kept long enough."""
        return await self._due(CoexistenceCase.closed_at, closed_before, limit)

    # ------------------------------------------------------------ the end

    async def close(self, row: CoexistenceCase, outcome: Outcome, now: datetime, month: str) -> None:
        """Close a case with its outcome, and count it (by barrio, kind and month, no names)."""
        row.status = Status.CLOSED.value
        row.outcome = outcome.value
        row.closed_at = now
        row.updated_at = now
        row.invite_hash = None
        row.invite_lapse_at = None
        row.check_at = None
        await self.session.execute(
            update(CoexistenceSession)
            .where(CoexistenceSession.coexistence_id == row.id, CoexistenceSession.status != "off")
            .values(remind_at=None)
        )
        key = {"barrio_id": row.barrio_id, "kind": row.kind, "outcome": outcome.value, "month": month}
        statement = self._insert(CoexistenceOutcomeCount).values(**key, count=1)
        statement = statement.on_conflict_do_update(
            index_elements=["barrio_id", "kind", "outcome", "month"],
            set_={"count": CoexistenceOutcomeCount.count + 1},
        )
        await self.session.execute(statement)
        await self.withdraw_unsent(row.id)
        await self.session.flush()

    async def withdraw_unsent(self, coexistence_id: int, part: str = "") -> None:
        """Never send what is still waiting in the outbox for this case (or one part of it)."""
        refs = [outbox_ref(coexistence_id, part)] if part else None
        condition = (
            OutboxMessage.ref.in_(refs)
            if refs
            else or_(
                OutboxMessage.ref == outbox_ref(coexistence_id),
                OutboxMessage.ref.like(outbox_ref(coexistence_id) + ":%"),
            )
        )
        await self.session.execute(
            update(OutboxMessage).where(condition, OutboxMessage.status == "pending").values(status="withdrawn")
        )

    async def delete_invitation(self, coexistence_id: int) -> None:
        """Forget an invitation's messages (sent or waiting): nothing about an invitee who did not join stays."""
        await self.session.execute(
            delete(OutboxMessage).where(OutboxMessage.ref == outbox_ref(coexistence_id, "invite"))
        )

    async def purge(self, row: CoexistenceCase) -> None:
        """Delete everything a closed case said (its thread, sessions, agreement and their copies in the
        outbox): only its anonymous outcome count remains. The report it came from goes too, once that report is
        closed and no later process took it up: its text, photos, place, who made it and who followed it, the
        questions and answers about it, and the cards that carried it to staff."""
        ref = outbox_ref(row.id)
        await self.session.execute(
            delete(OutboxMessage).where(or_(OutboxMessage.ref == ref, OutboxMessage.ref.like(ref + ":%")))
        )
        if row.case_id is not None:
            await self._forget_report(row)
        await self.session.execute(delete(CoexistenceMessage).where(CoexistenceMessage.coexistence_id == row.id))
        await self.session.execute(delete(CoexistenceSession).where(CoexistenceSession.coexistence_id == row.id))
        await self.session.delete(row)
        await self.session.flush()

    async def _forget_report(self, row: CoexistenceCase) -> None:
        case = await self.session.get(Case, row.case_id)
        later = await self.session.scalar(
            select(func.count()).where(CoexistenceCase.case_id == row.case_id, CoexistenceCase.id > row.id)
        )
        if case is None or case.status in OPEN_STATES or later:
            return  # the report carries on through the ordinary procedure, or another process holds it
        await self.session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(text="", reporter_id=None, anonymous=True, latitude=None, longitude=None, address=None)
        )
        await self.session.execute(delete(CasePhoto).where(CasePhoto.case_id == case.id))
        await self.session.execute(delete(CaseFollower).where(CaseFollower.case_id == case.id))
        await self.session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(["question", "answer"]))
            .values(note=None)
        )
        await self.session.execute(delete(OutboxMessage).where(OutboxMessage.ref == f"case:{case.id}"))

    async def remove_party(self, row: CoexistenceCase, party: Party) -> None:
        """A party's part of a case, deleted at once (their /forget): their messages both ways, and them."""
        # Their words: what they wrote, what was written to them, and what the handler shared of theirs.
        shared_of_theirs = and_(CoexistenceMessage.shared, CoexistenceMessage.recipient == other_party(party).value)
        await self.session.execute(
            delete(CoexistenceMessage).where(
                CoexistenceMessage.coexistence_id == row.id,
                or_(
                    CoexistenceMessage.author == party.value,
                    CoexistenceMessage.recipient == party.value,
                    shared_of_theirs,
                ),
            )
        )
        await self.session.execute(delete(OutboxMessage).where(OutboxMessage.ref == outbox_ref(row.id, party.value)))
        if party is Party.A:
            row.party_a_id = None
            row.agreement_a = None
        else:
            row.party_b_id = None
            row.agreement_b = None
        await self.session.flush()

    async def outcome_counts(self, barrio_id: int | None = None, since_month: str | None = None) -> list[tuple]:
        """(barrio id, kind, outcome, count) summed over months from `since_month`; no names anywhere."""
        query = select(
            CoexistenceOutcomeCount.barrio_id,
            CoexistenceOutcomeCount.kind,
            CoexistenceOutcomeCount.outcome,
            func.sum(CoexistenceOutcomeCount.count),
        ).group_by(CoexistenceOutcomeCount.barrio_id, CoexistenceOutcomeCount.kind, CoexistenceOutcomeCount.outcome)
        if barrio_id is not None:
            query = query.where(CoexistenceOutcomeCount.barrio_id == barrio_id)
        if since_month is not None:
            query = query.where(CoexistenceOutcomeCount.month >= since_month)
        rows = await self.session.execute(query.order_by(*query.selected_columns[:3]))
        return [(b, k, o, int(n)) for b, k, o, n in rows]
