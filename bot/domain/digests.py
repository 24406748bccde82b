"""Weekly digests: when each week's digest is due (Monday 08:00 in the district's time zone, whatever the
daylight-saving change did) and which week it covers. Pure rules over aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DIGEST_WEEKDAY = 0  # Monday
DIGEST_TIME = time(8, 0)
# How late a digest may still go out (after downtime). Later, the week's moment has passed: a digest that
# had nothing to say on Monday must not turn up on Thursday because something happened since.
DIGEST_GRACE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DigestWeek:
    """The week a digest covers, [since, until), until being the digest's own moment; `key` names it once."""

    key: str  # ISO year and week of `until`, e.g. 2026-W49
    since: datetime
    until: datetime


def digest_moment(now: datetime, zone: ZoneInfo) -> datetime:
    """The latest Monday 08:00 (local) at or before `now`, in UTC (so that differences count real hours)."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    moment = datetime.combine(monday, DIGEST_TIME, tzinfo=zone)
    if moment > local:
        moment = datetime.combine(monday - timedelta(days=7), DIGEST_TIME, tzinfo=zone)
    return moment.astimezone(UTC)


def due_week(now: datetime, zone: ZoneInfo) -> DigestWeek:
    """The week whose digest is due at `now`: the seven local days before the latest Monday 08:00 (a week of
    167 or 169 hours when the clocks changed in it)."""
    until = digest_moment(now, zone)
    local_until = until.astimezone(zone)
    since = datetime.combine(local_until.date() - timedelta(days=7), DIGEST_TIME, tzinfo=zone).astimezone(UTC)
    year, week, _ = local_until.isocalendar()
    return DigestWeek(f"{year}-W{week:02d}", since, until)


def still_due(week: DigestWeek, now: datetime) -> bool:
    """Whether the week's digest may still go out now (within a day of its moment)."""
    return week.until <= now < week.until + DIGEST_GRACE


def next_digest_at(now: datetime, zone: ZoneInfo) -> datetime:
    """When the next digest after `now` is due."""
    latest = digest_moment(now, zone).astimezone(zone)
    return datetime.combine(latest.date() + timedelta(days=7), DIGEST_TIME, tzinfo=zone).astimezone(UTC)
