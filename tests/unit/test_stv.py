"""Scottish STV (SSI 2007/42 rules 45-52) as tables: the quota, five-decimal truncation, the last-parcel rule,
exclusion in one stage, the look-back and lot tie-breaks, rule 52, the public vectors and the real Glasgow 2007
count, and a count that does not depend on the order of the ballots."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bot.domain.ballot_files import BallotFile, BallotFileError, count_file, read_ballot_file, read_blt, result_table
from bot.domain.stv import SCALE, StageAction, count_stv, stv_to_json, votes_text
from bot.domain.tally import Ballot, BallotError, TieBreakKind

DATA = Path(__file__).resolve().parents[2] / "data" / "elections"
VECTORS = json.loads((DATA / "scottish-stv-vectors.json").read_text(encoding="utf-8"))["vectors"]


def ballots(*groups: tuple[str, int]) -> list[Ballot]:
    """Ballots from ("A B C", count) pairs."""
    return [Ballot(tuple(ranking.split()), n) for ranking, n in groups]


def stv(candidates: str, seats: int, *groups: tuple[str, int], lot: str | None = None):
    names = candidates.split()
    return count_stv(names, ballots(*groups), seats=seats, lot=(lot or candidates).split())


@pytest.mark.parametrize(
    ("valid", "seats", "quota"),
    [(100, 1, 51), (101, 1, 51), (100, 2, 34), (99, 2, 34), (8682, 4, 1737), (4003, 3, 1001), (10, 4, 3), (7, 6, 2)],
)
def test_the_quota_is_the_droop_quota_in_whole_votes(valid, seats, quota):
    names = " ".join(f"C{i}" for i in range(seats + 1))
    result = stv(names, seats, ("C0", valid))
    assert result.quota == quota * SCALE and result.valid == valid


@pytest.mark.parametrize(
    ("units", "text"),
    [(0, "0.00000"), (1, "0.00001"), (100_000, "1.00000"), (299_999, "2.99999"), (173_700_000, "1737.00000")],
)
def test_votes_are_shown_with_five_decimals(units, text):
    assert votes_text(units) == text


def test_a_transfer_value_is_truncated_to_five_decimals_and_the_fraction_is_lost():
    # Quota 4 of 10; A's surplus of 3 over 7 ballots: 3/7 = 0.428571... becomes 0.42857 a ballot.
    result = stv("A B C", 2, ("A B", 7), ("C", 3))
    first, surplus = result.stages[0], result.stages[1]
    assert first.elected == ("A",) and surplus.action is StageAction.SURPLUS and surplus.subject == "A"
    assert surplus.votes["B"] == 7 * 42_857 == 299_999  # 2.99999, not 3
    assert surplus.votes["A"] == 4 * SCALE and surplus.transferred == 299_999
    assert surplus.non_transferable == 0  # the lost 0.00001 is neither transferred nor non-transferable


def test_truncation_can_decide_a_seat():
    # B needs exactly 3 from A's surplus to tie C for the last seat, but 7 x 0.42857 = 2.99999 falls short.
    result = stv("A B C", 2, ("A B", 7), ("C", 3))
    assert result.stages[1].votes["B"] < result.stages[1].votes["C"]
    assert result.winners == ("A", "C")


def test_a_candidate_elected_later_passes_on_only_the_parcel_that_elected_them():
    # Quota 7 of 19. E is excluded; 4 ballots E A D take A to 9 at stage 2. A's surplus of 2 passes on from
    # those 4 only, at 2/9 each, to D: counting all 9 of A's ballots would send 5 of them to C and elect C.
    result = stv("A C D E", 2, ("A C", 5), ("E A D", 4), ("C", 5), ("D", 5))
    exclusion, surplus = result.stages[1], result.stages[2]
    assert exclusion.action is StageAction.EXCLUSION and exclusion.excluded == ("E",) and exclusion.elected == ("A",)
    assert surplus.subject == "A" and surplus.votes["D"] == 5 * SCALE + 4 * 22_222 and surplus.votes["C"] == 5 * SCALE
    assert result.winners == ("A", "D")


def test_an_excluded_candidates_ballots_pass_on_at_their_value_in_one_stage():
    # Quota 5 of 12: A's surplus of 1 reaches B at 1/6 = 0.16666 a ballot; when B is excluded, those six go on
    # to C at 0.16666, B's own first preference at 1, all in one stage.
    result = stv("A B C D", 2, ("A B C", 6), ("B C", 1), ("C", 2), ("D", 3))
    stages = {s.action: s for s in result.stages}
    exclusion = [s for s in result.stages if s.action is StageAction.EXCLUSION and s.subject == "B"]
    assert stages[StageAction.SURPLUS].votes["B"] == SCALE + 6 * 16_666
    assert exclusion and exclusion[0].votes["C"] == 2 * SCALE + SCALE + 6 * 16_666
    assert result.winners == ("A", "C")


def test_the_largest_surplus_goes_first():
    # Quota 6 of 22: A's surplus of 3 goes before B's of 2.
    result = stv("A B C D E", 3, ("A C", 9), ("B D", 8), ("C", 1), ("D", 1), ("E", 3))
    surpluses = [s.subject for s in result.stages if s.action is StageAction.SURPLUS]
    assert surpluses[:2] == ["A", "B"]


def test_equal_surpluses_go_by_the_most_recent_earlier_stage_where_they_differed():
    # Quota 10 of 46. A's surplus (at 0.5) takes B from 9 and C from 5 to 12 each: both are elected, and B's
    # surplus goes first because B had more at stage 1.
    result = stv("A B C D E F", 4, ("A B D", 6), ("A C E", 14), ("B", 9), ("C", 5), ("D", 5), ("E", 4), ("F", 3))
    second = result.stages[1]
    assert second.elected == ("B", "C") and second.votes["B"] == second.votes["C"] == 12 * SCALE
    surpluses = [s for s in result.stages if s.action is StageAction.SURPLUS]
    assert [s.subject for s in surpluses] == ["A", "B", "C"]
    tie = surpluses[1].tie_break
    assert tie.kind is TieBreakKind.LOOK_BACK and tie.among == ("B", "C") and tie.decided_at_round == 1
    assert surpluses[1].votes["D"] == 5 * SCALE + 6 * 8_333  # 2 x 0.5 / 12 = 0.08333 a ballot
    assert result.winners == ("A", "B", "C", "D")


def test_a_tie_for_exclusion_goes_by_the_most_recent_earlier_stage_where_they_differed():
    vector = next(v for v in VECTORS if v["name"] == "droop-scottish-weak-defeat-tiebreak")
    result = count_stv(vector["candidates"], [Ballot(tuple(b["ranking"]), b["count"]) for b in vector["ballots"]],
                       seats=vector["seats"], lot=vector["candidates"])  # fmt: skip
    tie = next(s for s in result.stages if s.tie_break is not None)
    assert tie.action is StageAction.EXCLUSION and tie.tie_break.kind is TieBreakKind.LOOK_BACK
    assert tie.tie_break.decided_at_round == 1 and tie.excluded == (tie.tie_break.chosen,) == ("B",)


@pytest.mark.parametrize(("lot", "winner"), [("X Y Z", "Z"), ("Z Y X", "X"), ("Y X Z", "Z"), ("Z X Y", "Y")])
def test_a_tie_at_every_stage_goes_by_the_published_lot_which_falls_on_the_first_drawn(lot, winner):
    result = stv("X Y Z", 1, ("X", 3), ("Y", 3), ("Z", 3), lot=lot)
    assert result.winners == (winner,)
    first = result.stages[1]
    assert first.tie_break.kind is TieBreakKind.LOT and first.excluded == (lot.split()[0],)


def test_as_many_continuing_candidates_as_seats_left_are_all_elected_without_reaching_the_quota():
    result = stv("A B C D", 3, ("A", 10), ("B", 3), ("C", 2), ("D", 1))
    last = result.stages[-1]
    assert last.action is StageAction.FILLED and set(last.elected) == {"B", "C"}
    assert result.winners == ("A", "B", "C")


def test_ballots_with_no_continuing_preference_are_non_transferable():
    result = stv("A B C", 1, ("A", 3), ("B", 2), ("C", 2))
    exclusion = result.stages[1]
    assert exclusion.non_transferable == 2 * SCALE
    assert result.winners == ("A",)


def test_fewer_candidates_than_seats_cannot_be_counted():
    with pytest.raises(ValueError, match="only 2 candidates"):
        stv("A B", 3, ("A", 1))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_every_public_vector_gives_its_winners(vector):
    cast = [Ballot(tuple(b["ranking"]), b["count"]) for b in vector["ballots"]]
    ballot_file = BallotFile("stv", vector["seats"], tuple(vector["candidates"]), cast, vector["name"])
    assert set(count_file(ballot_file)["winners"]) == set(vector["expected_winners"])


def test_glasgow_2007_greater_pollok_gives_the_declared_result_in_order():
    ballot_file = read_blt((DATA / "glasgow-2007-greater-pollok.blt").read_text(encoding="utf-8"))
    assert ballot_file.title == "GREATER POLLOK" and ballot_file.seats == 4
    result = count_file(ballot_file)
    assert result["winners"] == ["Patricia Duffy", "Alex Glass", "Tommy Morrison", "William O'Rourke"]
    assert result["valid"] == 8682 and result["quota"] == "1737.00000"
    assert result["rounds"][0]["votes"]["Patricia Duffy"] == "2173.00000"
    assert "elected, in order: Patricia Duffy, Alex Glass, Tommy Morrison, William O'Rourke" in result_table(result)


def test_the_count_does_not_depend_on_the_order_of_the_ballots():
    ballot_file = read_blt((DATA / "glasgow-2007-greater-pollok.blt").read_text(encoding="utf-8"))
    singles = [Ballot(b.ranking) for b in ballot_file.ballots for _ in range(b.count)]
    expected = json.dumps(count_file(ballot_file), ensure_ascii=False)
    for seed in (1, 2):
        random.Random(seed).shuffle(singles)
        shuffled = BallotFile("stv", 4, ballot_file.candidates, list(singles), ballot_file.title)
        assert json.dumps(count_file(shuffled), ensure_ascii=False) == expected


def test_the_json_names_every_stage_and_tie_break():
    result = stv_to_json(stv("X Y Z", 1, ("X", 3), ("Y", 3), ("Z", 3)))
    assert result["method"] == "stv" and result["winners"] == ["Z"] and result["tie_break_order"] == ["X", "Y", "Z"]
    assert [r["action"] for r in result["rounds"]] == ["first_preferences", "exclusion", "exclusion",
                                                       "remaining_elected"]  # fmt: skip
    assert result["rounds"][1]["tie_break"] == {"kind": "lot", "among": ["X", "Y", "Z"], "chosen": "X",
                                                "decided_at_round": None}  # fmt: skip


BLT = '4 2\n-3\n3 1 2 0\n2 2 1 4 0\n(b7) 1 4 0\n0\n"Ana"\n"Bea"\n"Carla"\n"Dani"\n"Vecinos test"\n'


def test_a_blt_file_is_read_with_withdrawn_candidates_and_ballot_ids():
    ballot_file = read_blt(BLT)
    assert ballot_file.candidates == ("Ana", "Bea", "Dani") and ballot_file.seats == 2
    assert ballot_file.title == "Vecinos test"
    assert ballot_file.ballots == [Ballot(("Ana", "Bea"), 3), Ballot(("Bea", "Ana", "Dani"), 2), Ballot(("Dani",), 1)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("three 2\n", "line 1: the first line must be"),
        ("3 4\n", "line 1: 3 candidates and 4 seats"),
        ('2 1\n1 1 3 0\n0\n"A"\n"B"\n', "line 2: candidate 3 is not between 1 and 2"),
        ('2 1\n1 1 1 0\n0\n"A"\n"B"\n', "line 2: a ballot ranks the same candidate twice"),
        ('2 1\n1 1 2\n0\n"A"\n"B"\n', "line 2: a ballot line must end with 0"),
        ('2 1\n0 1 2 0\n0\n"A"\n"B"\n', "line 2: the ballot count must be a positive whole number"),
        ('2 1\n1 1=2 0\n0\n"A"\n"B"\n', "line 2: equal preferences"),
        ('2 1\n1 1 2 0\n"A"\n"B"\n', "line 3: a ballot line is"),
        ('2 1\n1 1 2 0\n0\n"A"\n', "names 1 candidates but its first line says 2"),
        ('2 1\n1 1 2 0\n0\nA\n"B"\n', "line 4: a name must be in double quotes"),
        ('2 1\n1 1 2 0\n0\n"A"\n"A"\n', "two candidates have the same name"),
        ('2 2\n-1\n1 1 2 0\n0\n"A"\n"B"\n', "2 seats but only 1 candidates who have not withdrawn"),
        ('2 1\n-5\n0\n"A"\n"B"\n', "line 2: a withdrawn candidate is not between 1 and 2"),
        ("2 1\n1 1 2 0\n", "the ballots must end with a line holding 0"),
    ],
)
def test_a_malformed_blt_file_is_refused_naming_the_problem_and_its_line(text, message):
    with pytest.raises(BallotFileError, match=message.replace("(", r"\(")):
        read_blt(text)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"method": "stv", "seats": 1,\n "candidates": ["A"], "ballots": [}', "line 2: not valid JSON"),
        ('{"method": "borda", "seats": 1, "candidates": ["A"], "ballots": []}', "unknown method 'borda'"),
        (
            '{"method": "stv", "seats": 1, "candidates": ["A"], "ballots": [{"ranking": ["B"], "count": 1}]}',
            "ballot 1 names unknown candidate 'B'",
        ),
        (
            '{"method": "stv", "seats": 1, "candidates": ["A", "B"], "ballots": [], "tie_break_order": ["A"]}',
            "'tie_break_order' must list every candidate",
        ),
    ],
)
def test_a_malformed_json_ballot_file_is_refused(document, message):
    with pytest.raises(BallotError, match=message):
        read_ballot_file(document)


def test_a_published_poll_document_is_counted_with_its_own_tie_break_order():
    document = {"method": "irv", "seats": 1, "candidates": ["A", "B"], "tie_break_order": ["B", "A"],
                "ballots": [{"ranking": ["A"], "count": 1}, {"ranking": ["B"], "count": 1}]}  # fmt: skip
    assert count_file(read_ballot_file(json.dumps(document)))["winners"] == ["B"]
