"""Elections of the model's representatives, as rules: who elects whom, the phases, what a nomination needs,
what happens when nominations close, and the order of substitutes.

- A circle's verified members elect its **delegates**, who sit in their barrio's Citizen Community Council.
- A council (its members) elects its representatives to the **District Citizen Forum** and one to its barrio's
  **Community Governance Commission**.
Voting is a ranked poll in the ballot box of polls, counted by Scottish STV (`bot/domain/stv.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

STATEMENT_MAX = 500
NAME_MAX = 80


class Office(StrEnum):
    """What an election fills."""

    DELEGATE = "delegate"
    FORUM = "forum"
    GOVERNANCE = "governance"


class ElectorateKind(StrEnum):
    """Who votes: a circle's verified members, or a barrio council's members."""

    CIRCLE = "circle"
    COUNCIL = "council"


ELECTORATE_OF = {Office.DELEGATE: ElectorateKind.CIRCLE, Office.FORUM: ElectorateKind.COUNCIL,
                 Office.GOVERNANCE: ElectorateKind.COUNCIL}  # fmt: skip


class ElectionStatus(StrEnum):
    """Where an election is."""

    NOMINATING = "nominating"
    VOTING = "voting"
    ELECTED = "elected"
    VOID = "void"


class CandidacyStatus(StrEnum):
    """A candidacy: proposed by someone else (until accepted), standing, withdrawn or declined."""

    PROPOSED = "proposed"
    STANDING = "standing"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"


class Outcome(StrEnum):
    """A candidate after the count."""

    ELECTED = "elected"
    SUBSTITUTE = "substitute"
    REPLACED = "replaced"  # a substitute who took a seat that fell vacant
    GONE = "gone"  # elected or substitute, then left the circle (or the body)


class NominationsOutcome(StrEnum):
    """What closing nominations leads to."""

    NOBODY = "nobody"  # no one stands: the election is void and the managers are told
    UNOPPOSED = "unopposed"  # as many candidates as seats, or fewer: all are elected without a vote
    CONTESTED = "contested"  # more candidates than seats: the ranked vote opens


@dataclass(frozen=True, slots=True)
class ElectionPolicy:
    """Settings of elections."""

    delegate_seats: int = 2
    term: timedelta = timedelta(days=730)
    nominations: timedelta = timedelta(days=7)
    voting: timedelta = timedelta(days=5)
    forum_seats: int = 1


DEFAULT_ELECTION_POLICY = ElectionPolicy()


class StatementProblem(StrEnum):
    """Why a candidate's statement was refused."""

    EMPTY = "empty"
    TOO_LONG = "too_long"


def check_statement(text: str | None) -> StatementProblem | None:
    """A statement is one message of words, at most STATEMENT_MAX characters."""
    cleaned = (text or "").strip()
    if not cleaned:
        return StatementProblem.EMPTY
    if len(cleaned) > STATEMENT_MAX:
        return StatementProblem.TOO_LONG
    return None


def after_nominations(standing: int, seats: int) -> NominationsOutcome:
    """What closing nominations with `standing` candidates leads to."""
    if standing == 0:
        return NominationsOutcome.NOBODY
    if standing <= seats:
        return NominationsOutcome.UNOPPOSED
    return NominationsOutcome.CONTESTED


def phase_times(now: datetime, policy: ElectionPolicy, *, nominations_close: datetime | None = None,
                voting_closes: datetime | None = None) -> tuple[datetime, datetime]:  # fmt: skip
    """When nominations close and when voting closes (the voting phase follows nominations)."""
    close = nominations_close or now + policy.nominations
    return close, voting_closes or close + policy.voting


def check_phases(now: datetime, nominations_close: datetime, voting_closes: datetime) -> str | None:
    """Why these phase times are impossible, or None."""
    if nominations_close <= now:
        return "nominations must close in the future"
    if voting_closes <= nominations_close + timedelta(hours=1):
        return "voting must close at least an hour after nominations close"
    return None


def display_name(first_name: str | None, last_name: str | None = None) -> str:
    """How a candidate appears on the ballot: first name and last initial (nothing more is public)."""
    first = " ".join((first_name or "").split())[:40] or "?"
    last = " ".join((last_name or "").split())
    return f"{first} {last[0]}." if last else first


def unique_names(names: Sequence[str]) -> list[str]:
    """Ballot labels that tell candidates apart: a repeated name gets (2), (3) ..."""
    seen: dict[str, int] = {}
    labels: list[str] = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return labels


def substitutes_in_order(stages: Sequence[Mapping[str, Any]], candidates: Sequence[str],
                         winners: Sequence[str]) -> list[str]:  # fmt: skip
    """The candidates not elected, best first: those still standing at the end by their final votes, then the
    excluded, the last excluded first (they survived longest). Votes are the count's five-decimal strings."""
    excluded_at: dict[str, int] = {}
    for stage in stages:
        for name in stage.get("excluded", []):
            excluded_at[name] = int(stage["round"])
    final = stages[-1]["votes"] if stages else {}

    def key(name: str) -> tuple[int, int, int]:
        units = int(str(final.get(name, "0")).replace(".", ""))
        return (excluded_at.get(name, len(stages) + 1), units, -candidates.index(name))

    return sorted((c for c in candidates if c not in winners), key=key, reverse=True)
