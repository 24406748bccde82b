"""Poll rules: scopes, terms a poll must meet, timing (opening, reminder, closing), and the outcome of a count
under quorum and threshold. Counting itself is `bot.domain.tally`."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from bot.domain.ballots import MAX_OPTIONS, PollKind
from bot.domain.proposals import SupportRule

QUESTION_MAX = 300
OPTION_MAX = 100
MIN_OPEN = timedelta(minutes=5)
MAX_OPEN = timedelta(days=90)
# Below this many ballots only totals are published: individual ballots of a tiny electorate give people away.
MIN_BALLOTS_PUBLISHED = 5


CIRCLE_SUPPORT = SupportRule(percent=10, minimum=3)
BARRIO_SUPPORT = SupportRule(percent=5, minimum=3)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The district's settings for polls and proposals."""

    reminder_before: timedelta = timedelta(hours=24)
    circle_support: SupportRule = CIRCLE_SUPPORT
    barrio_support: SupportRule = BARRIO_SUPPORT
    proposal_window: timedelta = timedelta(days=30)
    proposal_poll_length: timedelta = timedelta(days=7)

    def support_rule(self, kind: ScopeKind) -> SupportRule:
        """The support rule for proposals in a kind of scope."""
        return self.circle_support if kind is ScopeKind.CIRCLE else self.barrio_support


DEFAULT_POLICY = PollPolicy()


class PollStatus(StrEnum):
    """Where a poll is in its life."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    COUNTED = "counted"  # counted; the result is being announced
    CLOSED = "closed"


class ScopeKind(StrEnum):
    """Whose poll it is. Bodies (councils, commissions) join once they exist; the column is open text."""

    CIRCLE = "circle"
    BARRIO = "barrio"
    DISTRICT = "district"
    BODY = "body"
    COUNCIL = "council"  # a barrio's Citizen Community Council: its members (id: the barrio)


class YesNo(StrEnum):
    """The options of a yes/no poll (labelled in each voter's language)."""

    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


YESNO_OPTIONS: tuple[YesNo, ...] = (YesNo.YES, YesNo.NO, YesNo.ABSTAIN)
# How the options of a yes/no poll are named in the published ballots (language-neutral codes).
YESNO_CANDIDATES: tuple[str, ...] = ("yes", "no")


@dataclass(frozen=True, slots=True)
class PollScope:
    """A poll's electorate: a circle's, a barrio's or the district's verified members (or a body's)."""

    kind: ScopeKind
    id: int | None = None

    @property
    def key(self) -> str:
        """`circle:12`, `barrio:3`, `district`."""
        return self.kind.value if self.id is None else f"{self.kind.value}:{self.id}"


def parse_scope(text: str) -> PollScope | None:
    """Read `circle:ID`, `barrio:ID`, `body:ID` or `district` (ids may be codes: the caller resolves them)."""
    text = text.strip().lower()
    if text == ScopeKind.DISTRICT:
        return PollScope(ScopeKind.DISTRICT)
    kind, _, ident = text.partition(":")
    if kind not in (ScopeKind.CIRCLE, ScopeKind.BARRIO, ScopeKind.BODY, ScopeKind.COUNCIL) or not ident.isdigit():
        return None
    return PollScope(ScopeKind(kind), int(ident))


class TermsProblem(StrEnum):
    """What is wrong with a poll someone is creating."""

    QUESTION_EMPTY = "question_empty"
    QUESTION_LONG = "question_long"
    TOO_FEW_OPTIONS = "too_few_options"
    TOO_MANY_OPTIONS = "too_many_options"
    OPTION_EMPTY = "option_empty"
    OPTION_LONG = "option_long"
    OPTIONS_REPEATED = "options_repeated"
    MAX_CHOICES = "max_choices"
    CLOSES_TOO_SOON = "closes_too_soon"
    CLOSES_TOO_LATE = "closes_too_late"
    QUORUM = "quorum"
    THRESHOLD = "threshold"


@dataclass(frozen=True, slots=True)
class PollTerms:
    """Everything fixed when a poll is created."""

    kind: PollKind
    question: str
    options: tuple[str, ...]
    opens_at: datetime
    closes_at: datetime
    max_choices: int | None = None
    quorum_percent: int = 0
    threshold_percent: int = 50
    results_visible: bool = False
    vote_change: bool = False


def check_terms(terms: PollTerms, now: datetime) -> list[TermsProblem]:
    """Every problem with `terms` (empty when the poll may be created)."""
    problems: list[TermsProblem] = []
    if not terms.question.strip():
        problems.append(TermsProblem.QUESTION_EMPTY)
    elif len(terms.question) > QUESTION_MAX:
        problems.append(TermsProblem.QUESTION_LONG)
    if terms.kind is not PollKind.YESNO:
        problems.extend(check_options(terms.options))
    if terms.kind is PollKind.APPROVAL and not (1 <= (terms.max_choices or 0) <= len(terms.options)):
        problems.append(TermsProblem.MAX_CHOICES)
    if terms.closes_at - max(terms.opens_at, now) < MIN_OPEN:
        problems.append(TermsProblem.CLOSES_TOO_SOON)
    elif terms.closes_at - max(terms.opens_at, now) > MAX_OPEN:
        problems.append(TermsProblem.CLOSES_TOO_LATE)
    if not 0 <= terms.quorum_percent <= 100:
        problems.append(TermsProblem.QUORUM)
    if not 0 <= terms.threshold_percent < 100:
        problems.append(TermsProblem.THRESHOLD)
    return problems


def check_options(options: Sequence[str]) -> list[TermsProblem]:
    """Problems with a list of options: 2 to 10, none empty, none too long, no two the same."""
    problems: list[TermsProblem] = []
    if len(options) < 2:
        problems.append(TermsProblem.TOO_FEW_OPTIONS)
    if len(options) > MAX_OPTIONS:
        problems.append(TermsProblem.TOO_MANY_OPTIONS)
    if any(not o.strip() for o in options):
        problems.append(TermsProblem.OPTION_EMPTY)
    if any(len(o) > OPTION_MAX for o in options):
        problems.append(TermsProblem.OPTION_LONG)
    if len({o.strip().casefold() for o in options}) != len(options):
        problems.append(TermsProblem.OPTIONS_REPEATED)
    return problems


def tally_method(kind: PollKind) -> str:
    """The counting method of a kind of poll (yes/no counts as plurality between yes and no)."""
    return {
        PollKind.YESNO: "plurality",
        PollKind.SINGLE: "plurality",
        PollKind.APPROVAL: "approval",
        PollKind.RANKED: "irv",
    }[kind]


def reminder_at(opens_at: datetime, closes_at: datetime, before: timedelta) -> datetime | None:
    """When to remind those who have not voted: `before` the close, or halfway if the poll is shorter."""
    if before <= timedelta(0):
        return None
    moment = closes_at - before
    return moment if moment > opens_at else opens_at + (closes_at - opens_at) / 2


def next_due(
    status: PollStatus, opens_at: datetime, closes_at: datetime, remind_at: datetime | None, reminded: bool
) -> datetime | None:
    """The next moment the scheduler must look at a poll."""
    if status is PollStatus.SCHEDULED:
        return opens_at
    if status is PollStatus.OPEN:
        if remind_at is not None and not reminded and remind_at < closes_at:
            return remind_at
        return closes_at
    if status is PollStatus.COUNTED:
        return closes_at
    return None


_DURATION = re.compile(r"^\s*(\d{1,4})\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta | None:
    """`90m`, `2h`, `3d`, `1w` as a timedelta (None for anything else)."""
    match = _DURATION.match(text or "")
    if not match:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


def quorum_met(voted: int, eligible: int, quorum_percent: int) -> bool:
    """Whether turnout reached the quorum: at least `quorum_percent` of the electorate voted."""
    return voted * 100 >= quorum_percent * eligible and (voted > 0 or quorum_percent == 0)


def yes_carries(yes: int, no: int, threshold_percent: int) -> bool:
    """Whether a yes/no question passes: yes is MORE than `threshold_percent` of yes + no (abstentions aside).
    50 is a simple majority (a tie fails); 66 needs two yes for every no, and then some."""
    return yes + no > 0 and yes * 100 > threshold_percent * (yes + no)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What a count means for the poll."""

    quorum_met: bool
    winners: tuple[str, ...]
    carried: bool | None = None  # yes/no polls: whether yes carried


def decide(
    kind: PollKind,
    tally_winners: Sequence[str],
    totals: dict[str, int],
    *,
    voted: int,
    eligible: int,
    quorum_percent: int,
    threshold_percent: int,
) -> PollOutcome:
    """Apply quorum (and, for yes/no, the threshold) to a count: no quorum, no winner."""
    met = quorum_met(voted, eligible, quorum_percent)
    if kind is PollKind.YESNO:
        carried = met and yes_carries(totals.get(YesNo.YES, 0), totals.get(YesNo.NO, 0), threshold_percent)
        winners: tuple[str, ...] = ((YesNo.YES.value if carried else YesNo.NO.value),) if met else ()
        return PollOutcome(met, winners, carried if met else None)
    return PollOutcome(met, tuple(tally_winners) if met else ())


def turnout_percent(voted: int, eligible: int) -> int:
    """Turnout rounded down to a whole percent (never 100 until everyone voted)."""
    return 0 if eligible <= 0 else math.floor(voted * 100 / eligible)


_LOCAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%d", "%d/%m %H:%M")
END_OF_DAY = (20, 0)


def parse_closing(text: str, now: datetime, zone: tzinfo) -> datetime | None:
    """A closing time as typed: a duration from now (`3d`, `12h`), or a local date and time in `zone`
    (`2026-12-20 20:00`, `20/12/2026 20:00`, `20/12 20:00`; a date alone closes at 20:00). None if unreadable."""
    duration = parse_duration(text)
    if duration is not None:
        return now + duration
    cleaned = " ".join((text or "").split())
    for pattern in _LOCAL_FORMATS:
        try:
            parsed = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        if "%Y" not in pattern:
            parsed = parsed.replace(year=now.astimezone(zone).year)
            if parsed.replace(tzinfo=zone) < now:
                parsed = parsed.replace(year=parsed.year + 1)
        if "%H" not in pattern:
            parsed = parsed.replace(hour=END_OF_DAY[0], minute=END_OF_DAY[1])
        return parsed.replace(tzinfo=zone).astimezone(now.tzinfo)
    return None
