"""Meetings: the meeting, its invitees frozen when it is called (with their answers), its agenda, its minutes,
and the scheduler's due reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, insert, literal, or_, select, update

from bot.domain.meetings import MeetingBody, MeetingStatus
from bot.domain.residents import MembershipStatus, ResidentStatus
from storage.base import Repository, rowcount
from storage.models import BodySeat, Meeting, MeetingAgendaItem, MeetingInvitee, Membership, Resident
from storage.polls import council_members


@dataclass(frozen=True, slots=True)
class Invitee:
    """Someone invited, where and in which language to reach them, and their answer so far."""

    resident_id: int
    chat_id: int
    locale: str
    status: str
    rsvp: str | None


def body_members(body: MeetingBody, scope_id: int | None) -> Select[tuple[int]]:
    """Who belongs to the meeting's body now, as a SELECT of resident ids."""
    if body is MeetingBody.CIRCLE:
        return (
            select(Membership.resident_id)
            .where(
                Membership.circle_id == scope_id,
                Membership.status == MembershipStatus.VERIFIED,
                Membership.resident_id.is_not(None),
            )
            .distinct()
        )
    if body is MeetingBody.COUNCIL:
        return council_members(scope_id)
    query = select(BodySeat.resident_id).where(BodySeat.body == body.value, BodySeat.resident_id.is_not(None))
    if body is MeetingBody.GOVERNANCE:
        query = query.where(BodySeat.barrio_id == scope_id)
    return query.distinct()


class MeetingRepository(Repository):
    """Meetings, invitees, agenda items."""

    async def create(self, *, body: MeetingBody, scope_id: int | None, barrio_id: int | None, title: str,
                     place: str, starts_at: datetime, minutes: int, organiser_id: int | None,
                     remind_at: datetime | None, now: datetime) -> Meeting:  # fmt: skip
        """Store a scheduled meeting (its invitees come with `invite_members`)."""
        meeting = Meeting(
            body=body.value,
            scope_id=scope_id,
            barrio_id=barrio_id,
            title=title,
            place=place,
            starts_at=starts_at,
            minutes=minutes,
            status=MeetingStatus.SCHEDULED.value,
            sequence=0,
            organiser_id=organiser_id,
            created_at=now,
            remind_at=remind_at,
        )
        self.session.add(meeting)
        await self.session.flush()
        return meeting

    async def members_count(self, body: MeetingBody, scope_id: int | None) -> int:
        """How many people belong to a body now (to tell an organiser before they confirm)."""
        members = body_members(body, scope_id).subquery()
        active = select(func.count()).where(
            Resident.id.in_(select(members.c.resident_id)), Resident.status == ResidentStatus.ACTIVE
        )
        return int(await self.session.scalar(active) or 0)

    async def invite_members(self, meeting: Meeting) -> int:
        """Freeze the invitees: every current member of the body, in one INSERT ... SELECT."""
        members = body_members(MeetingBody(meeting.body), meeting.scope_id).subquery()
        chosen = select(literal(meeting.id), Resident.id).where(
            Resident.id.in_(select(members.c.resident_id)), Resident.status == ResidentStatus.ACTIVE
        )
        result = await self.session.execute(insert(MeetingInvitee).from_select(["meeting_id", "resident_id"], chosen))
        return rowcount(result)

    async def get(self, meeting_id: int, *, lock: bool = False) -> Meeting | None:
        """One meeting, locked for update on PostgreSQL when asked."""
        query = select(Meeting).where(Meeting.id == meeting_id)
        if lock and self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def invitees(self, meeting_id: int) -> list[Invitee]:
        """Everyone invited, with their answers, by resident id."""
        query = (
            select(Resident.id, Resident.chat_id, Resident.locale, Resident.status, MeetingInvitee.rsvp)
            .join(MeetingInvitee, MeetingInvitee.resident_id == Resident.id)
            .where(MeetingInvitee.meeting_id == meeting_id)
            .order_by(Resident.id)
        )
        return [Invitee(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in (await self.session.execute(query)).all()]

    async def is_invited(self, meeting_id: int, resident_id: int) -> bool:
        """Whether a resident is among a meeting's invitees."""
        found = await self.session.scalar(
            select(MeetingInvitee.id).where(
                MeetingInvitee.meeting_id == meeting_id, MeetingInvitee.resident_id == resident_id
            )
        )
        return found is not None

    async def answer(self, meeting_id: int, resident_id: int, rsvp: str, now: datetime) -> bool:
        """Record an invitee's answer (a new tap replaces the old one); False if they are not invited."""
        result = await self.session.execute(
            update(MeetingInvitee)
            .where(MeetingInvitee.meeting_id == meeting_id, MeetingInvitee.resident_id == resident_id)
            .values(rsvp=rsvp, answered_at=now)
        )
        return rowcount(result) > 0

    async def counts(self, meeting_id: int) -> dict[str, int]:
        """Answers so far: yes, no, maybe and none (not answered), and the total invited."""
        rows = (
            await self.session.execute(
                select(MeetingInvitee.rsvp, func.count())
                .where(MeetingInvitee.meeting_id == meeting_id)
                .group_by(MeetingInvitee.rsvp)
            )
        ).all()
        counts = {"yes": 0, "no": 0, "maybe": 0, "none": 0}
        for rsvp, n in rows:
            counts[rsvp or "none"] = int(n)
        counts["invited"] = sum(counts.values())
        return counts

    async def agenda(self, meeting_id: int) -> list[MeetingAgendaItem]:
        """The agenda, in the order items were added."""
        query = select(MeetingAgendaItem).where(MeetingAgendaItem.meeting_id == meeting_id)
        return list((await self.session.scalars(query.order_by(MeetingAgendaItem.id))).all())

    async def add_agenda_item(self, meeting_id: int, text: str, proposed_by: int | None, now: datetime) -> None:
        """Add an item to a meeting's agenda."""
        self.session.add(MeetingAgendaItem(meeting_id=meeting_id, text=text, proposed_by=proposed_by, created_at=now))
        await self.session.flush()

    async def reschedule(self, meeting: Meeting, *, starts_at: datetime, place: str,
                         remind_at: datetime | None) -> None:  # fmt: skip
        """A new time or place: the calendar SEQUENCE goes up so calendars replace the event. A new time asks
        everyone again: an answer was for the old one (a no then must not keep the reminder from them now)."""
        if starts_at != meeting.starts_at:
            await self.session.execute(
                update(MeetingInvitee)
                .where(MeetingInvitee.meeting_id == meeting.id)
                .values(rsvp=None, answered_at=None)
            )
        meeting.starts_at = starts_at
        meeting.place = place
        meeting.remind_at = remind_at
        meeting.sequence += 1
        await self.session.flush()

    async def cancel(self, meeting: Meeting) -> None:
        """Call the meeting off: no more reminders, and a higher SEQUENCE for the cancelling event."""
        meeting.status = MeetingStatus.CANCELLED.value
        meeting.remind_at = None
        meeting.sequence += 1
        await self.session.flush()

    async def publish_minutes(self, meeting: Meeting, text: str, poll_id: int | None, now: datetime) -> None:
        """Store the chair's minutes (and the poll a decision in them refers to)."""
        meeting.minutes_text = text
        meeting.minutes_poll_id = poll_id
        meeting.minutes_at = now
        await self.session.flush()

    async def claim_due_reminders(self, now: datetime, limit: int = 20) -> list[Meeting]:
        """Meetings whose next reminder is due (each claimed by one scheduler on PostgreSQL)."""
        query = select(Meeting).where(Meeting.remind_at <= now).order_by(Meeting.remind_at).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return list((await self.session.scalars(query)).all())

    async def set_next_reminder(self, meeting: Meeting, remind_at: datetime | None) -> None:
        """The claimed reminder went (or was skipped): the next one is due then."""
        meeting.remind_at = remind_at
        await self.session.flush()

    async def upcoming_for(self, resident_id: int, now: datetime, limit: int = 10) -> list[tuple[Meeting, str | None]]:
        """Scheduled meetings not yet over that a resident is invited to or organises, with their answer."""
        invited = select(MeetingInvitee.rsvp).where(
            MeetingInvitee.meeting_id == Meeting.id, MeetingInvitee.resident_id == resident_id
        )
        query = (
            select(Meeting, invited.scalar_subquery().label("rsvp"))
            .where(
                Meeting.status == MeetingStatus.SCHEDULED.value,
                Meeting.starts_at >= now,
                or_(Meeting.organiser_id == resident_id, invited.exists()),
            )
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(query)).all()]

    async def awaiting_minutes(self, organiser_id: int, now: datetime, since: datetime) -> list[Meeting]:
        """Meetings an organiser held (started since `since`) whose minutes are not published yet."""
        query = select(Meeting).where(
            Meeting.organiser_id == organiser_id,
            Meeting.status == MeetingStatus.SCHEDULED.value,
            Meeting.starts_at <= now,
            Meeting.starts_at >= since,
            Meeting.minutes_at.is_(None),
        )
        return list((await self.session.scalars(query.order_by(Meeting.starts_at))).all())

    async def ahead(self, barrio_id: int, since: datetime, until: datetime) -> list[Meeting]:
        """A barrio's scheduled meetings (its circles' and its bodies') starting in [since, until)."""
        query = select(Meeting).where(
            Meeting.barrio_id == barrio_id,
            Meeting.status == MeetingStatus.SCHEDULED.value,
            Meeting.starts_at >= since,
            Meeting.starts_at < until,
        )
        return list((await self.session.scalars(query.order_by(Meeting.starts_at, Meeting.id))).all())
