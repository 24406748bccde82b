"""`vecinos polls` and `vecinos demo` as an office runs them: a poll opened from the command line to demo
residents, its result as JSON, closed now, its anonymised ballots in the format `vecinos tally` reads, and
every bad argument answered with one line and exit code 2."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import normalise_database_url
from bot.domain.ballots import new_receipt
from storage.db import Database
from tests.e2e.test_cli_and_sandbox import vecinos

CIRCLE = "emb-plaza-lavapies"


def database(tmp_path: Path) -> dict[str, str]:
    return {"VECINOS_DATABASE_URL": f"sqlite:///{tmp_path}/v.db"}


def run_ok(tmp_path: Path, *args: str) -> str:
    result = vecinos(*args, cwd=tmp_path, env=database(tmp_path))
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(tmp_path: Path, *args: str) -> str:
    result = vecinos(*args, cwd=tmp_path, env=database(tmp_path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


async def cast_votes(url: str, poll_id: int, positions: list[int]) -> None:
    """Electors vote as the ballot box records a tap: one participation and one unlinked ballot each."""
    db = Database(normalise_database_url(url))
    async with db.unit_of_work() as uow:
        options = [o.id for o in await uow.polls.options(poll_id)]
        electors = (
            await uow.session.execute(text("SELECT resident_id FROM poll_elector WHERE poll_id = :p"), {"p": poll_id})
        ).scalars()
        for resident_id, position in zip(electors, positions, strict=False):
            cast = await uow.ballots.cast(poll_id, resident_id, [options[position]], new_receipt(poll_id).tracker_hash)
            assert cast
        await uow.commit()
    await db.dispose()


def test_an_office_opens_a_poll_to_demo_residents_closes_it_and_publishes_its_ballots(tmp_path):
    populated = run_ok(tmp_path, "demo", "populate", "--residents", "12", "--circle", CIRCLE)
    assert populated.startswith("created 12 demo residents (Telegram ids ")
    out = run_ok(tmp_path, "polls", "create", "--scope", f"circle:{CIRCLE}", "--question", "¿Bancos o árboles?",
                 "--option", "Bancos", "--option", "Árboles", "--closes-in", "2h")  # fmt: skip
    poll_id = int(out.strip())

    before = json.loads(run_ok(tmp_path, "polls", "results", str(poll_id)))
    assert before == {"poll": poll_id, "status": "open", "eligible": 12, "voted": 0, "quorum_met": True,
                      "results": [], "winners": []}  # fmt: skip  # hidden until the close
    assert "still open" in refused(tmp_path, "polls", "ballots", str(poll_id))

    asyncio.run(cast_votes(database(tmp_path)["VECINOS_DATABASE_URL"], poll_id, [1, 1, 1, 0, 1, 0, 1]))
    closed = json.loads(run_ok(tmp_path, "polls", "close", str(poll_id)))
    assert closed["status"] == "closed" and closed["voted"] == 7 and closed["eligible"] == 12
    assert closed["results"] == [{"option": "Bancos", "votes": 2}, {"option": "Árboles", "votes": 5}]
    assert closed["winners"] == ["Árboles"]
    assert json.loads(run_ok(tmp_path, "polls", "results", str(poll_id))) == closed
    assert "is not open" in refused(tmp_path, "polls", "close", str(poll_id))

    written = tmp_path / "ballots.json"
    said = run_ok(tmp_path, "polls", "ballots", str(poll_id), "--output", str(written))
    assert said.startswith(f"wrote 7 ballots of poll {poll_id} to {written} (sha256 ")
    document = json.loads(written.read_bytes())
    assert document["method"] == "plurality" and document["seats"] == 1
    assert document["candidates"] == ["Bancos", "Árboles"]
    assert sum(b["count"] for b in document["ballots"]) == 7
    assert sum(b["count"] for b in document["ballots"] if b["ranking"] == ["Árboles"]) == 5
    hashes = [b["receipt_hash"] for b in document["ballots"]]
    assert hashes == sorted(hashes)  # not casting order
    assert closed["ballots_sha256"] == hashlib.sha256(written.read_bytes().rstrip(b"\n")).hexdigest()
    assert said.rstrip().endswith(f"(sha256 {closed['ballots_sha256']})")
    assert run_ok(tmp_path, "polls", "ballots", str(poll_id)).encode() == written.read_bytes()  # stdout: the same


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scope", "street:4", "--question", "Q?", "--option", "A", "--option", "B"], "use circle:ID, barrio:ID"),
        (["--scope", "circle:no-such-circle", "--question", "Q?", "--option", "A", "--option", "B"], "there is no"),
        (["--scope", "district", "--question", "Q?", "--kind", "yesno", "--option", "A"], "takes no --option"),
        (["--scope", "district", "--question", "Q?", "--option", "A", "--option", "B", "--closes-in", "soon"], "2h"),
        (
            [
                "--scope",
                "district",
                "--question",
                "Q?",
                "--option",
                "A",
                "--option",
                "B",
                "--closes-at",
                "2026-12-20T20:00",
            ],
            "time zone",
        ),
        (
            ["--scope", "district", "--question", "Q?", "--option", "A", "--option", "B", "--closes-at", "mañana"],
            "ISO 8601",
        ),
        (["--scope", "district", "--question", "Q?", "--option", "Only one"], "option"),
    ],
)
def test_a_bad_poll_argument_is_one_clear_line(cli, args, says):
    cli.ok("demo", "populate", "--residents", "3")
    assert says in cli.refused("polls", "create", *args)


def test_a_poll_with_nobody_to_vote_and_an_unknown_poll_are_refused(cli):
    cli.ok("seed")
    assert "no verified members" in cli.refused("polls", "create", "--scope", "district", "--question", "Q?")
    assert "there is no poll 99" in cli.refused("polls", "results", "99")


def test_demo_residents_never_mix_with_real_ones_unless_forced(cli, tmp_path):
    cli.ok("demo", "populate", "--residents", "4")

    async def make_one_real() -> None:
        db = Database(normalise_database_url(database(tmp_path)["VECINOS_DATABASE_URL"]))
        async with db.unit_of_work() as uow:
            await uow.session.execute(text("UPDATE resident SET legal_basis = 'public_task' WHERE id = 1"))
            await uow.commit()
        await db.dispose()

    asyncio.run(make_one_real())
    assert "holds 1 real residents" in cli.refused("demo", "populate", "--residents", "4")
    assert cli.ok("demo", "populate", "--residents", "4", "--force").startswith("created 4 demo residents")
    assert "between 1 and" in cli.refused("demo", "populate", "--residents", "0")
    unknown = cli.refused("demo", "populate", "--residents", "2", "--circle", "atlantis", "--force")
    assert "no such circle" in unknown
