"""When weekly digests are due and which week they cover, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digests import digest_moment, due_week, next_digest_at, still_due

MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("now", "moment_utc"),
    [
        (datetime(2026, 12, 7, 7, 0, tzinfo=UTC), datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),  # Monday 08:00 CET
        (datetime(2026, 12, 7, 6, 59, tzinfo=UTC), datetime(2026, 11, 30, 7, 0, tzinfo=UTC)),  # a minute before
        (datetime(2026, 12, 10, 12, 0, tzinfo=UTC), datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),  # Thursday
        (datetime(2026, 6, 8, 6, 0, tzinfo=UTC), datetime(2026, 6, 8, 6, 0, tzinfo=UTC)),  # 08:00 CEST
        (datetime(2026, 10, 26, 7, 0, tzinfo=UTC), datetime(2026, 10, 26, 7, 0, tzinfo=UTC)),  # after the change
    ],
)
def test_the_digest_is_due_on_monday_at_eight_local_time(now, moment_utc):
    assert digest_moment(now, MADRID) == moment_utc


def test_a_week_across_the_october_change_has_169_hours():
    week = due_week(datetime(2026, 10, 26, 9, 0, tzinfo=UTC), MADRID)
    assert week.key == "2026-W44"
    assert week.until - week.since == timedelta(hours=169)
    assert week.since.astimezone(MADRID).hour == 8 and week.until.astimezone(MADRID).hour == 8


def test_the_next_digest_follows_the_due_one_by_a_local_week():
    now = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # the week of the March change
    assert next_digest_at(now, MADRID).astimezone(MADRID) == datetime(2026, 3, 30, 8, 0, tzinfo=MADRID)
    assert next_digest_at(now, MADRID) - digest_moment(now, MADRID) == timedelta(hours=167)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 11, 30, 7, 0, tzinfo=UTC), True),  # Monday 08:00 in Madrid
        (datetime(2026, 12, 1, 6, 59, tzinfo=UTC), True),  # caught up within a day
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), False),  # Tuesday 08:00: that week's moment has passed
        (datetime(2026, 12, 3, 12, 0, tzinfo=UTC), False),  # Thursday: nothing late turns up
    ],
)
def test_a_digest_goes_out_within_a_day_of_its_moment_or_not_at_all(now, due):
    assert still_due(due_week(now, MADRID), now) is due
