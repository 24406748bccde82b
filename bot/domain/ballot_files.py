"""Ballot files as `vecinos tally` reads them: BLT (the usual STV format) and the JSON that polls and elections
publish; counting one by any method; the result as a table a person can read.

BLT: `candidates seats`, optional withdrawn candidates as negative numbers on one line, one line per group of
identical ballots `count pref1 pref2 ... 0` (candidates numbered from 1), a line `0`, the candidate names in
double quotes, one a line, then the election's title in quotes.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.stv import count_stv, stv_to_json, votes_text
from bot.domain.tally import Ballot, BallotError, Method, count, read_ballot_document, result_to_json

STV = "stv"
METHODS = (STV, *(m.value for m in Method))


class BallotFileError(BallotError):
    """A ballot file that cannot be read: the message names the problem and, where there is one, the line."""


@dataclass(frozen=True, slots=True)
class BallotFile:
    """What a ballot file holds."""

    method: str
    seats: int
    candidates: tuple[str, ...]
    ballots: list[Ballot]
    title: str
    tie_break_order: tuple[str, ...] | None = None


def read_ballot_file(text: str) -> BallotFile:
    """A BLT or JSON ballot file, told apart by its first character."""
    if text.lstrip().startswith("{"):
        return read_json_ballots(text)
    return read_blt(text)


def read_json_ballots(text: str) -> BallotFile:
    """The JSON ballot document (`method`, `seats`, `candidates`, `ballots`; optional `tie_break_order`)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BallotFileError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        method, seats, names, ballots = read_ballot_document(doc)
    except BallotError as exc:
        raise BallotFileError(str(exc)) from None
    if method not in METHODS:
        raise BallotFileError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    order = doc.get("tie_break_order")
    if order is not None and (not isinstance(order, list) or sorted(map(str, order)) != sorted(names)):
        raise BallotFileError("'tie_break_order' must list every candidate exactly once")
    title = str(doc.get("question") or doc.get("title") or "")
    return BallotFile(method, seats, names, ballots, title, tuple(order) if order is not None else None)


def read_blt(text: str) -> BallotFile:
    """A BLT file; withdrawn candidates are left out of every ballot and of the count."""
    lines = [(number, line.split("#", 1)[0].strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line]
    if not lines:
        raise BallotFileError("the file is empty")
    cursor = iter(lines)
    number, head = next(cursor)
    candidates, seats = _integers(head, number, "the first line must be `candidates seats`", exactly=2)
    if candidates < 1 or seats < 1 or seats > candidates:
        raise BallotFileError(f"line {number}: {candidates} candidates and {seats} seats cannot be counted")
    withdrawn: set[int] = set()
    groups: list[tuple[int, list[int]]] = []
    for number, line in cursor:
        if line.startswith("-"):
            withdrawn |= {-n for n in _integers(line, number, "withdrawn candidates are negative numbers")}
            if any(n < 1 or n > candidates for n in withdrawn):
                raise BallotFileError(f"line {number}: a withdrawn candidate is not between 1 and {candidates}")
            continue
        if line == "0":
            break
        if line.startswith("("):
            line = line.split(")", 1)[-1].strip()  # an optional ballot id
        if "=" in line:
            raise BallotFileError(f"line {number}: equal preferences (=) are not allowed in an STV ballot")
        values = _integers(line, number, "a ballot line is `count pref1 pref2 ... 0`")
        if len(values) < 2 or values[-1] != 0:
            raise BallotFileError(f"line {number}: a ballot line must end with 0")
        weight, preferences = values[0], values[1:-1]
        if weight < 1:
            raise BallotFileError(f"line {number}: the ballot count must be a positive whole number")
        for preference in preferences:
            if preference < 1 or preference > candidates:
                raise BallotFileError(f"line {number}: candidate {preference} is not between 1 and {candidates}")
        if len(set(preferences)) != len(preferences):
            raise BallotFileError(f"line {number}: a ballot ranks the same candidate twice")
        groups.append((weight, preferences))
    else:
        raise BallotFileError("the ballots must end with a line holding 0")
    names: list[str] = []
    for number, line in cursor:
        try:
            words = shlex.split(line)
        except ValueError:
            raise BallotFileError(f"line {number}: a name must be in double quotes") from None
        if len(words) != 1 or not line.startswith('"'):
            raise BallotFileError(f"line {number}: a name must be in double quotes")
        names.append(words[0])
    if len(names) < candidates:
        raise BallotFileError(f"the file names {len(names)} candidates but its first line says {candidates}")
    title = names[candidates] if len(names) > candidates else ""
    if len(names) > candidates + 1:
        raise BallotFileError(f"the file has {len(names) - candidates - 1} more quoted lines than names and title")
    names = names[:candidates]
    if len(set(names)) != len(names):
        raise BallotFileError("two candidates have the same name")
    standing = tuple(name for i, name in enumerate(names, 1) if i not in withdrawn)
    if seats > len(standing):
        raise BallotFileError(f"{seats} seats but only {len(standing)} candidates who have not withdrawn")
    ballots = [
        Ballot(tuple(names[p - 1] for p in preferences if p not in withdrawn), weight) for weight, preferences in groups
    ]
    return BallotFile(STV, seats, standing, ballots, title)


def to_blt(document: Mapping[str, Any]) -> str:
    """A ballot document (the JSON polls and elections publish) as BLT: identical rankings grouped, in a
    canonical order, so that the same ballots always give the same file."""
    candidates = [str(c) for c in document["candidates"]]
    number = {name: i for i, name in enumerate(candidates, 1)}
    groups: dict[tuple[int, ...], int] = {}
    for ballot in document["ballots"]:
        ranking = tuple(number[name] for name in ballot["ranking"])
        if ranking:
            groups[ranking] = groups.get(ranking, 0) + int(ballot.get("count", 1))
    lines = [f"{len(candidates)} {int(document.get('seats', 1))}"]
    lines += [f"{groups[ranking]} {' '.join(map(str, ranking))} 0" for ranking in sorted(groups)]
    lines.append("0")
    lines += [_quoted(name) for name in candidates]
    lines.append(_quoted(str(document.get("question") or document.get("title") or "")))
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _integers(line: str, number: int, expected: str, exactly: int | None = None) -> list[int]:
    try:
        values = [int(word) for word in line.split()]
    except ValueError:
        raise BallotFileError(f"line {number}: {expected}") from None
    if exactly is not None and len(values) != exactly:
        raise BallotFileError(f"line {number}: {expected}")
    return values


def count_file(ballot_file: BallotFile, *, method: str | None = None, seats: int | None = None) -> dict[str, Any]:
    """Count a ballot file (its own method and seats unless given) into the JSON `vecinos tally` prints."""
    chosen = method or ballot_file.method
    if chosen not in METHODS:
        raise BallotFileError(f"unknown method {chosen!r}: use one of {', '.join(METHODS)}")
    # Asked to count another method's file by instant runoff, count its one seat (a file that says irv for
    # several seats is refused).
    recount_by_irv = method == Method.IRV and ballot_file.method != Method.IRV
    places = seats or (1 if recount_by_irv else ballot_file.seats)
    # Without a published order, the file's own candidate order is the lot, as in other STV counters.
    lot = ballot_file.tie_break_order or ballot_file.candidates
    try:
        if chosen == STV:
            return stv_to_json(count_stv(ballot_file.candidates, ballot_file.ballots, seats=places, lot=lot))
        return result_to_json(count(chosen, ballot_file.candidates, ballot_file.ballots, seats=places, lot=lot))
    except ValueError as exc:
        raise BallotFileError(str(exc)) from None


def result_table(result: Mapping[str, Any]) -> str:
    """A count as a fixed-width table: one column per round, one row per candidate, then what each round did."""
    rounds: Sequence[Mapping[str, Any]] = result["rounds"]
    names: list[str] = list(result["candidates"])
    cells = [[_cell(r["votes"].get(name)) for r in rounds] for name in names]
    label_width = max([len(n) for n in names] + [len("non-transferable")])
    widths = [max([len(f"R{r['round']}")] + [len(row[i]) for row in cells]) for i, r in enumerate(rounds)]
    lines = [
        " ".join(["".ljust(label_width)] + [f"R{r['round']}".rjust(w) for r, w in zip(rounds, widths, strict=True)])
    ]
    for name, row in zip(names, cells, strict=True):
        lines.append(" ".join([name.ljust(label_width)] + [c.rjust(w) for c, w in zip(row, widths, strict=True)]))
    spare = "non_transferable" if "quota" in result else "exhausted"
    lines.append(
        " ".join(
            ["non-transferable".ljust(label_width)]
            + [_cell(r.get(spare)).rjust(w) for r, w in zip(rounds, widths, strict=True)]
        )
    )
    lines.append("")
    if "quota" in result:
        lines.append(f"valid ballots {result['valid']}, quota {result['quota']}, seats {result['seats']}")
    for r in rounds:
        lines.append(f"R{r['round']}: {_round_text(r)}")
    lines.append("elected, in order: " + ", ".join(result["winners"]))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _round_text(r: Mapping[str, Any]) -> str:
    action = r.get("action")
    parts = []
    if action == "surplus":
        parts.append(f"surplus of {r['subject']} transferred ({r['transferred']})")
    elif action == "exclusion":
        parts.append(f"{r['subject']} excluded, {r['transferred']} transferred")
    elif action == "remaining_elected":
        parts.append("as many candidates left as seats")
    elif action == "first_preferences":
        parts.append("first preferences")
    elif r.get("excluded"):
        parts.append(f"{', '.join(r['excluded'])} excluded")
    if r.get("elected"):
        parts.append(f"elected: {', '.join(r['elected'])}")
    tie = r.get("tie_break")
    if tie:
        how = f"by round {tie['decided_at_round']}" if tie["kind"] == "look_back" else "by the published lot order"
        parts.append(f"tie among {', '.join(tie['among'])} settled {how}: {tie['chosen']}")
    return "; ".join(parts) or "count"


__all__ = [
    "METHODS",
    "BallotFile",
    "BallotFileError",
    "count_file",
    "read_ballot_file",
    "read_blt",
    "read_json_ballots",
    "result_table",
    "to_blt",
    "votes_text",
]
