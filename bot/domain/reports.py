"""Reports (cases): routing, the lifecycle, deadlines and escalation, duplicates, and case references.

Pure rules over plain values: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.permissions import Sector
from bot.domain.territory import distance_m

MAX_REPORT_TEXT = 2000
MIN_REPORT_TEXT = 10
MAX_PHOTOS = 3
DUPLICATE_RADIUS_METRES = 150.0
REOPEN_WINDOW = timedelta(days=30)


class CaseStatus(StrEnum):
    """Where a case stands."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    REFERRED = "referred"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    NOT_ACTIONABLE = "not_actionable"
    MERGED = "merged"
    CLOSED = "closed"


class Transition(StrEnum):
    """What someone does to a case."""

    ACKNOWLEDGE = "ack"
    REFER = "refer"
    START = "start"
    RESOLVE = "resolve"
    NOT_ACTIONABLE = "reject"
    MERGE = "merge"
    CONFIRM_FIXED = "fixed"
    REOPEN = "reopen"


# Staff transitions, from each state (the reporter's "is it fixed?" answers are separate).
STAFF_TRANSITIONS: dict[CaseStatus, tuple[Transition, ...]] = {
    CaseStatus.NEW: (Transition.ACKNOWLEDGE, Transition.REFER, Transition.NOT_ACTIONABLE, Transition.MERGE),
    CaseStatus.ACKNOWLEDGED: (
        Transition.START,
        Transition.RESOLVE,
        Transition.REFER,
        Transition.NOT_ACTIONABLE,
        Transition.MERGE,
    ),
    CaseStatus.REFERRED: (Transition.ACKNOWLEDGE, Transition.REFER, Transition.NOT_ACTIONABLE, Transition.MERGE),
    CaseStatus.IN_PROGRESS: (Transition.RESOLVE, Transition.REFER, Transition.NOT_ACTIONABLE, Transition.MERGE),
    CaseStatus.REOPENED: (Transition.START, Transition.RESOLVE, Transition.REFER, Transition.NOT_ACTIONABLE),
    CaseStatus.RESOLVED: (),
    CaseStatus.NOT_ACTIONABLE: (),
    CaseStatus.MERGED: (),
    CaseStatus.CLOSED: (),
}
REPORTER_TRANSITIONS: dict[CaseStatus, tuple[Transition, ...]] = {
    CaseStatus.RESOLVED: (Transition.CONFIRM_FIXED, Transition.REOPEN),
}
TARGET: dict[Transition, CaseStatus] = {
    Transition.ACKNOWLEDGE: CaseStatus.ACKNOWLEDGED,
    Transition.REFER: CaseStatus.REFERRED,
    Transition.START: CaseStatus.IN_PROGRESS,
    Transition.RESOLVE: CaseStatus.RESOLVED,
    Transition.NOT_ACTIONABLE: CaseStatus.NOT_ACTIONABLE,
    Transition.MERGE: CaseStatus.MERGED,
    Transition.CONFIRM_FIXED: CaseStatus.CLOSED,
    Transition.REOPEN: CaseStatus.REOPENED,
}
OPEN_STATES = frozenset(
    {CaseStatus.NEW, CaseStatus.ACKNOWLEDGED, CaseStatus.REFERRED, CaseStatus.IN_PROGRESS, CaseStatus.REOPENED}
)
# Waiting for the responsible sector to take it up (the acknowledge deadline runs).
AWAITING_ACK = frozenset({CaseStatus.NEW, CaseStatus.REFERRED})


def staff_transitions(status: CaseStatus) -> tuple[Transition, ...]:
    """What staff may do to a case in `status`."""
    return STAFF_TRANSITIONS[status]


def reporter_may(status: CaseStatus, transition: Transition, resolved_at: datetime | None, now: datetime) -> bool:
    """Whether the reporter may answer "is it fixed?" with `transition` now (a "no" only within 30 days)."""
    if transition not in REPORTER_TRANSITIONS.get(status, ()):
        return False
    if transition is Transition.REOPEN:
        return resolved_at is not None and now - resolved_at <= REOPEN_WINDOW
    return True


def is_open(status: CaseStatus) -> bool:
    """Whether a case still needs work."""
    return status in OPEN_STATES


def open311_status(status: CaseStatus) -> str:
    """GeoReport v2 knows only open and closed."""
    return "open" if status in OPEN_STATES else "closed"


# ---------------------------------------------------------------- routing


@dataclass(frozen=True, slots=True)
class Route:
    """Who handles a category (a sector; None: the barrio's community managers), and how fast: acknowledge
    within `acknowledge`, resolve within `resolve`."""

    sector: Sector | None
    acknowledge: timedelta
    resolve: timedelta


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Category -> route, for the district, with overrides per barrio."""

    district: Mapping[str, Route]
    barrios: Mapping[int, Mapping[str, Route]]

    def route(self, category: str, barrio_id: int) -> Route | None:
        """The barrio's route for the category, else the district's; None for an unknown category."""
        return self.barrios.get(barrio_id, {}).get(category) or self.district.get(category)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """When a case must be acknowledged and resolved, when to remind the sector, when to escalate."""

    acknowledge_by: datetime
    resolve_by: datetime


def deadlines(route: Route, opened_at: datetime) -> Deadlines:
    """The deadlines of a case opened (or referred, or reopened) at `opened_at`."""
    return Deadlines(opened_at + route.acknowledge, opened_at + route.resolve)


class DueWork(StrEnum):
    """What the scheduler owes a case."""

    ACK_REMINDER = "ack_reminder"
    ACK_ESCALATION = "ack_escalation"
    RESOLVE_REMINDER = "resolve_reminder"
    RESOLVE_ESCALATION = "resolve_escalation"
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True, slots=True)
class SlaState:
    """What has been done about a case's deadlines so far."""

    status: CaseStatus
    acknowledge_by: datetime | None
    resolve_by: datetime | None
    started_at: datetime  # when the current deadlines started (opened, referred or reopened)
    ack_reminded: bool
    ack_escalated: bool
    resolve_reminded: bool
    resolve_escalated: bool


def due_work(sla: SlaState, now: datetime) -> list[DueWork]:
    """What is due now: at a deadline one reminder to the sector; at twice the deadline one escalation to the
    community managers. Each happens once."""
    work: list[DueWork] = []
    if sla.status in AWAITING_ACK and sla.acknowledge_by is not None:
        span = sla.acknowledge_by - sla.started_at
        if now >= sla.acknowledge_by and not sla.ack_reminded:
            work.append(DueWork.ACK_REMINDER)
        if now >= sla.acknowledge_by + span and not sla.ack_escalated:
            work.append(DueWork.ACK_ESCALATION)
    if sla.status in OPEN_STATES and sla.resolve_by is not None:
        span = sla.resolve_by - sla.started_at
        if now >= sla.resolve_by and not sla.resolve_reminded:
            work.append(DueWork.RESOLVE_REMINDER)
        if now >= sla.resolve_by + span and not sla.resolve_escalated:
            work.append(DueWork.RESOLVE_ESCALATION)
    return work


def next_due_at(sla: SlaState) -> datetime | None:
    """When the scheduler must look at the case next (None: nothing more is owed)."""
    moments: list[datetime] = []
    if sla.status in AWAITING_ACK and sla.acknowledge_by is not None:
        span = sla.acknowledge_by - sla.started_at
        if not sla.ack_reminded:
            moments.append(sla.acknowledge_by)
        if not sla.ack_escalated:
            moments.append(sla.acknowledge_by + span)
    if sla.status in OPEN_STATES and sla.resolve_by is not None:
        span = sla.resolve_by - sla.started_at
        if not sla.resolve_reminded:
            moments.append(sla.resolve_by)
        if not sla.resolve_escalated:
            moments.append(sla.resolve_by + span)
    return min(moments) if moments else None


# ---------------------------------------------------------------- duplicates and references


@dataclass(frozen=True, slots=True)
class CaseSpot:
    """An open case, where it is."""

    case_id: int
    category: str
    circle_id: int
    latitude: float | None
    longitude: float | None


def likely_duplicates(
    spots: Iterable[CaseSpot],
    category: str,
    circle_id: int,
    latitude: float | None,
    longitude: float | None,
    radius: float = DUPLICATE_RADIUS_METRES,
) -> list[int]:
    """Open cases of the same category in the same circle or within `radius` metres, nearest first."""
    found: list[tuple[float, int]] = []
    for spot in spots:
        if spot.category != category:
            continue
        near = None
        if None not in (latitude, longitude, spot.latitude, spot.longitude):
            near = distance_m(latitude, longitude, spot.latitude, spot.longitude)  # type: ignore[arg-type]
        if spot.circle_id == circle_id or (near is not None and near <= radius):
            found.append((near if near is not None else radius, spot.case_id))
    return [case_id for _, case_id in sorted(found)]


def case_reference(barrio_code: str, number: int) -> str:
    """A short reference residents can read out: EMB-0042 (barrio's first three letters, a number)."""
    prefix = "".join(c for c in barrio_code.upper() if c.isalpha())[:3] or "MCD"
    return f"{prefix}-{number:04d}"


def parse_case_reference(text: str) -> str | None:
    """A case reference as typed ('emb-42', 'EMB 0042'), normalised; None if it cannot be one."""
    cleaned = text.strip().upper().replace(" ", "-")
    prefix, _, number = cleaned.partition("-")
    if not (prefix.isascii() and prefix.isalpha() and 2 <= len(prefix) <= 3 and number.isdigit() and len(number) <= 8):
        return None
    return f"{prefix}-{int(number):04d}"


def report_text_problem(text: str) -> str | None:
    """Why a report's text cannot be used: 'short', 'long' or None."""
    if len(text) > MAX_REPORT_TEXT:
        return "long"
    if len(text.strip()) < MIN_REPORT_TEXT:
        return "short"
    return None
