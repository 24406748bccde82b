"""Counting votes: plurality, approval and instant-runoff, with every round and tie-break on the record.

Pure and deterministic: the same ballots give the same result in any order, ties never use randomness (the
"lot" is an order of the candidates published before voting opens), and the counts are integers only.
Results are data; the chat layer words them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from typing import Any

DOCUMENT_KEYS = ("method", "seats", "candidates", "ballots")


class Method(StrEnum):
    """Counting methods this module implements."""

    PLURALITY = "plurality"
    APPROVAL = "approval"
    IRV = "irv"


class BallotError(ValueError):
    """A ballot or ballot document the counter refuses: unknown or repeated candidate, bad count, bad shape."""


@dataclass(frozen=True, slots=True)
class Ballot:
    """One ballot, or `count` identical ones: a ranking (plurality reads its first name, approval the set)."""

    ranking: tuple[str, ...]
    count: int = 1


class TieBreakKind(StrEnum):
    """How a tie was settled."""

    LOOK_BACK = "look_back"
    LOT = "lot"


@dataclass(frozen=True, slots=True)
class TieBreak:
    """A tie and how it was settled: `among` in lot order, `chosen` the one picked (elected, excluded, first)."""

    kind: TieBreakKind
    among: tuple[str, ...]
    chosen: str
    decided_at_round: int | None = None


@dataclass(frozen=True, slots=True)
class Round:
    """One round of a count: votes of the continuing candidates, ballots exhausted, and what was decided."""

    number: int
    votes: dict[str, int]
    exhausted: int
    elected: tuple[str, ...]
    excluded: tuple[str, ...]
    tie_break: TieBreak | None


@dataclass(frozen=True, slots=True)
class TallyResult:
    """The outcome of a count, with every round."""

    method: str
    seats: int
    candidates: tuple[str, ...]
    winners: tuple[str, ...]
    ranking: tuple[str, ...]
    totals: dict[str, int]
    valid: int
    blank: int
    rounds: tuple[Round, ...]


def lot_order(election_id: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """Candidates sorted by SHA-256(election_id ‖ ':' ‖ candidate) hex: the 'by lot' order published before voting."""
    names = check_candidates(candidates, ValueError)

    def digest(name: str) -> str:
        return hashlib.sha256(f"{election_id}:{name}".encode()).hexdigest()

    return tuple(sorted(names, key=lambda name: (digest(name), name)))


def count_plurality(
    candidates: Sequence[str], ballots: Iterable[Ballot], *, seats: int = 1, lot: Sequence[str]
) -> TallyResult:
    """First preferences: the `seats` candidates with most votes win; ties for a place go by lot."""
    names = check_candidates(candidates, ValueError)
    check_seats(seats, names, ValueError)
    rank = lot_rank(names, lot)
    groups = _group(check_ballots(names, ballots))
    votes = dict.fromkeys(names, 0)
    for ranking, n in groups.items():
        if ranking:
            votes[ranking[0]] += n
    return _single_round(Method.PLURALITY, names, seats, rank, votes, groups)


def count_approval(
    candidates: Sequence[str],
    ballots: Iterable[Ballot],
    *,
    seats: int = 1,
    lot: Sequence[str],
    max_choices: int | None = None,
) -> TallyResult:
    """Approvals: every listed candidate gets the ballot's vote; winners and ties as in plurality."""
    names = check_candidates(candidates, ValueError)
    check_seats(seats, names, ValueError)
    if max_choices is not None and (isinstance(max_choices, bool) or not isinstance(max_choices, int)):
        raise ValueError(f"max_choices must be an integer or None, not {max_choices!r}")
    if max_choices is not None and max_choices < 1:
        raise ValueError(f"max_choices must be at least 1, not {max_choices}")
    rank = lot_rank(names, lot)
    groups = _group(check_ballots(names, ballots, max_choices=max_choices))
    votes = dict.fromkeys(names, 0)
    for ranking, n in groups.items():
        for name in ranking:
            votes[name] += n
    return _single_round(Method.APPROVAL, names, seats, rank, votes, groups)


def count_irv(candidates: Sequence[str], ballots: Iterable[Ballot], *, lot: Sequence[str]) -> TallyResult:
    """Instant-runoff for one seat: exclude the last candidate, one a round, until one holds a majority."""
    names = check_candidates(candidates, ValueError)
    rank = lot_rank(names, lot)
    groups = _group(check_ballots(names, ballots))
    valid = sum(groups.values())
    continuing = list(names)
    history: list[dict[str, int]] = []
    rounds: list[Round] = []
    excluded: list[str] = []
    while True:
        votes, exhausted = _first_continuing(groups, continuing)
        history.append(votes)
        number = len(history)
        leader = max(continuing, key=votes.__getitem__)
        # The majority is of the ballots still in play, so exhausted ones do not block an election.
        if 2 * votes[leader] > valid - exhausted or len(continuing) == 1:
            rounds.append(Round(number, votes, exhausted, (leader,), (), None))
            break
        loser, tie_break = _lowest(continuing, history, rank)
        rounds.append(Round(number, votes, exhausted, (), (loser,), tie_break))
        continuing.remove(loser)
        excluded.append(loser)
    # Candidates still standing when the winner got a majority rank by their last votes, ties as for exclusion.
    standing = [name for name in continuing if name != leader]
    below: list[str] = []
    while standing:
        last, _ = _lowest(standing, history, rank)
        standing.remove(last)
        below.append(last)
    return TallyResult(
        method=Method.IRV,
        seats=1,
        candidates=names,
        winners=(leader,),
        ranking=(leader, *reversed(below), *reversed(excluded)),
        totals=dict(history[0]),
        valid=valid,
        blank=groups.get((), 0),
        rounds=tuple(rounds),
    )


def count(
    method: str,
    candidates: Sequence[str],
    ballots: Iterable[Ballot],
    *,
    seats: int = 1,
    lot: Sequence[str] | None = None,
    election_id: str = "",
    max_choices: int | None = None,
) -> TallyResult:
    """Count by the named method; the lot order defaults to `lot_order(election_id, candidates)`."""
    try:
        kind = Method(method)
    except ValueError:
        raise ValueError(f"unknown counting method {method!r}") from None
    names = check_candidates(candidates, ValueError)
    order = lot_order(election_id, names) if lot is None else lot
    if max_choices is not None and kind is not Method.APPROVAL:
        raise ValueError(f"max_choices applies to approval only, not {kind}")
    match kind:
        case Method.PLURALITY:
            return count_plurality(names, ballots, seats=seats, lot=order)
        case Method.APPROVAL:
            return count_approval(names, ballots, seats=seats, lot=order, max_choices=max_choices)
        case Method.IRV:
            if seats != 1:
                raise ValueError(f"irv fills one seat, not {seats}")
            return count_irv(names, ballots, lot=order)


def result_to_json(result: TallyResult) -> dict[str, Any]:
    """The result as plain JSON-safe data, dicts keyed in candidate order."""
    return {
        "method": str(result.method),
        "seats": result.seats,
        "candidates": list(result.candidates),
        "winners": list(result.winners),
        "ranking": list(result.ranking),
        "totals": _in_order(result.totals, result.candidates),
        "valid": result.valid,
        "blank": result.blank,
        "rounds": [
            {
                "round": r.number,
                "votes": _in_order(r.votes, result.candidates),
                "exhausted": r.exhausted,
                "elected": list(r.elected),
                "excluded": list(r.excluded),
                "tie_break": None if r.tie_break is None else _tie_break_to_json(r.tie_break),
            }
            for r in result.rounds
        ],
    }


def read_ballot_document(doc: Mapping[str, Any]) -> tuple[str, int, tuple[str, ...], list[Ballot]]:
    """Method, seats, candidates and ballots from a ballot document, or BallotError naming what is wrong."""
    if not isinstance(doc, Mapping):
        raise BallotError("the ballot document must be an object")
    missing = [key for key in DOCUMENT_KEYS if key not in doc]
    if missing:
        raise BallotError(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    method = doc["method"]
    if not isinstance(method, str) or not method:
        raise BallotError(f"'method' must be a non-empty string, not {method!r}")
    if not isinstance(doc["candidates"], list):
        raise BallotError("'candidates' must be a list of names")
    names = check_candidates(doc["candidates"], BallotError)
    seats = doc["seats"]
    check_seats(seats, names, BallotError)
    if not isinstance(doc["ballots"], list):
        raise BallotError("'ballots' must be a list")
    ballots: list[Ballot] = []
    for number, entry in enumerate(doc["ballots"], 1):
        if not isinstance(entry, Mapping):
            raise BallotError(f"ballot {number} is not an object")
        for key in ("ranking", "count"):
            if key not in entry:
                raise BallotError(f"ballot {number} has no {key!r}")
        if not isinstance(entry["ranking"], list):
            raise BallotError(f"ballot {number} ranking must be a list of candidate names")
        ballots.append(Ballot(tuple(entry["ranking"]), entry["count"]))
    return method, seats, names, check_ballots(names, ballots)


def ballot_document(
    method: str, seats: int, candidates: Sequence[str], ballots: Iterable[Ballot], **extra: Any
) -> dict[str, Any]:
    """The canonical ballot document: identical rankings grouped with counts summed, groups sorted by ranking."""
    names = check_candidates(candidates, ValueError)
    check_seats(seats, names, ValueError)
    checked = check_ballots(names, ballots)
    if method == Method.APPROVAL:
        # The order of an approval set means nothing and could single out a voter, so it is dropped.
        position = {name: i for i, name in enumerate(names)}
        checked = [Ballot(tuple(sorted(b.ranking, key=position.__getitem__)), b.count) for b in checked]
    groups = _group(checked)
    return {
        "method": str(method),
        "seats": seats,
        "candidates": list(names),
        "ballots": [{"ranking": list(ranking), "count": groups[ranking]} for ranking in sorted(groups)],
        **extra,
    }


def check_candidates(candidates: Sequence[str], error: type[ValueError]) -> tuple[str, ...]:
    """The candidate names as a tuple, refusing an empty list, blank names and duplicates."""
    if isinstance(candidates, str):
        raise error("candidates must be a list of names, not a string")
    names = tuple(candidates)
    if not names:
        raise error("there must be at least one candidate")
    seen: set[str] = set()
    for number, name in enumerate(names, 1):
        if not isinstance(name, str) or not name:
            raise error(f"candidate {number} is not a non-empty string: {name!r}")
        if name in seen:
            raise error(f"candidate {name!r} is listed twice")
        seen.add(name)
    return names


def check_seats(seats: Any, names: tuple[str, ...], error: type[ValueError]) -> None:
    """Refuse a seat count that is not a whole number between 1 and the number of candidates."""
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise error(f"'seats' must be a positive integer, not {seats!r}")
    if seats > len(names):
        raise error(f"'seats' is {seats} but there are only {len(names)} candidates")


def lot_rank(names: tuple[str, ...], lot: Sequence[str]) -> dict[str, int]:
    """Each candidate's place in the lot order, which must list every candidate once."""
    order = tuple(lot)
    if len(order) != len(names) or set(order) != set(names):
        raise ValueError("the lot order must list every candidate exactly once")
    return {name: i for i, name in enumerate(order)}


def check_ballots(names: tuple[str, ...], ballots: Iterable[Ballot], *, max_choices: int | None = None) -> list[Ballot]:
    """The ballots with tuple rankings, or BallotError for the first bad one (numbered from 1)."""
    known = set(names)
    checked: list[Ballot] = []
    for number, ballot in enumerate(ballots, 1):
        ranking, n = ballot.ranking, ballot.count
        if isinstance(ranking, str) or not isinstance(ranking, Sequence):
            raise BallotError(f"ballot {number} ranking must be a list of candidate names")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise BallotError(f"ballot {number} has count {n!r}; counts must be positive integers")
        seen: set[str] = set()
        for name in ranking:
            if not isinstance(name, str) or name not in known:
                raise BallotError(f"ballot {number} names unknown candidate {name!r}")
            if name in seen:
                raise BallotError(f"ballot {number} repeats candidate {name!r}")
            seen.add(name)
        if max_choices is not None and len(ranking) > max_choices:
            raise BallotError(f"ballot {number} lists {len(ranking)} candidates; at most {max_choices} allowed")
        checked.append(ballot if type(ranking) is tuple else Ballot(tuple(ranking), n))
    return checked


def _group(ballots: Iterable[Ballot]) -> dict[tuple[str, ...], int]:
    """Identical rankings merged, counts summed."""
    groups: dict[tuple[str, ...], int] = {}
    for ballot in ballots:
        groups[ballot.ranking] = groups.get(ballot.ranking, 0) + ballot.count
    return groups


def _first_continuing(groups: Mapping[tuple[str, ...], int], continuing: Sequence[str]) -> tuple[dict[str, int], int]:
    """Votes of each continuing candidate (in the given order) and the number of exhausted ballots."""
    votes = dict.fromkeys(continuing, 0)
    exhausted = 0
    for ranking, n in groups.items():
        top = next((name for name in ranking if name in votes), None)
        if top is None:
            exhausted += n
        else:
            votes[top] += n
    return votes, exhausted


def _lowest(
    pool: Sequence[str], history: Sequence[Mapping[str, int]], rank: Mapping[str, int]
) -> tuple[str, TieBreak | None]:
    """The candidate of `pool` with fewest votes in the latest round, and the tie-break if it took one."""
    latest = history[-1]
    fewest = min(latest[name] for name in pool)
    return break_tie([name for name in pool if latest[name] == fewest], history[:-1], rank, lowest=True)


def break_tie(
    tied: Sequence[str],
    earlier: Sequence[Mapping[str, int]],
    rank: Mapping[str, int],
    *,
    lowest: bool,
    lot_falls_on_first: bool = False,
) -> tuple[str, TieBreak | None]:
    """One of `tied`: lowest (or highest) at the latest earlier round that separates them, else by lot.

    Scottish rules 49 and 51: look back to the most recent round where the tied candidates' votes differed;
    if several still share the extreme there, go on back among those only; the lot settles what is left.
    """
    among = tuple(sorted(tied, key=rank.__getitem__))
    if len(among) == 1:
        return among[0], None
    still = list(among)
    for index in range(len(earlier) - 1, -1, -1):
        votes = earlier[index]
        values = {votes[name] for name in still}
        if len(values) == 1:
            continue
        target = min(values) if lowest else max(values)
        still = [name for name in still if votes[name] == target]
        if len(still) == 1:
            return still[0], TieBreak(TieBreakKind.LOOK_BACK, among, still[0], index + 1)
    # For polls the lot order is an order of preference: its first keeps or wins, its last goes. For STV it is
    # the order names are drawn: the lot falls on the first, to be excluded or elected (`lot_falls_on_first`).
    chosen = still[0] if lot_falls_on_first or not lowest else still[-1]
    return chosen, TieBreak(TieBreakKind.LOT, tuple(still), chosen)


def _single_round(
    method: Method,
    names: tuple[str, ...],
    seats: int,
    rank: Mapping[str, int],
    votes: dict[str, int],
    groups: Mapping[tuple[str, ...], int],
) -> TallyResult:
    """A one-round result: candidates ranked by votes, ties by lot, the first `seats` elected."""
    ranking = tuple(sorted(names, key=lambda name: (-votes[name], rank[name])))
    winners = ranking[:seats]
    blank = groups.get((), 0)
    only = Round(1, votes, blank, winners, (), _seat_tie(ranking, votes, seats))
    return TallyResult(method, seats, names, winners, ranking, dict(votes), sum(groups.values()), blank, (only,))


def _seat_tie(ranking: tuple[str, ...], votes: Mapping[str, int], seats: int) -> TieBreak | None:
    """The lot draw worth recording in a one-round count, or None.

    A round holds one tie-break, so it records the tie that decided who is elected (a group crossing the last
    seat; its first `k` in `among` are elected); failing that, the highest tie among the winners, which set
    the order of election. Other ties only order the losers and can be read from the votes and the lot.
    """
    groups = [tuple(group) for _, group in groupby(ranking, key=votes.__getitem__)]
    crossing = next((g for g in groups if g[0] in ranking[:seats] and g[-1] not in ranking[:seats]), None)
    if crossing is not None:
        return TieBreak(TieBreakKind.LOT, crossing, crossing[0])
    among_winners = next((g for g in groups if len(g) > 1 and g[-1] in ranking[:seats]), None)
    if among_winners is not None:
        return TieBreak(TieBreakKind.LOT, among_winners, among_winners[0])
    return None


def _in_order(votes: Mapping[str, int], candidates: Sequence[str]) -> dict[str, int]:
    """`votes` as a plain dict keyed in candidate order."""
    return {name: votes[name] for name in candidates if name in votes}


def _tie_break_to_json(tie_break: TieBreak) -> dict[str, Any]:
    """A tie-break as plain data."""
    return {
        "kind": str(tie_break.kind),
        "among": list(tie_break.among),
        "chosen": tie_break.chosen,
        "decided_at_round": tie_break.decided_at_round,
    }
