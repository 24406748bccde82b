"""The scheduler: APScheduler only ticks; due work lives in rows that each tick claims once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import metrics
from handlers.approvals import send_due_reminders
from handlers.cases import send_due_case_work
from handlers.coexistence_life import send_due_coexistence_work
from handlers.context import Services
from handlers.digests import send_due_digests
from handlers.election_life import send_due_election_work
from handlers.meeting_life import send_due_meeting_work
from handlers.notice_delivery import send_due_notice_work
from handlers.poll_ticks import send_due_poll_work

log = logging.getLogger(__name__)

UPDATE_RECORD_RETENTION = timedelta(days=7)


async def remind_pending_memberships(services: Services) -> int:
    """Tick: remind approvers and residents of memberships pending too long."""
    return await send_due_reminders(services)


async def follow_up_cases(services: Services) -> int:
    """Tick: case deadlines (reminders, escalations) and "is it fixed?" questions; mediation, support and court
    work (lapsed invitations, agreement checks, session reminders, content past its retention)."""
    return await send_due_case_work(services) + await send_due_coexistence_work(services)


async def run_polls(services: Services) -> int:
    """Tick: polls to open, remind, close and announce; proposals to expire; elections' nominations to close
    and terms that ended."""
    return await send_due_poll_work(services) + await send_due_election_work(services)


async def run_notices(services: Services) -> int:
    """Tick: scheduled notices to queue, and delivery reports for notices that have gone out."""
    return await send_due_notice_work(services)


async def send_digests(services: Services) -> int:
    """Tick: each barrio's weekly digest to its community managers and Governance Commission, once a week."""
    return await send_due_digests(services)


async def remind_meetings(services: Services) -> int:
    """Tick: meeting reminders 24 h and 1 h before, each claimed once."""
    return await send_due_meeting_work(services)


async def prune_update_records(services: Services) -> int:
    """Tick: forget update ids old enough that Telegram will never redeliver them."""
    async with services.db.unit_of_work() as uow:
        count = await uow.updates.prune(services.clock() - UPDATE_RECORD_RETENTION)
        await uow.commit()
    return count


def _record_lag(event: JobSubmissionEvent) -> None:
    """How late each tick started, for /metrics (a busy loop or a stalled process shows here first)."""
    for moment in event.scheduled_run_times:
        metrics.SCHEDULER_LAG.labels(tick=event.job_id).set(max(0.0, (datetime.now(UTC) - moment).total_seconds()))


def build_scheduler(services: Services, tick_seconds: float) -> AsyncIOScheduler:
    """An AsyncIOScheduler with Vecinos' ticks (start it inside the running event loop)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    # Every tick runs at once on start (catching up after downtime), then at its interval; notices tick at
    # least every 10 s so a scheduled notice goes out on time.
    ticks = (
        (remind_pending_memberships, "reminders", tick_seconds),
        (follow_up_cases, "cases", tick_seconds),
        (run_polls, "polls", tick_seconds),
        (run_notices, "notices", min(tick_seconds, 10.0)),
        (send_digests, "digests", tick_seconds),
        (remind_meetings, "meetings", tick_seconds),
    )
    for tick, name, seconds in ticks:
        scheduler.add_job(
            tick, "interval", seconds=seconds, args=[services], id=name, next_run_time=datetime.now(UTC), **options
        )
    scheduler.add_listener(_record_lag, EVENT_JOB_SUBMITTED)
    scheduler.add_job(prune_update_records, "interval", hours=6, args=[services], id="prune", **options)
    return scheduler
