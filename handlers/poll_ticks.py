"""The polls' tick and closing a poll at once: opening, reminding, closing, counting and announcing (the
poll's own steps, in `handlers.poll_schedule`), with what depends on a count: proposals that expire and
elections whose vote it was. Kept apart so that polls know nothing of proposals or elections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.polls import PollStatus
from handlers.context import Services
from handlers.election_life import finish_vote
from handlers.poll_schedule import announce_result, close_poll, open_poll, remind_non_voters
from handlers.proposals import expire_proposals
from storage.models import Poll
from storage.uow import UnitOfWork


async def send_due_poll_work(services: Services, limit: int = 20) -> int:
    """Tick: open scheduled polls, remind non-voters, close and count polls whose time is up, announce."""
    now = services.clock()
    to_announce: list[int] = []
    queued = 0
    async with services.db.unit_of_work() as uow:
        for poll in await uow.polls.claim_due(now, limit):
            status = PollStatus(poll.status)
            if status is PollStatus.SCHEDULED and poll.opens_at <= now:
                queued += await open_poll(uow, services.catalogs, poll, now)
            elif status is PollStatus.OPEN and poll.closes_at <= now:
                result = await close_poll(uow, poll, now)
                queued += await _finish_election(services, uow, poll, result, now)
                to_announce.append(poll.id)
            elif status is PollStatus.OPEN and poll.remind_at is not None and not poll.reminded:
                if poll.remind_at <= now:
                    queued += await remind_non_voters(uow, services.catalogs, poll, now)
            elif status is PollStatus.COUNTED:
                to_announce.append(poll.id)
        queued += await expire_proposals(uow, services.catalogs, now)
        await uow.commit()
    if queued:
        services.on_outbox()
    for poll_id in to_announce:
        queued += await announce_result(services, poll_id)
    return queued


async def _finish_election(
    services: Services, uow: UnitOfWork, poll: Poll, result: dict[str, Any], now: datetime
) -> int:
    """An election's vote is counted: its winners take their seats in the same transaction."""
    if poll.office is None:
        return 0
    return await finish_vote(uow, services.catalogs, poll, result, now, services.elections)


async def close_now(services: Services, poll_id: int) -> dict[str, Any] | None:
    """Close a poll at once (the command line): count, then announce. None if there is no such open poll."""
    now = services.clock()
    async with services.db.unit_of_work() as uow:
        poll = await uow.polls.get(poll_id, lock=True)
        if poll is None or poll.status != PollStatus.OPEN:
            return None
        await uow.polls.close_now(poll, now)
        result = await close_poll(uow, poll, now)
        await _finish_election(services, uow, poll, result, now)
        await uow.commit()
    await announce_result(services, poll_id)
    return result
