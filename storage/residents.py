"""Residents and their personal data, including erasure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from bot.domain.residents import MembershipStatus, ResidentStatus
from storage.base import Repository
from storage.models import (
    Case,
    CaseFollower,
    Conversation,
    Meeting,
    MeetingAgendaItem,
    MeetingInvitee,
    Membership,
    Notice,
    NoticeDelivery,
    OutboxMessage,
    Poll,
    PollElector,
    PollParticipation,
    ProcessedUpdate,
    Proposal,
    ProposalSupport,
    Resident,
    RoleGrant,
)
from storage.pg_driver import insert_and_attach

# PostgreSQL: a new resident inserted on the driver's connection (storage/pg_driver.py).


class ResidentRepository(Repository):
    """Residents and their personal data."""

    async def by_telegram_id(self, telegram_user_id: int) -> Resident | None:
        """The resident with this Telegram user id, if registered."""
        return await self.session.scalar(select(Resident).where(Resident.telegram_user_id == telegram_user_id))

    async def get(self, resident_id: int) -> Resident | None:
        """One resident by id."""
        return await self.session.get(Resident, resident_id)

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Resident]:
        """Residents keyed by id."""
        if not ids:
            return {}
        rows = await self.session.scalars(select(Resident).where(Resident.id.in_(list(set(ids)))))
        return {r.id: r for r in rows}

    async def register(
        self,
        telegram_user_id: int,
        chat_id: int,
        first_name: str,
        locale: str,
        now: datetime,
        *,
        legal_basis: str = "consent",
    ) -> Resident:
        """Register a person: a resident who has just consented, or staff processed for a public task."""
        values = {
            "telegram_user_id": telegram_user_id,
            "chat_id": chat_id,
            "first_name": first_name,
            "locale": locale,
            "status": ResidentStatus.ACTIVE.value,
            "consent_at": now,
            "created_at": now,
            "unreachable_at": None,
            "legal_basis": legal_basis,
            "quiet_start": None,
            "quiet_end": None,
            "muted_kinds": None,
            "weekly_digest": False,
        }
        if self.postgres:
            # One INSERT on the driver's connection, the row then held by the session.
            return await insert_and_attach(self.session, self.statement_counts, Resident, values)
        resident = Resident(**values)
        self.session.add(resident)
        await self.session.flush()
        return resident

    async def change_language(self, resident: Resident, locale: str) -> None:
        """Write to this person in `locale` from now on."""
        resident.locale = locale
        await self.session.flush()

    async def set_quiet_hours(self, resident: Resident, start: int | None, end: int | None) -> None:
        """Quiet hours as minutes after local midnight (None, None: back to the default)."""
        resident.quiet_start, resident.quiet_end = start, end
        await self.session.flush()

    async def set_muted_kinds(self, resident: Resident, stored: str) -> None:
        """The kinds of notices this person muted (comma-separated; empty: none)."""
        resident.muted_kinds = stored or None
        await self.session.flush()

    async def set_weekly_digest(self, resident: Resident, chosen: bool) -> None:
        """Whether this person gets a Monday digest of their circle instead of separate notices."""
        resident.weekly_digest = chosen
        await self.session.flush()

    async def touch(self, resident: Resident, first_name: str, chat_id: int) -> None:
        """Keep name and chat in step with Telegram, and mark the resident reachable again."""
        if first_name and resident.first_name != first_name:
            resident.first_name = first_name
        if resident.chat_id != chat_id:
            resident.chat_id = chat_id
        if resident.status != ResidentStatus.ACTIVE:
            resident.status = ResidentStatus.ACTIVE
            resident.unreachable_at = None

    async def mark_unreachable(self, chat_id: int, now: datetime) -> None:
        """Remember that a chat blocked the bot, so nothing more is sent to it."""
        await self.session.execute(
            update(Resident)
            .where(Resident.chat_id == chat_id)
            .values(status=ResidentStatus.UNREACHABLE, unreachable_at=now)
        )

    async def erase(self, resident: Resident) -> None:
        """Delete a resident's personal data, keeping anonymous membership counts."""
        await self.session.execute(
            update(Membership)
            .where(Membership.resident_id == resident.id)
            .values(resident_id=None, status=MembershipStatus.ERASED, portal=None, building_id=None)
        )
        await self.session.execute(
            update(Membership).where(Membership.decided_by == resident.id).values(decided_by=None)
        )
        # Their reports stay for the neighbourhood, anonymous and unlinked; "me too"s go.
        await self.session.execute(
            update(Case).where(Case.reporter_id == resident.id).values(reporter_id=None, anonymous=True)
        )
        await self.session.execute(delete(CaseFollower).where(CaseFollower.resident_id == resident.id))
        # They stay counted where they voted (ballots equal participations), but nothing says it was them.
        await self.session.execute(
            update(PollParticipation).where(PollParticipation.resident_id == resident.id).values(resident_id=None)
        )
        await self.session.execute(delete(PollElector).where(PollElector.resident_id == resident.id))
        await self.session.execute(delete(ProposalSupport).where(ProposalSupport.resident_id == resident.id))
        await self.session.execute(update(Poll).where(Poll.created_by == resident.id).values(created_by=None))
        await self.session.execute(update(Proposal).where(Proposal.author_id == resident.id).values(author_id=None))
        await self.session.execute(
            delete(RoleGrant).where(
                or_(RoleGrant.resident_id == resident.id, RoleGrant.telegram_user_id == resident.telegram_user_id)
            )
        )
        await self.session.execute(
            delete(OutboxMessage).where(
                or_(
                    OutboxMessage.resident_id == resident.id,
                    OutboxMessage.about_resident_id == resident.id,
                    OutboxMessage.chat_id == resident.chat_id,
                )
            )
        )
        # Notices they were sent leave no trace of them; notices they wrote stay, by nobody.
        await self.session.execute(delete(NoticeDelivery).where(NoticeDelivery.resident_id == resident.id))
        await self.session.execute(update(Notice).where(Notice.author_id == resident.id).values(author_id=None))
        # Meetings: their invitations and answers go; meetings they called and items they proposed stay, by nobody.
        await self.session.execute(delete(MeetingInvitee).where(MeetingInvitee.resident_id == resident.id))
        await self.session.execute(update(Meeting).where(Meeting.organiser_id == resident.id).values(organiser_id=None))
        await self.session.execute(
            update(MeetingAgendaItem).where(MeetingAgendaItem.proposed_by == resident.id).values(proposed_by=None)
        )
        await self.session.execute(delete(Conversation).where(Conversation.chat_id == resident.chat_id))
        await self.session.execute(
            update(ProcessedUpdate)
            .where(ProcessedUpdate.chat_id == resident.chat_id)
            .values(chat_id=0, replies=None, delivered=True)
        )
        await self.session.delete(resident)
        await self.session.flush()
