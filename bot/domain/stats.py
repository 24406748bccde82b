"""Figures for managers: cases by state, sector and category, median times to acknowledge and to resolve,
overdue cases, "me too" counts, and the turnout of polls and elections, for a barrio and each of its circles.

Pure computations over plain facts read by `storage/stats.py`: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from bot.domain.reports import AWAITING_ACK, OPEN_STATES, CaseStatus

# The periods offered by /stats, in days.
PERIOD_DAYS: tuple[int, ...] = (7, 30, 90, 365)
DEFAULT_PERIOD_DAYS = 30
# The key of cases with no sector (the community managers handle them).
NO_SECTOR = ""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CaseFact:
    """What the figures need of one case: where, what, its state and deadlines, and when it was first
    acknowledged and first resolved after it was created (None: not yet)."""

    case_id: int
    circle_id: int | None
    category: str
    sector: str | None
    status: str
    created_at: datetime
    acknowledge_by: datetime | None
    resolve_by: datetime | None
    supporters: int
    first_acknowledged_at: datetime | None = None
    first_resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BallotFact:
    """A poll or an election's vote that closed: its circle (None for a barrio's or a council's), whether it
    elected someone, and how many of its frozen electorate took part."""

    poll_id: int
    circle_id: int | None
    election: bool
    participations: int
    electors: int


@dataclass(frozen=True, slots=True)
class Turnout:
    """How many votes closed, and their participations over their electors, summed."""

    count: int = 0
    participations: int = 0
    electors: int = 0

    @property
    def ratio(self) -> float | None:
        """Participations over electors (None when nobody could vote)."""
        return turnout_ratio(self.participations, self.electors)


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """Cases created in the period (by current state, sector and category), those open now, and their times."""

    created: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_sector: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    # Created in the period: sector -> state -> count (what the chart draws).
    by_sector_state: dict[str, dict[str, int]] = field(default_factory=dict)
    open_now: int = 0
    open_by_state: dict[str, int] = field(default_factory=dict)
    open_by_sector: dict[str, int] = field(default_factory=dict)
    open_by_category: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    median_acknowledge: timedelta | None = None
    median_resolve: timedelta | None = None
    me_too: int = 0  # "me too" of the cases created in the period


@dataclass(frozen=True, slots=True)
class AreaFigures:
    """Everything shown for one area (a barrio, or one of its circles)."""

    cases: CaseFigures
    polls: Turnout
    elections: Turnout


def turnout_ratio(participations: int, electors: int) -> float | None:
    """Participations over electors, at most 1 (None when there were no electors)."""
    if electors <= 0:
        return None
    return min(participations / electors, 1.0)


def median_duration(durations: Iterable[timedelta]) -> timedelta | None:
    """The median of some durations (the mean of the middle two for an even count); None for none."""
    values = sorted(durations)
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def count_by(items: Iterable[T], key: Callable[[T], str]) -> dict[str, int]:
    """How many items share each key, largest first, then by key (a stable order to show)."""
    counts = Counter(key(item) for item in items)
    return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


def in_period(moment: datetime, since: datetime, until: datetime) -> bool:
    """Whether `moment` is in the half-open period [since, until)."""
    return since <= moment < until


def is_overdue(status: str, acknowledge_by: datetime | None, resolve_by: datetime | None, now: datetime) -> bool:
    """An open case past its resolve deadline, or one still awaiting acknowledgement past that deadline."""
    if status not in OPEN_STATES:
        return False
    if resolve_by is not None and now > resolve_by:
        return True
    return status in AWAITING_ACK and acknowledge_by is not None and now > acknowledge_by


def period_bounds(days: int, now: datetime) -> tuple[datetime, datetime]:
    """The last `days` days up to now, as [since, until)."""
    return now - timedelta(days=days), now


def _sector(fact: CaseFact) -> str:
    return fact.sector or NO_SECTOR


def case_figures(facts: Sequence[CaseFact], since: datetime, until: datetime, now: datetime) -> CaseFigures:
    """The case figures of some cases: those created in [since, until) by state, sector and category, with
    their median times and "me too"; those open at `now` by the same, and how many of them are overdue."""
    created = [f for f in facts if in_period(f.created_at, since, until)]
    open_now = [f for f in facts if f.status in OPEN_STATES]
    by_sector_state: dict[str, dict[str, int]] = {}
    for fact in created:
        states = by_sector_state.setdefault(_sector(fact), {})
        states[fact.status] = states.get(fact.status, 0) + 1
    acknowledged = [f.first_acknowledged_at - f.created_at for f in created if f.first_acknowledged_at is not None]
    resolved = [f.first_resolved_at - f.created_at for f in created if f.first_resolved_at is not None]
    return CaseFigures(
        created=len(created),
        by_state=count_by(created, lambda f: f.status),
        by_sector=count_by(created, _sector),
        by_category=count_by(created, lambda f: f.category),
        by_sector_state={s: dict(sorted(by_sector_state[s].items())) for s in sorted(by_sector_state)},
        open_now=len(open_now),
        open_by_state=count_by(open_now, lambda f: f.status),
        open_by_sector=count_by(open_now, _sector),
        open_by_category=count_by(open_now, lambda f: f.category),
        overdue=sum(is_overdue(f.status, f.acknowledge_by, f.resolve_by, now) for f in open_now),
        median_acknowledge=median_duration(acknowledged),
        median_resolve=median_duration(resolved),
        me_too=sum(f.supporters for f in created),
    )


def turnout(ballots: Iterable[BallotFact]) -> Turnout:
    """Votes that closed, with their participations and electors summed (an overall ratio, not a mean of
    ratios: a poll of 500 weighs more than one of 5)."""
    ballots = list(ballots)
    return Turnout(
        count=len(ballots),
        participations=sum(b.participations for b in ballots),
        electors=sum(b.electors for b in ballots),
    )


def area_figures(
    cases: Sequence[CaseFact], ballots: Sequence[BallotFact], since: datetime, until: datetime, now: datetime
) -> AreaFigures:
    """The figures of one area from its cases and closed votes."""
    return AreaFigures(
        cases=case_figures(cases, since, until, now),
        polls=turnout(b for b in ballots if not b.election),
        elections=turnout(b for b in ballots if b.election),
    )


def split_by_circle(
    cases: Sequence[CaseFact], ballots: Sequence[BallotFact], circle_ids: Sequence[int]
) -> dict[int, tuple[list[CaseFact], list[BallotFact]]]:
    """Each circle's own cases and votes (those of the barrio as a whole belong to no circle)."""
    split: dict[int, tuple[list[CaseFact], list[BallotFact]]] = {c: ([], []) for c in circle_ids}
    for fact in cases:
        if fact.circle_id in split:
            split[fact.circle_id][0].append(fact)
    for ballot in ballots:
        if ballot.circle_id in split:
            split[ballot.circle_id][1].append(ballot)
    return split


def has_activity(figures: AreaFigures) -> bool:
    """Whether an area has anything to show (circles without cases or votes are left out of the text)."""
    return bool(figures.cases.created or figures.cases.open_now or figures.polls.count or figures.elections.count)


# Chart order of states: the lifecycle's order, so colours mean the same in every chart.
STATE_ORDER: tuple[str, ...] = tuple(s.value for s in CaseStatus)


@dataclass(frozen=True, slots=True)
class CircleFigures:
    """One circle's figures."""

    circle_id: int
    code: str
    name: str
    figures: AreaFigures


@dataclass(frozen=True, slots=True)
class BarrioFigures:
    """A barrio's figures for [since, until) (open and overdue as of `now`), in total and per circle."""

    barrio_id: int
    barrio_code: str
    barrio_name: str
    since: datetime
    until: datetime
    now: datetime
    total: AreaFigures
    circles: tuple[CircleFigures, ...] = ()


def _hours(duration: timedelta | None) -> float | None:
    return None if duration is None else round(duration.total_seconds() / 3600, 2)


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def area_as_dict(area: AreaFigures) -> dict[str, object]:
    """One area's figures as JSON-safe values (durations in hours, ratios from 0 to 1)."""
    cases = area.cases
    return {
        "cases": {
            "created": cases.created,
            "by_state": cases.by_state,
            "by_sector": cases.by_sector,
            "by_category": cases.by_category,
            "by_sector_state": cases.by_sector_state,
            "open_now": cases.open_now,
            "open_by_state": cases.open_by_state,
            "open_by_sector": cases.open_by_sector,
            "open_by_category": cases.open_by_category,
            "overdue": cases.overdue,
            "median_hours_to_acknowledge": _hours(cases.median_acknowledge),
            "median_hours_to_resolve": _hours(cases.median_resolve),
            "me_too": cases.me_too,
        },
        "polls": _turnout_dict(area.polls),
        "elections": _turnout_dict(area.elections),
    }


def _turnout_dict(turnout: Turnout) -> dict[str, object]:
    return {
        "closed": turnout.count,
        "participations": turnout.participations,
        "electors": turnout.electors,
        "turnout": _ratio(turnout.ratio),
    }


def figures_as_dict(figures: BarrioFigures) -> dict[str, object]:
    """A barrio's figures as one JSON-safe document (what `vecinos stats` prints)."""
    return {
        "barrio": figures.barrio_code,
        "since": figures.since.isoformat(),
        "until": figures.until.isoformat(),
        "as_of": figures.now.isoformat(),
        "total": area_as_dict(figures.total),
        "circles": [{"circle": c.code, "name": c.name, **area_as_dict(c.figures)} for c in figures.circles],
    }


CSV_COLUMNS: tuple[str, ...] = ("barrio", "circle", "figure", "key", "value")


def figures_rows(figures: BarrioFigures) -> list[tuple[str, str, str, str, object]]:
    """A barrio's figures as flat rows (barrio, circle or "", figure, key or "", value) for CSV."""
    rows: list[tuple[str, str, str, str, object]] = []
    areas = [("", figures.total), *((c.code, c.figures) for c in figures.circles)]
    for circle, area in areas:
        for group, values in area_as_dict(area).items():
            assert isinstance(values, dict)
            for name, value in values.items():
                figure = f"{group}.{name}"
                if isinstance(value, dict):
                    for key, inner in value.items():
                        if isinstance(inner, dict):
                            rows += [(figures.barrio_code, circle, figure, f"{key}/{k}", v) for k, v in inner.items()]
                        else:
                            rows.append((figures.barrio_code, circle, figure, key, inner))
                else:
                    rows.append((figures.barrio_code, circle, figure, "", "" if value is None else value))
    return rows
