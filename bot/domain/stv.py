"""Scottish STV: the single transferable vote under the Scottish local government rules (SSI 2007/42, rules
45-52), counted in whole units of 0.00001 of a vote so that every run on every machine gives the same answer.

- Quota (rule 46): floor(valid ballots / (seats + 1)) + 1; a candidate is elected on reaching it.
- Surpluses (rules 48-49): the largest first; every ballot of a candidate elected at the first stage, or only
  the parcel last received by one elected later, passes to its next continuing preference at a transfer value
  of surplus x the ballot's value / the candidate's votes, truncated to five decimal places. No surplus waits.
- Exclusion (rules 50-51): with no surplus left, the candidate with fewest votes is excluded and every ballot
  they hold passes on at the value it had, in one stage.
- Ties (rules 49 and 51): the most recent earlier stage at which the tied candidates' votes differed decides;
  where the rules say "by lot", a candidate order derived from the election and published before voting.
- Rule 52: when the continuing candidates are as many as the seats left, they are all elected.

Every stage is kept with what was done and why, so the count can be explained and repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.domain.tally import Ballot, TieBreak, break_tie, check_ballots, check_candidates, check_seats, lot_rank

SCALE = 100_000  # one vote, in the units the count works in (five decimal places)


class StageAction(StrEnum):
    """What a stage of the count did."""

    FIRST = "first_preferences"
    SURPLUS = "surplus"
    EXCLUSION = "exclusion"
    FILLED = "remaining_elected"


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: what was done (to whom), everyone's votes after it (in units), and who was elected."""

    number: int
    action: StageAction
    subject: str | None
    votes: dict[str, int]
    non_transferable: int
    elected: tuple[str, ...]
    excluded: tuple[str, ...]
    tie_break: TieBreak | None
    transferred: int = 0


@dataclass(frozen=True, slots=True)
class StvResult:
    """The outcome of a Scottish STV count, with every stage."""

    seats: int
    candidates: tuple[str, ...]
    winners: tuple[str, ...]
    quota: int
    valid: int
    blank: int
    stages: tuple[Stage, ...]
    lot: tuple[str, ...]


def votes_text(units: int) -> str:
    """Units as a decimal with five places: 1234.56789."""
    return f"{units // SCALE}.{units % SCALE:05d}"


# A parcel entry: the ranking (candidate indices), the position of the candidate holding it, how many identical
# ballots, and the value of each (units).
_Entry = tuple[tuple[int, ...], int, int, int]


class _Count:
    """The mutable state of one count; `run` returns the result."""

    def __init__(self, names: tuple[str, ...], seats: int, groups: dict[tuple[int, ...], int], rank: dict[str, int]):
        self.names = names
        self.seats = seats
        self.rank = rank
        self.valid = sum(n for ranking, n in groups.items() if ranking)
        self.quota = (self.valid // (seats + 1) + 1) * SCALE
        self.votes = [0] * len(names)
        self.parcels: list[list[list[_Entry]]] = [[] for _ in names]
        self.continuing = [True] * len(names)
        self.elected: list[int] = []
        self.excluded: list[int] = []
        self.awaiting_surplus: list[int] = []
        self.non_transferable = 0
        self.history: list[dict[str, int]] = []
        self.stages: list[Stage] = []
        first: list[list[_Entry]] = [[] for _ in names]
        for ranking in sorted(groups):
            if ranking:
                first[ranking[0]].append((ranking, 0, groups[ranking], SCALE))
                self.votes[ranking[0]] += groups[ranking] * SCALE
        for index, parcel in enumerate(first):
            if parcel:
                self.parcels[index].append(parcel)

    def run(self) -> tuple[Stage, ...]:
        """Count to the end."""
        self._close_stage(StageAction.FIRST, None, None)
        while len(self.elected) < self.seats:
            standing = [i for i, going in enumerate(self.continuing) if going]
            if len(standing) <= self.seats - len(self.elected):
                self._elect_remaining(standing)
                break
            surplus = [i for i in self.awaiting_surplus if self.votes[i] > self.quota]
            self.awaiting_surplus = surplus
            if surplus:
                self._transfer_surplus(surplus)
            else:
                self._exclude_lowest(standing)
        return tuple(self.stages)

    def _snapshot(self) -> dict[str, int]:
        return dict(zip(self.names, self.votes, strict=True))

    def _close_stage(self, action: StageAction, subject: int | None, tie_break: TieBreak | None,
                     excluded: tuple[int, ...] = (), transferred: int = 0) -> None:  # fmt: skip
        """Record the stage and elect whoever reached the quota, highest first (ties as rule 49 orders them)."""
        self.history.append(self._snapshot())
        reached = [i for i, going in enumerate(self.continuing) if going and self.votes[i] >= self.quota]
        order, order_tie = self._by_votes(reached)
        elected = order[: self.seats - len(self.elected)]
        for index in elected:
            self._elect(index)
        self.stages.append(
            Stage(
                number=len(self.stages) + 1,
                action=action,
                subject=None if subject is None else self.names[subject],
                votes=self.history[-1],
                non_transferable=self.non_transferable,
                elected=tuple(self.names[i] for i in elected),
                excluded=tuple(self.names[i] for i in excluded),
                tie_break=tie_break or order_tie,
                transferred=transferred,
            )
        )

    def _by_votes(self, pool: list[int]) -> tuple[list[int], TieBreak | None]:
        """`pool` highest first, equal votes ordered as rule 49 orders surpluses; the first tie-break it took."""
        order: list[int] = []
        first_tie: TieBreak | None = None
        left = list(pool)
        while left:
            top = max(self.votes[i] for i in left)
            tied = [self.names[i] for i in left if self.votes[i] == top]
            name, tie = break_tie(tied, self.history[:-1], self.rank, lowest=False, lot_falls_on_first=True)
            first_tie = first_tie or tie
            index = self.names.index(name)
            left.remove(index)
            order.append(index)
        return order, first_tie

    def _elect(self, index: int) -> None:
        self.continuing[index] = False
        self.elected.append(index)
        self.awaiting_surplus.append(index)

    def _transfer_surplus(self, surplus: list[int]) -> None:
        """Rules 48-49: the largest surplus passes on; a tie goes to whoever had more at an earlier stage."""
        top = max(self.votes[i] for i in surplus)
        tied = [self.names[i] for i in surplus if self.votes[i] == top]
        name, tie = break_tie(tied, self.history[:-1], self.rank, lowest=False, lot_falls_on_first=True)
        index = self.names.index(name)
        self.awaiting_surplus.remove(index)
        total = self.votes[index]
        excess = total - self.quota
        # A candidate elected at the first stage holds one parcel, their first preferences; one elected later
        # passes on only the parcel that took them over the quota (rule 48(3)): either way, the last one.
        parcel = self.parcels[index][-1]
        moved = self._pass_on(parcel, lambda value: excess * value // total)
        self.votes[index] = self.quota
        self._close_stage(StageAction.SURPLUS, index, tie, transferred=moved)

    def _exclude_lowest(self, standing: list[int]) -> None:
        """Rules 50-51: the candidate with fewest votes goes, a tie to whoever had fewer at an earlier stage."""
        bottom = min(self.votes[i] for i in standing)
        tied = [self.names[i] for i in standing if self.votes[i] == bottom]
        name, tie = break_tie(tied, self.history[:-1], self.rank, lowest=True, lot_falls_on_first=True)
        index = self.names.index(name)
        self.continuing[index] = False
        self.excluded.append(index)
        # One stage for all they hold, so whoever this elects has received one parcel in it (rule 48(3)).
        held = [entry for parcel in self.parcels[index] for entry in parcel]
        moved = self._pass_on(held, lambda value: value)
        self.parcels[index] = []
        self.votes[index] = 0
        self._close_stage(StageAction.EXCLUSION, index, tie, excluded=(index,), transferred=moved)

    def _pass_on(self, parcel: list[_Entry], value_of: Any) -> int:
        """Move a parcel's ballots to their next continuing preference at the value `value_of` gives each; the
        units transferred. Ballots with no continuing preference left are non-transferable."""
        continuing = self.continuing
        received: dict[int, list[_Entry]] = {}
        moved = 0
        for ranking, position, count, value in parcel:
            worth = value_of(value)
            following = position + 1
            length = len(ranking)
            while following < length and not continuing[ranking[following]]:
                following += 1
            if following == length:
                self.non_transferable += worth * count
                continue
            if worth == 0:
                continue  # a ballot worth nothing changes no total from here on
            target = ranking[following]
            received.setdefault(target, []).append((ranking, following, count, worth))
            self.votes[target] += worth * count
            moved += worth * count
        for target in sorted(received):
            self.parcels[target].append(received[target])
        return moved

    def _elect_remaining(self, standing: list[int]) -> None:
        """Rule 52: as many continuing candidates as seats left: all are elected, in order of votes."""
        order, tie_seen = self._by_votes(standing)
        for index in order:
            self.continuing[index] = False
            self.elected.append(index)
        self.stages.append(
            Stage(
                len(self.stages) + 1,
                StageAction.FILLED,
                None,
                self._snapshot(),
                self.non_transferable,
                tuple(self.names[i] for i in order),
                (),
                tie_seen,
            )
        )


def count_stv(candidates: Sequence[str], ballots: Iterable[Ballot], *, seats: int, lot: Sequence[str]) -> StvResult:
    """Count ranked ballots by Scottish STV for `seats` seats; `lot` is the published order for ties by lot."""
    names = check_candidates(candidates, ValueError)
    check_seats(seats, names, ValueError)
    rank = lot_rank(names, lot)
    groups = _grouped(names, list(ballots))
    count = _Count(names, seats, groups, rank)
    stages = count.run()
    return StvResult(
        seats=seats,
        candidates=names,
        winners=tuple(names[i] for i in count.elected),
        quota=count.quota,
        valid=count.valid,
        blank=groups.get((), 0),
        stages=stages,
        lot=tuple(sorted(names, key=rank.__getitem__)),
    )


def _grouped(names: tuple[str, ...], ballots: list[Ballot]) -> dict[tuple[int, ...], int]:
    """Identical rankings merged, as candidate indices. Each distinct ranking is checked once (a million
    ballots hold far fewer distinct rankings); anything wrong is reported by ballot number, as `check_ballots`
    words it."""
    raw: dict[tuple[str, ...], int] = {}
    for ballot in ballots:
        ranking, n = ballot.ranking, ballot.count
        if type(ranking) is not tuple or type(n) is not int or n < 1:
            check_ballots(names, ballots)  # raises, naming the ballot
            raw = {}
            for checked in check_ballots(names, ballots):
                raw[checked.ranking] = raw.get(checked.ranking, 0) + checked.count
            break
        raw[ranking] = raw.get(ranking, 0) + n
    position = {name: i for i, name in enumerate(names)}
    groups: dict[tuple[int, ...], int] = {}
    for ranking, n in raw.items():
        try:
            key = tuple(position[name] for name in ranking)
        except (KeyError, TypeError):
            key = ()
        if len(set(key)) != len(ranking):
            check_ballots(names, ballots)  # raises, naming the ballot
        groups[key] = groups.get(key, 0) + n
    return groups


def stv_to_json(result: StvResult) -> dict[str, Any]:
    """The result as JSON-safe data: votes as decimal strings with five places, dicts in candidate order."""
    return {
        "method": "stv",
        "rules": "Scottish STV, SSI 2007/42 rules 45-52",
        "seats": result.seats,
        "candidates": list(result.candidates),
        "winners": list(result.winners),
        "valid": result.valid,
        "blank": result.blank,
        "quota": votes_text(result.quota),
        "tie_break_order": list(result.lot),
        "rounds": [
            {
                "round": stage.number,
                "action": str(stage.action),
                "subject": stage.subject,
                "transferred": votes_text(stage.transferred),
                "votes": {name: votes_text(stage.votes[name]) for name in result.candidates},
                "non_transferable": votes_text(stage.non_transferable),
                "elected": list(stage.elected),
                "excluded": list(stage.excluded),
                "tie_break": None
                if stage.tie_break is None
                else {
                    "kind": str(stage.tie_break.kind),
                    "among": list(stage.tie_break.among),
                    "chosen": stage.tie_break.chosen,
                    "decided_at_round": stage.tie_break.decided_at_round,
                },
            }
            for stage in result.stages
        ],
    }
