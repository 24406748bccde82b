"""The vote counter: plurality, approval and IRV, tie-breaks, ballot documents, determinism."""

from __future__ import annotations

import json
import random
import re

import pytest

from bot.domain.tally import (
    Ballot,
    BallotError,
    Round,
    TieBreak,
    TieBreakKind,
    ballot_document,
    count,
    count_approval,
    count_irv,
    count_plurality,
    lot_order,
    read_ballot_document,
    result_to_json,
)

LOT = TieBreakKind.LOT
LOOK_BACK = TieBreakKind.LOOK_BACK


def names(text: str) -> tuple[str, ...]:
    """One-letter candidate names: "ABC" -> ("A", "B", "C")."""
    return tuple(text)


def bs(*specs: str) -> list[Ballot]:
    """Ballots written "A>B*3" (ranking A then B, three of them); "" is a blank ballot, "*2" two."""
    ballots = []
    for spec in specs:
        ranking, _, n = spec.partition("*")
        ballots.append(Ballot(tuple(ranking.split(">")) if ranking else (), int(n or 1)))
    return ballots


def tie(kind: TieBreakKind, among: str, chosen: str, at: int | None = None) -> TieBreak:
    return TieBreak(kind, names(among), chosen, at)


# --- plurality ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ballots", "seats", "lot", "winners", "ranking", "tie_break"),
    [
        pytest.param(bs("A*3", "B*2", "C"), 1, "ABCD", "A", "ABCD", None, id="clear-winner"),
        pytest.param(bs("A>B*2", "B>A*3", "C>A"), 1, "ABCD", "B", "BACD", None, id="first-preference-only"),
        pytest.param(bs("A*2", "B*2", "C"), 1, "BACD", "B", "BACD", tie(LOT, "BA", "B"), id="tie-by-lot"),
        pytest.param(bs("A*2", "B*2", "C"), 1, "ABCD", "A", "ABCD", tie(LOT, "AB", "A"), id="tie-other-lot"),
        pytest.param(bs("A*5", "B*4", "C*3"), 2, "DCBA", "AB", "ABCD", None, id="two-seats"),
        pytest.param(bs("A*5", "B*3", "C*3", "D"), 2, "DCBA", "AC", "ACBD", tie(LOT, "CB", "C"), id="two-seats-tie"),
        pytest.param(bs("A*4", "B*4", "C"), 2, "BACD", "BA", "BACD", tie(LOT, "BA", "B"), id="tie-among-winners"),
        pytest.param(
            bs("A*5", "B*2", "C*2", "D*2"), 3, "DCBA", "ADC", "ADCB", tie(LOT, "DCB", "D"), id="tie-over-last-seat"
        ),
        pytest.param(bs("A*3", "B", "C", "D*2"), 1, "DCBA", "A", "ADCB", None, id="losers-tie-not-recorded"),
        pytest.param(bs("A", "B", "C", "D"), 4, "CADB", "CADB", "CADB", tie(LOT, "CADB", "C"), id="every-seat-tied"),
    ],
)
def test_plurality(ballots, seats, lot, winners, ranking, tie_break):
    result = count_plurality(names("ABCD"), ballots, seats=seats, lot=names(lot))
    assert result.method == "plurality"
    assert result.winners == names(winners)
    assert result.ranking == names(ranking)
    (only,) = result.rounds
    assert only.tie_break == tie_break
    assert only.elected == result.winners
    assert only.votes == result.totals
    assert only.excluded == ()


def test_plurality_totals_cover_every_candidate():
    result = count_plurality(names("ABC"), bs("A*3", "B"), lot=names("ABC"))
    assert result.totals == {"A": 3, "B": 1, "C": 0}
    assert (result.valid, result.blank) == (4, 0)


# --- approval ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ballots", "seats", "lot", "totals", "winners", "ranking", "tie_break"),
    [
        pytest.param(bs("A>B*2", "B>C", "C"), 1, "ABC", (2, 3, 2), "B", "BAC", None, id="counts"),
        pytest.param(bs("C>A", "A"), 1, "ABC", (2, 0, 1), "A", "ACB", None, id="order-irrelevant"),
        pytest.param(bs("A>B*2", "C*2"), 1, "CAB", (2, 2, 2), "C", "CAB", tie(LOT, "CAB", "C"), id="three-way-tie"),
        pytest.param(bs("A>B*3", "B>C*2", "C"), 2, "ACB", (3, 5, 3), "BA", "BAC", tie(LOT, "AC", "A"), id="seat-tie"),
        pytest.param(bs("A>B>C", "*2"), 1, "BAC", (1, 1, 1), "B", "BAC", tie(LOT, "BAC", "B"), id="blank"),
    ],
)
def test_approval(ballots, seats, lot, totals, winners, ranking, tie_break):
    result = count_approval(names("ABC"), ballots, seats=seats, lot=names(lot))
    assert result.method == "approval"
    assert result.totals == dict(zip("ABC", totals, strict=True))
    assert result.winners == names(winners)
    assert result.ranking == names(ranking)
    assert result.rounds[0].tie_break == tie_break


@pytest.mark.parametrize(
    ("ballots", "max_choices", "message"),
    [
        (bs("A", "A>B>C"), 2, "ballot 2 lists 3 candidates; at most 2 allowed"),
        (bs("A>B"), 1, "ballot 1 lists 2 candidates; at most 1 allowed"),
        (bs("A>B>A"), None, "ballot 1 repeats candidate 'A'"),
    ],
)
def test_approval_refuses(ballots, max_choices, message):
    with pytest.raises(BallotError, match=re.escape(message)):
        count_approval(names("ABC"), ballots, lot=names("ABC"), max_choices=max_choices)


def test_approval_up_to_max_choices_is_fine():
    result = count_approval(names("ABC"), bs("A>B", "C"), lot=names("ABC"), max_choices=2)
    assert result.totals == {"A": 1, "B": 1, "C": 1}


# --- IRV ---------------------------------------------------------------------------------------------------


def rnd(number, votes, exhausted=0, elected="", excluded="", tie_break=None) -> Round:
    return Round(number, votes, exhausted, names(elected), names(excluded), tie_break)


IRV_CASES = [
    pytest.param(
        "ABC",
        bs("A*6", "B*3", "C*2"),
        "ABC",
        "ABC",
        [rnd(1, {"A": 6, "B": 3, "C": 2}, elected="A")],
        id="majority-in-round-1",
    ),
    pytest.param(
        "ABCD",
        bs("A*8", "B*7", "C>B*5", "D>C*2", "D>B"),
        "ABCD",
        "BACD",
        [
            rnd(1, {"A": 8, "B": 7, "C": 5, "D": 3}, excluded="D"),
            rnd(2, {"A": 8, "B": 8, "C": 7}, excluded="C"),
            rnd(3, {"A": 8, "B": 13}, exhausted=2, elected="B"),
        ],
        id="transfers-over-three-rounds",
    ),
    pytest.param(
        # A ends with 5 of 12 ballots: short of half of all, but more than half of the 9 still in play.
        "ABC",
        bs("A*5", "B*4", "C*3"),
        "ABC",
        "ABC",
        [rnd(1, {"A": 5, "B": 4, "C": 3}, excluded="C"), rnd(2, {"A": 5, "B": 4}, exhausted=3, elected="A")],
        id="majority-of-continuing-ballots",
    ),
    pytest.param(
        "ABC",
        bs("A*3", "B*2", "C"),
        "ABC",
        "ABC",
        [rnd(1, {"A": 3, "B": 2, "C": 1}, excluded="C"), rnd(2, {"A": 3, "B": 2}, exhausted=1, elected="A")],
        id="exactly-half-is-not-a-majority",
    ),
    pytest.param(
        # The lot would exclude B (last in it); looking back to round 1, C had fewer and goes instead.
        "ABCD",
        bs("A*10", "B*6", "C>B*5", "D>C", "D"),
        "CADB",
        "BACD",
        [
            rnd(1, {"A": 10, "B": 6, "C": 5, "D": 2}, excluded="D"),
            rnd(2, {"A": 10, "B": 6, "C": 6}, exhausted=1, excluded="C", tie_break=tie(LOOK_BACK, "CB", "C", 1)),
            rnd(3, {"A": 10, "B": 11}, exhausted=2, elected="B"),
        ],
        id="exclusion-tie-by-look-back",
    ),
    pytest.param(
        # X and Y tie in round 3; round 2 (X ahead) decides, not round 1 (Y ahead), nor the lot (X last in it).
        "AXYPQ",
        bs("A*7", "X*4", "Y>X*5", "P>X*2", "Q>Y", "Q*2"),
        "YAPQX",
        "XAYQP",
        [
            rnd(1, {"A": 7, "X": 4, "Y": 5, "P": 2, "Q": 3}, excluded="P"),
            rnd(2, {"A": 7, "X": 6, "Y": 5, "Q": 3}, excluded="Q"),
            rnd(3, {"A": 7, "X": 6, "Y": 6}, exhausted=2, excluded="Y", tie_break=tie(LOOK_BACK, "YX", "Y", 2)),
            rnd(4, {"A": 7, "X": 11}, exhausted=3, elected="X"),
        ],
        id="look-back-to-the-most-recent-difference",
    ),
    pytest.param(
        "ABC",
        bs("A*4", "B>C*3", "C>B*3"),
        "ABC",
        "BAC",
        [
            rnd(1, {"A": 4, "B": 3, "C": 3}, excluded="C", tie_break=tie(LOT, "BC", "C")),
            rnd(2, {"A": 4, "B": 6}, elected="B"),
        ],
        id="exclusion-tie-by-lot",
    ),
    pytest.param(
        "ABC",
        bs("A*4", "B>C*3", "C>B*3"),
        "CBA",
        "CAB",
        [
            rnd(1, {"A": 4, "B": 3, "C": 3}, excluded="B", tie_break=tie(LOT, "CB", "B")),
            rnd(2, {"A": 4, "C": 6}, elected="C"),
        ],
        id="exclusion-tie-by-other-lot",
    ),
    pytest.param(
        # Round 2: B, C, D tie; round 1 spares D, and B and C were never apart, so the lot goes on between them.
        # Round 3: B and D tie and were equal in round 2, so the look-back reaches round 1.
        "ABCDH",
        bs("A*5", "B*3", "C*3", "D*4", "H>B", "H>C"),
        "ABCDH",
        "ADBCH",
        [
            rnd(1, {"A": 5, "B": 3, "C": 3, "D": 4, "H": 2}, excluded="H"),
            rnd(2, {"A": 5, "B": 4, "C": 4, "D": 4}, excluded="C", tie_break=tie(LOT, "BC", "C")),
            rnd(3, {"A": 5, "B": 4, "D": 4}, exhausted=4, excluded="B", tie_break=tie(LOOK_BACK, "BD", "B", 1)),
            rnd(4, {"A": 5, "D": 4}, exhausted=8, elected="A"),
        ],
        id="look-back-narrows-then-lot",
    ),
    pytest.param(
        "ABCYZ",
        bs("A*4", "B*3", "C>B*2"),
        "ABCZY",
        "BACZY",
        [
            rnd(1, {"A": 4, "B": 3, "C": 2, "Y": 0, "Z": 0}, excluded="Y", tie_break=tie(LOT, "ZY", "Y")),
            rnd(2, {"A": 4, "B": 3, "C": 2, "Z": 0}, excluded="Z"),
            rnd(3, {"A": 4, "B": 3, "C": 2}, excluded="C"),
            rnd(4, {"A": 4, "B": 5}, elected="B"),
        ],
        id="zero-vote-candidates-go-first",
    ),
    pytest.param(
        "ABC",
        bs("A*3", "B*2", "*2"),
        "ABC",
        "ABC",
        [rnd(1, {"A": 3, "B": 2, "C": 0}, exhausted=2, elected="A")],
        id="blank-ballots-exhausted-from-round-1",
    ),
    pytest.param(
        "AB",
        bs("*3"),
        "AB",
        "AB",
        [rnd(1, {"A": 0, "B": 0}, exhausted=3, excluded="B", tie_break=tie(LOT, "AB", "B")), rnd(2, {"A": 0}, 3, "A")],
        id="all-blank-last-one-standing",
    ),
    pytest.param("A", bs("A*2"), "A", "A", [rnd(1, {"A": 2}, elected="A")], id="single-candidate"),
]


@pytest.mark.parametrize(("candidates", "ballots", "lot", "ranking", "rounds"), IRV_CASES)
def test_irv(candidates, ballots, lot, ranking, rounds):
    result = count_irv(names(candidates), ballots, lot=names(lot))
    assert result.method == "irv"
    assert result.seats == 1
    assert result.rounds == tuple(rounds)
    assert result.winners == (ranking[0],)
    assert result.ranking == names(ranking)
    assert result.totals == rounds[0].votes
    assert result.valid == sum(b.count for b in ballots)


def test_irv_transfer_case_winner_was_second_on_first_preferences():
    result = count_irv(names("ABCD"), bs("A*8", "B*7", "C>B*5", "D>C*2", "D>B"), lot=names("ABCD"))
    assert max(result.totals, key=result.totals.__getitem__) == "A"
    assert result.winners == ("B",)


def test_irv_majority_of_continuing_ballots_only():
    result = count_irv(names("ABC"), bs("A*5", "B*4", "C*3"), lot=names("ABC"))
    last = result.rounds[-1]
    assert 2 * last.votes["A"] < result.valid
    assert 2 * last.votes["A"] > result.valid - last.exhausted


# --- blank ballots -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "ballots", "valid", "blank", "totals"),
    [
        ("plurality", bs("A*2", "B", "*3"), 6, 3, {"A": 2, "B": 1, "C": 0}),
        ("approval", bs("A>B*2", "B", "*3"), 6, 3, {"A": 2, "B": 3, "C": 0}),
        ("irv", bs("A>B*2", "B", "*3"), 6, 3, {"A": 2, "B": 1, "C": 0}),
        ("plurality", bs("*4"), 4, 4, {"A": 0, "B": 0, "C": 0}),
    ],
)
def test_blank_ballots(method, ballots, valid, blank, totals):
    result = count(method, names("ABC"), ballots, lot=names("ABC"))
    assert (result.valid, result.blank, result.totals) == (valid, blank, totals)
    assert result.rounds[0].exhausted == blank


# --- determinism -------------------------------------------------------------------------------------------


def random_election(rng: random.Random, method: str) -> tuple[tuple[str, ...], list[Ballot]]:
    candidates = names("ABCDEF"[: rng.randint(2, 6)])
    ballots = []
    for _ in range(rng.randint(1, 25)):
        length = rng.randint(0, 1 if method == "plurality" else len(candidates))
        ballots.append(Ballot(tuple(rng.sample(candidates, length)), rng.randint(1, 4)))
    return candidates, ballots


def split_and_shuffle(rng: random.Random, ballots: list[Ballot]) -> list[Ballot]:
    """The same ballots split into single ones, shuffled, with runs of identical ones sometimes regrouped."""
    singles = [Ballot(b.ranking) for b in ballots for _ in range(b.count)]
    rng.shuffle(singles)
    regrouped: list[Ballot] = []
    for ballot in singles:
        if regrouped and regrouped[-1].ranking == ballot.ranking and rng.random() < 0.5:
            regrouped[-1] = Ballot(ballot.ranking, regrouped[-1].count + 1)
        else:
            regrouped.append(ballot)
    return regrouped


@pytest.mark.parametrize("method", ["plurality", "approval", "irv"])
@pytest.mark.parametrize("seed", range(40))
def test_ballot_order_does_not_change_the_result(method, seed):
    rng = random.Random(seed)
    candidates, ballots = random_election(rng, method)
    seats = 1 if method == "irv" else rng.randint(1, len(candidates))
    first = result_to_json(count(method, candidates, ballots, seats=seats, election_id=f"e{seed}"))
    again = result_to_json(
        count(method, candidates, split_and_shuffle(rng, ballots), seats=seats, election_id=f"e{seed}")
    )
    assert again == first
    assert json.dumps(again) == json.dumps(first)


@pytest.mark.parametrize("method", ["plurality", "approval", "irv"])
@pytest.mark.parametrize("seed", range(40))
def test_candidate_order_changes_only_the_key_order(method, seed):
    rng = random.Random(seed)
    candidates, ballots = random_election(rng, method)
    lot = lot_order(f"e{seed}", candidates)
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    first = count(method, candidates, ballots, lot=lot)
    again = count(method, shuffled, ballots, lot=lot)
    assert (again.winners, again.ranking, again.totals) == (first.winners, first.ranking, first.totals)
    assert again.rounds == first.rounds
    assert list(result_to_json(again)["totals"]) == shuffled


@pytest.mark.parametrize("method", ["plurality", "approval", "irv"])
@pytest.mark.parametrize("seed", range(40))
def test_every_round_accounts_for_every_ballot(method, seed):
    rng = random.Random(seed)
    candidates, ballots = random_election(rng, method)
    result = count(method, candidates, ballots, election_id=str(seed))
    assert sorted(result.ranking) == sorted(candidates)
    assert result.ranking[: len(result.winners)] == result.winners
    for number, r in enumerate(result.rounds, 1):
        assert r.number == number
        assert list(r.votes) == [c for c in candidates if c in r.votes]
        if method != "approval":
            assert sum(r.votes.values()) + r.exhausted == result.valid


# --- lot order ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("election_id", "candidates", "expected"),
    [
        # Pinned: sorted by the hex SHA-256 of "e1:A", "e1:B", ... as any sha256sum computes it.
        ("e1", "ABCDEF", "CAEFBD"),
        ("e1", "FEDCBA", "CAEFBD"),
        ("e2", "ABCDEF", "FDECBA"),
    ],
)
def test_lot_order(election_id, candidates, expected):
    assert lot_order(election_id, names(candidates)) == names(expected)
    assert lot_order(election_id, names(candidates)) == lot_order(election_id, names(candidates))


def test_count_defaults_to_the_lot_order_of_the_election():
    ballots = bs("A", "B", "C", "D", "E", "F")
    for election_id in ("e1", "e2"):
        result = count("plurality", names("ABCDEF"), ballots, election_id=election_id)
        assert result.ranking == lot_order(election_id, names("ABCDEF"))
        assert result.rounds[0].tie_break == TieBreak(LOT, result.ranking, result.ranking[0])


# --- setup and ballot errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: count("borda", names("AB"), []), "unknown counting method 'borda'"),
        (lambda: count("irv", names("AB"), [], seats=2), "irv fills one seat"),
        (lambda: count("plurality", names("AB"), [], max_choices=1), "max_choices applies to approval only"),
        (lambda: count("plurality", names("AB"), [], seats=3), "'seats' is 3 but there are only 2 candidates"),
        (lambda: count("plurality", names("AB"), [], seats=0), "'seats' must be a positive integer"),
        (lambda: count("plurality", names("ABA"), []), "candidate 'A' is listed twice"),
        (lambda: count("plurality", (), []), "at least one candidate"),
        (lambda: count("irv", names("AB"), [], lot=names("A")), "the lot order must list every candidate"),
        (lambda: count("approval", names("AB"), [], max_choices=0), "max_choices must be at least 1"),
        (lambda: lot_order("e", "AB"), "not a string"),
    ],
)
def test_setup_errors(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


@pytest.mark.parametrize("method", ["plurality", "approval", "irv"])
@pytest.mark.parametrize(
    ("ballots", "message"),
    [
        ([Ballot(("A",)), Ballot(("X",))], "ballot 2 names unknown candidate 'X'"),
        ([Ballot(("A", "B", "A"))], "ballot 1 repeats candidate 'A'"),
        ([Ballot(("A",), 0)], "ballot 1 has count 0"),
        ([Ballot(("A",)), Ballot(("B",), -2)], "ballot 2 has count -2"),
        ([Ballot(("A",), True)], "ballot 1 has count True"),
    ],
)
def test_bad_ballots_are_refused(method, ballots, message):
    with pytest.raises(BallotError, match=re.escape(message)):
        count(method, names("ABC"), ballots)


# --- ballot documents --------------------------------------------------------------------------------------


def document(**changes):
    doc = {
        "method": "irv",
        "seats": 1,
        "candidates": ["A", "B", "C"],
        "ballots": [{"ranking": ["A", "B"], "count": 2}, {"ranking": ["B"], "count": 1}, {"ranking": [], "count": 1}],
    }
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (["not", "an", "object"], "the ballot document must be an object"),
        (document(seats=None), "missing key 'seats'"),
        (document(method=None, ballots=None), "missing keys 'method', 'ballots'"),
        (document(method=""), "'method' must be a non-empty string"),
        (document(candidates="ABC"), "'candidates' must be a list of names"),
        (document(candidates=["A", "B", "A"]), "candidate 'A' is listed twice"),
        (document(candidates=["A", ""]), "candidate 2 is not a non-empty string"),
        (document(seats=0), "'seats' must be a positive integer, not 0"),
        (document(seats="1"), "'seats' must be a positive integer, not '1'"),
        (document(seats=4), "'seats' is 4 but there are only 3 candidates"),
        (document(ballots={"A": 1}), "'ballots' must be a list"),
        (document(ballots=[{"ranking": ["A"], "count": 1}, "A"]), "ballot 2 is not an object"),
        (document(ballots=[{"count": 1}]), "ballot 1 has no 'ranking'"),
        (document(ballots=[{"ranking": ["A"], "count": 1}, {"ranking": ["B"]}]), "ballot 2 has no 'count'"),
        (document(ballots=[{"ranking": "AB", "count": 1}]), "ballot 1 ranking must be a list of candidate names"),
        (
            document(
                ballots=[{"ranking": ["A"], "count": 1}, {"ranking": [], "count": 1}, {"ranking": ["X"], "count": 1}]
            ),
            "ballot 3 names unknown candidate 'X'",
        ),
        (document(ballots=[{"ranking": [1], "count": 1}]), "ballot 1 names unknown candidate 1"),
        (document(ballots=[{"ranking": ["B", "A", "B"], "count": 1}]), "ballot 1 repeats candidate 'B'"),
        (document(ballots=[{"ranking": ["A"], "count": 0}]), "ballot 1 has count 0; counts must be positive integers"),
        (document(ballots=[{"ranking": ["A"], "count": 1.5}]), "ballot 1 has count 1.5"),
        (document(ballots=[{"ranking": ["A"], "count": "2"}]), "ballot 1 has count '2'"),
    ],
)
def test_read_ballot_document_errors(doc, message):
    with pytest.raises(BallotError, match=re.escape(message)):
        read_ballot_document(doc)


def test_read_ballot_document_accepts_extra_keys():
    doc = document(name="barrio vote", expected_winners=["A"])
    doc["ballots"][0]["tracker_hash"] = "ab12"
    method, seats, candidates, ballots = read_ballot_document(doc)
    assert (method, seats, candidates) == ("irv", 1, ("A", "B", "C"))
    assert ballots == [Ballot(("A", "B"), 2), Ballot(("B",), 1), Ballot((), 1)]


def test_ballot_document_is_canonical():
    ballots = bs("B", "A>B", "", "A>B*2", "B", "C>A")
    doc = ballot_document("irv", 1, names("ABC"), ballots, election_id="e1")
    assert doc == {
        "method": "irv",
        "seats": 1,
        "candidates": ["A", "B", "C"],
        "ballots": [
            {"ranking": [], "count": 1},
            {"ranking": ["A", "B"], "count": 3},
            {"ranking": ["B"], "count": 2},
            {"ranking": ["C", "A"], "count": 1},
        ],
        "election_id": "e1",
    }
    shuffled = [Ballot(b.ranking) for b in ballots for _ in range(b.count)]
    random.Random(7).shuffle(shuffled)
    assert json.dumps(ballot_document("irv", 1, names("ABC"), shuffled, election_id="e1")) == json.dumps(doc)


def test_ballot_document_drops_the_order_of_approval_sets():
    doc = ballot_document("approval", 1, names("ABC"), bs("C>A", "A>C", "B"))
    assert doc["ballots"] == [{"ranking": ["A", "C"], "count": 2}, {"ranking": ["B"], "count": 1}]


def test_ballot_document_refuses_bad_ballots():
    with pytest.raises(BallotError, match=re.escape("ballot 2 names unknown candidate 'Z'")):
        ballot_document("irv", 1, names("ABC"), bs("A", "Z"))


@pytest.mark.parametrize("method", ["plurality", "approval", "irv"])
@pytest.mark.parametrize("seed", range(10))
def test_ballot_document_round_trip(method, seed):
    rng = random.Random(seed)
    candidates, ballots = random_election(rng, method)
    doc = ballot_document(method, 1, candidates, ballots)
    read_method, seats, read_candidates, read_ballots = read_ballot_document(json.loads(json.dumps(doc)))
    assert (read_method, seats, read_candidates) == (method, 1, candidates)
    assert ballot_document(read_method, seats, read_candidates, read_ballots) == doc
    assert result_to_json(count(read_method, read_candidates, read_ballots)) == result_to_json(
        count(method, candidates, ballots)
    )


# --- JSON report -------------------------------------------------------------------------------------------


def test_result_to_json():
    result = count_irv(names("ABCD"), bs("A*10", "B*6", "C>B*5", "D>C", "D"), lot=names("CADB"))
    data = result_to_json(result)
    assert json.loads(json.dumps(data)) == data
    assert type(data["method"]) is str
    assert list(data) == ["method", "seats", "candidates", "winners", "ranking", "totals", "valid", "blank", "rounds"]
    assert data["rounds"][1] == {
        "round": 2,
        "votes": {"A": 10, "B": 6, "C": 6},
        "exhausted": 1,
        "elected": [],
        "excluded": ["C"],
        "tie_break": {"kind": "look_back", "among": ["C", "B"], "chosen": "C", "decided_at_round": 1},
    }
    assert data["rounds"][0]["tie_break"] is None
    assert (data["winners"], data["valid"], data["blank"]) == (["B"], 23, 0)
