"""`vecinos elections` and `vecinos bodies` as an office runs them: an election called for demo residents,
advanced through its phases, counted by STV; its published ballots (JSON and BLT) give the same winners through
`vecinos tally`; Governance Commission seats granted and listed; every bad argument one line and exit code 2."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from bot.config import normalise_database_url
from bot.domain.ballots import new_receipt
from bot.domain.elections import CandidacyStatus
from storage.db import Database
from storage.elections import Person
from tests.e2e.test_cli_polls import database

CIRCLE = "emb-plaza-lavapies"


async def stand_and_vote(url: str, election_id: int, candidates: int, rankings: list[list[int]] | None) -> None:
    """The first `candidates` demo residents stand; then (once voting is open) electors cast `rankings`
    (candidate positions), each as one participation and one unlinked ballot, as taps in chat would."""
    db = Database(normalise_database_url(url))
    async with db.unit_of_work() as uow:
        election = await uow.elections.get(election_id)
        assert election is not None
        if rankings is None:
            people, _ = await uow.elections.circle_members(election.scope_id, limit=candidates)
            for person in people:
                await uow.elections.nominate(election.id, Person(person.resident_id, person.first_name, person.chat_id,
                                             person.locale), statement="Me presento.",
                                             status=CandidacyStatus.STANDING, nominated_by=None,
                                             now=election.created_at)  # fmt: skip
        else:
            poll_id = election.poll_id
            assert poll_id is not None
            options = [o.id for o in await uow.polls.options(poll_id)]
            electors = (await uow.session.execute(text("SELECT resident_id FROM poll_elector WHERE poll_id = :p"),
                                                  {"p": poll_id})).scalars().all()  # fmt: skip
            for resident_id, ranking in zip(electors, rankings, strict=False):
                choice = [options[i] for i in ranking]
                assert await uow.ballots.cast(poll_id, resident_id, choice, new_receipt(poll_id).tracker_hash)
        await uow.commit()
    await db.dispose()


def test_an_office_runs_a_delegate_election_and_anyone_can_repeat_its_count(cli, tmp_path):
    cli.ok("demo", "populate", "--residents", "9", "--circle", CIRCLE)
    election_id = int(cli.ok("elections", "create", "--circle", CIRCLE, "--seats", "2").strip())
    url = database(tmp_path)["VECINOS_DATABASE_URL"]
    asyncio.run(stand_and_vote(url, election_id, 3, None))
    voting = json.loads(cli.ok("elections", "advance", str(election_id)))
    assert voting["status"] == "voting" and len(voting["candidates"]) == 3 and voting["receipts"] == 0
    names = [c["name"] for c in voting["candidates"]]

    rankings = [[0], [0, 1], [0], [1], [1, 0], [2], [2, 1], [0, 2], [1]]
    asyncio.run(stand_and_vote(url, election_id, 3, rankings))
    decided = json.loads(cli.ok("elections", "advance", str(election_id)))
    assert decided["status"] == "elected" and decided["method"] == "stv" and decided["receipts"] == 9
    assert decided["quota"] == "4.00000"  # 9 // 3 + 1
    assert decided["winners"] == [names[0], names[1]] and decided["substitutes"] == [names[2]]
    assert decided["seated"] == decided["winners"]
    assert json.loads(cli.ok("elections", "results", str(election_id))) == decided

    poll_id = decided["poll"]
    for form in ("json", "blt"):
        path = tmp_path / f"ballots.{form}"
        cli.ok("polls", "ballots", str(poll_id), "--format", form, "--output", str(path))
        recount = json.loads(cli.ok("tally", str(path)))
        assert recount["winners"] == decided["winners"], form
        assert recount["rounds"] == decided["rounds"] or form == "blt"  # BLT names the same stages
    assert "is over" in cli.refused("elections", "advance", str(election_id))


def test_an_election_nobody_stands_in_is_void(cli):
    cli.ok("demo", "populate", "--residents", "3", "--circle", CIRCLE)
    election_id = cli.ok("elections", "create", "--circle", CIRCLE).strip()
    void = json.loads(cli.ok("elections", "advance", election_id))
    assert void["status"] == "void" and void["winners"] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--circle", "atlantis"], "there is no circle 'atlantis'"),
        (["--council", "embajadores", "--office", "delegate"], "elected by a circle"),
        (["--circle", CIRCLE, "--seats", "0"], "--seats must be between 1 and 10"),
        (["--circle", CIRCLE, "--nominations-in", "soon"], "use a number and m, h, d or w"),
        (["--circle", CIRCLE, "--nominations-close", "2020-01-01T10:00+01:00"], "nominations must close in the future"),
        (["--circle", CIRCLE, "--nominations-in", "2d", "--voting-in", "30m"], "at least an hour after"),
        (["--circle", CIRCLE, "--voting-closes", "2027-01-01T10:00"], "needs a time zone"),
    ],
)
def test_a_bad_election_argument_is_one_clear_line(cli, args, says):
    cli.ok("seed")
    assert says in cli.refused("elections", "create", *args)


def test_governance_commission_seats_are_granted_and_listed(cli):
    populated = cli.ok("demo", "populate", "--residents", "2", "--circle", CIRCLE)
    first_user = populated.split("Telegram ids ")[1].split("-")[0]
    said = cli.ok("bodies", "seat", "--barrio", "embajadores", "--user", first_user,
                  "--institution", "Policía Municipal")  # fmt: skip
    assert "Governance Commission of Embajadores for Policía Municipal" in said
    listing = json.loads(cli.ok("bodies", "list", "--barrio", "embajadores"))
    assert listing[0]["governance_commission"][0]["institution"] == "Policía Municipal"
    assert "has not written to the bot" in cli.refused("bodies", "seat", "--barrio", "embajadores", "--user",
                                                   "42", "--institution", "Policía")  # fmt: skip
    assert "there is no barrio" in cli.refused("bodies", "list", "--barrio", "atlantis")
    assert "is not a member of the Embajadores council" in cli.refused(
        "bodies", "commission", "--barrio", "embajadores", "--sector", "mediation", "--user", first_user
    )


def test_elections_of_an_unknown_id_or_with_nobody_to_take_part_are_refused(cli):
    cli.ok("seed")
    assert "has no members yet" in cli.refused("elections", "create", "--council", "embajadores", "--office", "forum")
    assert "has no members yet" in cli.refused("elections", "create", "--circle", CIRCLE)
    assert "there is no election 7" in cli.refused("elections", "results", "7")
