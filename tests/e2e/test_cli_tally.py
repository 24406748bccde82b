"""`vecinos tally` as anyone repeating a published count runs it: the real Glasgow 2007 count and the public
vectors, byte-identical output in two processes and with the ballots shuffled, a table for people, and one clear
line (exit code 2) for a bad file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.e2e.test_cli_and_sandbox import vecinos

DATA = Path(__file__).resolve().parents[2] / "data" / "elections"
GLASGOW = DATA / "glasgow-2007-greater-pollok.blt"
VECTORS = json.loads((DATA / "scottish-stv-vectors.json").read_text(encoding="utf-8"))["vectors"]
DECLARED = ["Patricia Duffy", "Alex Glass", "Tommy Morrison", "William O'Rourke"]


def tally(tmp_path: Path, *args: str) -> str:
    result = vecinos("tally", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_glasgow_2007_is_reproduced_byte_for_byte_in_two_processes_and_from_shuffled_json(tmp_path):
    first = tally(tmp_path, str(GLASGOW))
    assert tally(tmp_path, str(GLASGOW)) == first
    result = json.loads(first)
    assert result["winners"] == DECLARED and result["quota"] == "1737.00000" and len(result["rounds"]) == 9

    vector = next(v for v in VECTORS if v["name"].startswith("glasgow"))
    singles = [{"ranking": b["ranking"], "count": 1} for b in vector["ballots"] for _ in range(b["count"])]
    random.Random(2007).shuffle(singles)
    shuffled = tmp_path / "shuffled.json"
    document = {"method": "stv", "seats": 4, "candidates": vector["candidates"], "ballots": singles}
    shuffled.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert tally(tmp_path, str(shuffled)) == first


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_every_public_vector_from_a_json_file(cli, tmp_path, vector):
    path = tmp_path / "vector.json"
    fields = ("method", "seats", "candidates", "ballots")
    path.write_text(json.dumps({k: vector[k] for k in fields}, ensure_ascii=False), encoding="utf-8")
    assert set(json.loads(cli.ok("tally", str(path)))["winners"]) == set(vector["expected_winners"])


def test_the_table_explains_every_stage(cli):
    table = cli.ok("tally", str(GLASGOW), "--table")
    assert "valid ballots 8682, quota 1737.00000, seats 4" in table
    assert "R2: surplus of Patricia Duffy transferred" in table
    assert "R3: Caroline Scott excluded" in table
    assert table.rstrip().endswith("elected, in order: " + ", ".join(DECLARED))


def test_method_and_seats_can_be_given(cli):
    one_seat = json.loads(cli.ok("tally", str(GLASGOW), "--seats", "1"))
    instant_runoff = json.loads(cli.ok("tally", str(GLASGOW), "--method", "irv"))
    assert one_seat["winners"] == instant_runoff["winners"] == ["Alex Glass"]  # Duffy led the first count only
    plurality = json.loads(cli.ok("tally", str(GLASGOW), "--method", "plurality", "--seats", "2"))
    assert plurality["method"] == "plurality" and plurality["winners"] == ["Patricia Duffy", "Alex Glass"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('3 1\n1 1 2 0\n1 4 0\n0\n"A"\n"B"\n"C"\n', "line 3: candidate 4 is not between 1 and 3"),
        (
            '{"method": "stv", "seats": 1, "candidates": ["A"],\n "ballots": [{"ranking": ["Z"], "count": 1}]}',
            "ballot 1 names unknown candidate 'Z'",
        ),
        ('{"method": "irv", "seats": 2, "candidates": ["A", "B"], "ballots": []}', "irv fills one seat"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_problem_and_exit_code_2(cli, tmp_path, content, says):
    path = tmp_path / "bad.blt"
    path.write_text(content, encoding="utf-8")
    line = cli.refused("tally", str(path))
    assert says in line and str(path) in line


def test_a_missing_file_is_one_line(cli, tmp_path):
    assert "no such file" in cli.refused("tally", str(tmp_path / "nowhere.blt"))
