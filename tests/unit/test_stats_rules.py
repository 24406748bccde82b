"""The managers' figures as pure rules: medians of durations, turnout ratios, grouping, overdue cases, and a
barrio's figures split by circle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.stats import (
    BallotFact,
    CaseFact,
    area_figures,
    case_figures,
    count_by,
    figures_rows,
    is_overdue,
    median_duration,
    period_bounds,
    split_by_circle,
    turnout,
    turnout_ratio,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("hours", "median"),
    [
        ([], None),
        ([5], 5),
        ([1, 3], 2),
        ([7, 1, 3], 3),
        ([4, 1, 3, 100], 3.5),
        ([2, 2, 2, 2], 2),
    ],
)
def test_the_median_of_durations(hours, median):
    result = median_duration([h * H for h in hours])
    assert result == (None if median is None else median * H)


@pytest.mark.parametrize(
    ("participations", "electors", "ratio"),
    [(0, 0, None), (3, 0, None), (0, 10, 0.0), (3, 4, 0.75), (5, 5, 1.0), (7, 5, 1.0)],
)
def test_turnout_is_participations_over_electors_and_never_above_one(participations, electors, ratio):
    assert turnout_ratio(participations, electors) == ratio


def test_overall_turnout_weighs_polls_by_their_electorate():
    ballots = [BallotFact(1, None, False, 1, 2), BallotFact(2, None, False, 10, 100)]
    summed = turnout(ballots)
    assert (summed.count, summed.participations, summed.electors) == (2, 11, 102)
    assert summed.ratio == pytest.approx(11 / 102)


def test_grouping_puts_the_largest_first_then_by_key():
    assert list(count_by(["b", "a", "c", "a", "b", "a"], str).items()) == [("a", 3), ("b", 2), ("c", 1)]
    assert count_by([], str) == {}


@pytest.mark.parametrize(
    ("status", "ack_in", "resolve_in", "overdue"),
    [
        ("new", -1, 10, True),  # awaiting acknowledgement past its deadline
        ("referred", -1, 10, True),
        ("acknowledged", -1, 10, False),  # the acknowledge deadline no longer runs
        ("in_progress", None, -1, True),  # past the resolve deadline
        ("reopened", None, 5, False),
        ("new", 1, 10, False),
        ("resolved", -10, -5, False),  # not open
        ("closed", -10, -5, False),
        ("new", None, None, False),
    ],
)
def test_overdue_means_open_and_past_a_running_deadline(status, ack_in, resolve_in, overdue):
    now = T0 + 100 * H
    at = lambda hours: None if hours is None else now + hours * H  # noqa: E731
    assert is_overdue(status, at(ack_in), at(resolve_in), now) is overdue


def fact(case_id, *, circle=1, category="noise", sector="environment_cleaning", status="new", created=0,
         ack=None, resolved=None, supporters=0, ack_by=None, resolve_by=None) -> CaseFact:  # fmt: skip
    return CaseFact(
        case_id=case_id,
        circle_id=circle,
        category=category,
        sector=sector,
        status=status,
        created_at=T0 + created * H,
        acknowledge_by=None if ack_by is None else T0 + ack_by * H,
        resolve_by=None if resolve_by is None else T0 + resolve_by * H,
        supporters=supporters,
        first_acknowledged_at=None if ack is None else T0 + ack * H,
        first_resolved_at=None if resolved is None else T0 + resolved * H,
    )


def test_case_figures_separate_the_period_from_what_is_open_now():
    since, until, now = T0, T0 + 240 * H, T0 + 240 * H
    facts = [
        fact(1, status="resolved", ack=2, resolved=30, supporters=2),
        fact(2, status="acknowledged", created=10, ack=14, ack_by=34, resolve_by=300),
        fact(3, category="safety", sector="community_police", created=20, ack_by=24, resolve_by=92),
        fact(4, category="other", sector=None, created=-500, ack_by=-400, resolve_by=-100, supporters=5),
    ]
    figures = case_figures(facts, since, until, now)
    assert figures.created == 3
    assert figures.by_state == {"acknowledged": 1, "new": 1, "resolved": 1}
    assert figures.by_sector == {"environment_cleaning": 2, "community_police": 1}
    assert figures.by_category == {"noise": 2, "safety": 1}
    assert figures.by_sector_state == {
        "community_police": {"new": 1},
        "environment_cleaning": {"acknowledged": 1, "resolved": 1},
    }
    assert figures.open_now == 3
    assert figures.open_by_sector == {"": 1, "community_police": 1, "environment_cleaning": 1}
    assert figures.overdue == 2  # case 3 past both deadlines, case 4 long past; case 2 within them
    assert figures.median_acknowledge == 3 * H  # 2 h and 4 h
    assert figures.median_resolve == 30 * H
    assert figures.me_too == 2  # case 4 was created before the period


def test_the_period_is_half_open():
    since, until = period_bounds(7, T0)
    assert (since, until) == (T0 - timedelta(days=7), T0)
    figures = case_figures([fact(1, created=-7 * 24), fact(2, created=0)], since, until, until)
    assert figures.created == 1


def test_a_barrio_splits_into_its_circles_and_keeps_barrio_wide_votes_in_the_total():
    cases = [fact(1, circle=1), fact(2, circle=2), fact(3, circle=None)]
    ballots = [BallotFact(10, 1, False, 2, 4), BallotFact(11, None, True, 3, 6), BallotFact(12, 9, False, 1, 1)]
    split = split_by_circle(cases, ballots, [1, 2])
    assert [f.case_id for f in split[1][0]] == [1] and [b.poll_id for b in split[1][1]] == [10]
    assert [f.case_id for f in split[2][0]] == [2] and split[2][1] == []
    total = area_figures(cases, ballots, T0, T0 + H, T0 + H)
    assert (total.polls.count, total.polls.participations, total.polls.electors) == (2, 3, 5)
    assert (total.elections.count, total.elections.ratio) == (1, 0.5)


def test_csv_rows_are_flat():
    from bot.domain.stats import BarrioFigures, CircleFigures

    area = area_figures([fact(1, status="resolved", ack=1, resolved=3)], [], T0, T0 + 10 * H, T0 + 10 * H)
    figures = BarrioFigures(1, "emb", "Embajadores", T0, T0 + 10 * H, T0 + 10 * H, area,
                            (CircleFigures(1, "emb-c", "C", area),))  # fmt: skip
    rows = figures_rows(figures)
    assert ("emb", "", "cases.created", "", 1) in rows
    assert ("emb", "emb-c", "cases.by_state", "resolved", 1) in rows
    assert ("emb", "", "cases.by_sector_state", "environment_cleaning/resolved", 1) in rows
    assert ("emb", "", "cases.median_hours_to_resolve", "", 3.0) in rows
    assert ("emb", "", "polls.turnout", "", "") in rows
