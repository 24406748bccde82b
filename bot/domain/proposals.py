"""Resident proposals (the CONSUL pattern): support gathered within a window turns a proposal into a poll."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

TITLE_MAX = 120
TEXT_MAX = 2000


class ProposalStatus(StrEnum):
    """Where a proposal stands."""

    OPEN = "open"
    ACCEPTED = "accepted"  # reached its threshold: a yes/no poll was opened
    EXPIRED = "expired"  # the window ended first


@dataclass(frozen=True, slots=True)
class SupportRule:
    """How much support a proposal needs in a kind of scope: a share of the members, at least a minimum."""

    percent: int
    minimum: int


def support_needed(members: int, rule: SupportRule) -> int:
    """Supports needed for a proposal among `members` (the proposer's own support counts)."""
    return max(rule.minimum, math.ceil(members * rule.percent / 100))


class SupportOutcome(StrEnum):
    """What one tap on "support" did."""

    COUNTED = "counted"
    REACHED = "reached"  # this support reached the threshold
    ALREADY = "already"
    CLOSED = "closed"


def after_support(status: ProposalStatus, supporters_before: int, threshold: int, *, already: bool) -> SupportOutcome:
    """The outcome of a support given to a proposal with `supporters_before` supports."""
    if status is not ProposalStatus.OPEN:
        return SupportOutcome.CLOSED
    if already:
        return SupportOutcome.ALREADY
    return SupportOutcome.REACHED if supporters_before + 1 >= threshold else SupportOutcome.COUNTED
