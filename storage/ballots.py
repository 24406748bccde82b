"""The ballot box: who voted (`poll_participation`) and how (`poll_ballot`), written together and never linked.

A ballot row holds a random key, the choice and the receipt's hash: no voter, no time, no sequence. Casting
inserts the participation first with ON CONFLICT DO NOTHING, so of any number of concurrent taps (in one process
or several) exactly one adds a ballot. Nothing here logs a choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.domain.ballots import new_ballot_key
from storage.base import Repository, rowcount
from storage.models import PollBallot, PollParticipation

# Built once, on the tables rather than the mapped classes: casting is the hot path of a district poll, and
# the ORM's bulk-insert machinery and a fresh statement's cache key cost more than the inserts themselves.
_PARTICIPATION = PollParticipation.__table__
_BALLOT = PollBallot.__table__
_PARTICIPATE = {
    postgres: (pg_insert if postgres else sqlite_insert)(_PARTICIPATION)
    .values(poll_id=bindparam("poll_id"), resident_id=bindparam("resident_id"))
    .on_conflict_do_nothing(index_elements=["poll_id", "resident_id"])
    for postgres in (False, True)
}
_DROP_BALLOT = insert(_BALLOT).values(
    id=bindparam("id"),
    poll_id=bindparam("poll_id"),
    choice=bindparam("choice", type_=_BALLOT.c.choice.type),
    tracker_hash=bindparam("tracker_hash"),
)


@dataclass(frozen=True, slots=True)
class SealedBallot:
    """A ballot as published: the receipt's hash and the choice (option ids)."""

    tracker_hash: str
    choice: list[int]


class BallotBox(Repository):
    """Casting, checking and counting ballots."""

    async def cast(self, poll_id: int, resident_id: int, choice: Sequence[int], tracker_hash: str) -> bool:
        """Record that `resident_id` voted and, separately, their ballot; False (and nothing written) if they
        had voted already."""
        voter = {"poll_id": poll_id, "resident_id": resident_id}
        if rowcount(await self.session.execute(_PARTICIPATE[self.postgres], voter)) != 1:
            return False
        ballot = {"id": new_ballot_key(), "poll_id": poll_id, "choice": list(choice), "tracker_hash": tracker_hash}
        await self.session.execute(_DROP_BALLOT, ballot)
        return True

    async def has_voted(self, poll_id: int, resident_id: int) -> bool:
        """Whether a resident voted in a poll (never how)."""
        query = select(func.count()).where(
            PollParticipation.poll_id == poll_id, PollParticipation.resident_id == resident_id
        )
        return bool(await self.session.scalar(query))

    async def turnout(self, poll_id: int) -> int:
        """How many have voted."""
        query = select(func.count()).where(PollParticipation.poll_id == poll_id)
        return int(await self.session.scalar(query) or 0)

    async def ballot_count(self, poll_id: int) -> int:
        """How many ballots the box holds (always equal to the turnout)."""
        return int(await self.session.scalar(select(func.count()).where(PollBallot.poll_id == poll_id)) or 0)

    async def find(self, poll_id: int, tracker_hash: str) -> list[int] | None:
        """The choice of the ballot with this receipt hash, or None if there is none."""
        query = select(PollBallot.choice).where(PollBallot.poll_id == poll_id, PollBallot.tracker_hash == tracker_hash)
        choice = await self.session.scalar(query)
        return None if choice is None else list(choice)

    async def withdraw(self, poll_id: int, resident_id: int, tracker_hash: str) -> bool:
        """Take back a vote to cast it again: the voter shows their receipt (the box cannot tell which ballot
        is theirs). Both rows go, or neither."""
        if not await self.has_voted(poll_id, resident_id):
            return False
        removed = await self.session.execute(
            delete(PollBallot).where(PollBallot.poll_id == poll_id, PollBallot.tracker_hash == tracker_hash)
        )
        if rowcount(removed) != 1:
            return False
        await self.session.execute(
            delete(PollParticipation).where(
                PollParticipation.poll_id == poll_id, PollParticipation.resident_id == resident_id
            )
        )
        return True

    async def sealed(self, poll_id: int) -> list[SealedBallot]:
        """Every ballot of a poll, sorted by receipt hash (never in the order cast)."""
        query = (
            select(PollBallot.tracker_hash, PollBallot.choice)
            .where(PollBallot.poll_id == poll_id)
            .order_by(PollBallot.tracker_hash)
        )
        return [SealedBallot(r.tracker_hash, list(r.choice)) for r in (await self.session.execute(query)).all()]

    async def reseal(self, poll_id: int) -> None:
        """At close, rewrite the poll's ballots and participations in one transaction, ballots in hash order
        and participations in voter order, with fresh keys: on PostgreSQL the rows' physical places and
        transaction ids then say nothing about when each was cast (see README, "Who can see what")."""
        ballots = await self.sealed(poll_id)
        await self.session.execute(delete(PollBallot).where(PollBallot.poll_id == poll_id))
        if ballots:
            await self.session.execute(
                insert(PollBallot),
                [
                    {"id": new_ballot_key(), "poll_id": poll_id, "choice": b.choice, "tracker_hash": b.tracker_hash}
                    for b in ballots
                ],
            )
        voters = (
            await self.session.scalars(
                select(PollParticipation.resident_id)
                .where(PollParticipation.poll_id == poll_id)
                .order_by(PollParticipation.resident_id.nulls_first())
            )
        ).all()
        await self.session.execute(delete(PollParticipation).where(PollParticipation.poll_id == poll_id))
        if voters:
            await self.session.execute(
                insert(PollParticipation), [{"poll_id": poll_id, "resident_id": v} for v in voters]
            )
