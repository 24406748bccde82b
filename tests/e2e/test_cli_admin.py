"""The office's administration commands: the territory from a spreadsheet (and its bad rows named by line),
the case and Open311 exports (the endpoint's own representation and privacy), an election's anonymised ballots,
and a backup of the live SQLite database; on PostgreSQL, the pg_dump command instead."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Vecinos
from bot.config import load_settings
from bot.domain.reports import case_reference
from handlers.open311 import request_list
from tests.e2e.test_cli_elections import stand_and_vote
from tests.e2e.test_cli_polls import database

HEADER = "barrio_code,barrio_name,circle_code,circle_name,circle_kind,lat,lon,building_code,building_address\n"
GOOD_CSV = HEADER + (
    "embajadores,Embajadores,emb-plaza-lavapies,Plaza de Lavapiés,square,40.4089,-3.7009,emb-lavapies-9,"
    '"Plaza de Lavapiés, 9"\n'
    "embajadores,Embajadores,emb-plaza-lavapies,Plaza de Lavapiés,square,40.4089,-3.7009,emb-lavapies-11,"
    '"Plaza de Lavapiés, 11"\n'
    "universidad,Universidad,uni-plaza-comendadoras,Plaza de las Comendadoras,square,40.4268,-3.7098,"
    'uni-comendadoras-2,"Plaza de las Comendadoras, 2"\n'
    "universidad,Universidad,uni-calle-pez,Calle del Pez,street,40.4235,-3.7055,,\n"
)


def rows(tmp_path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    """Rows of the test's SQLite database, read directly."""
    with sqlite3.connect(tmp_path / "v.db") as connection:
        return connection.execute(sql).fetchall()


def test_a_territory_spreadsheet_loads_and_loads_again_to_the_same_rows(cli, tmp_path):
    cli.ok("migrate")
    sheet = tmp_path / "territory.csv"
    sheet.write_text(GOOD_CSV, encoding="utf-8")
    said = cli.ok("territory", "import", str(sheet))
    assert said == (
        f"territory loaded from {sheet}: 2 barrios, 3 circles, 3 buildings; "
        "the database holds 1 districts, 2 barrios, 3 circles, 3 buildings\n"
    )
    again = cli.ok("seed", "--file", str(sheet))  # the seed command reads the same CSV
    assert "1 districts, 2 barrios, 3 circles, 3 buildings" in again
    assert rows(
        tmp_path, "SELECT c.code, b.address FROM building b JOIN circle c ON c.id = b.circle_id ORDER BY b.code"
    ) == [
        ("emb-plaza-lavapies", "Plaza de Lavapiés, 11"),
        ("emb-plaza-lavapies", "Plaza de Lavapiés, 9"),
        ("uni-plaza-comendadoras", "Plaza de las Comendadoras, 2"),
    ]
    assert rows(tmp_path, "SELECT code, name FROM district") == [("mcd", "Madrid Central District")]
    # A district loaded only from a spreadsheet still takes reports: the bundled categories and routes.
    assert ("public_space",) in rows(tmp_path, "SELECT code FROM report_category")
    # Semicolons, as a Spanish spreadsheet saves CSV, with a BOM: merged into the territory already there.
    more = tmp_path / "more.csv"
    more.write_text(
        "\ufeff"
        + HEADER.replace(",", ";")
        + "cortes;Cortes;cor-plaza-angel;Plaza del Ángel;square;40,4144;-3,7020;;\n",
        encoding="utf-8",
    )
    assert "the database holds 1 districts, 3 barrios, 4 circles, 3 buildings" in cli.ok(
        "territory", "import", str(more)
    )
    assert cli.ok("invites", "create", "--building", "emb-lavapies-9").startswith("https://t.me/")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("barrio_code,circle_code\nx,y\n", "line 1: missing columns barrio_name, circle_name, circle_kind, lat, lon"),
        (HEADER + "b,B,c,C,plaza,40.4,-3.7,,\n", "1 bad rows: line 2: circle_kind 'plaza' must be one of"),
        (HEADER + "b,B,c,C,square,40.4,-3.7,,\nb,B,d,D,park,north,-3.7,,\n", "line 3: lat and lon must be numbers"),
        (
            HEADER + "b,B,c,C,square,40.4,-3.7,,\nb,B,c,C,square,40.5,-3.7,,\n",
            "line 3: circle c differs from its row on line 2",
        ),
        (
            HEADER + "b,B,c,C,square,40.4,-3.7,k,K\nb,B,c,C,square,40.4,-3.7,k,L\n",
            "line 3: building k is already on line 2",
        ),
        (
            HEADER + "b,B,c,C,square,40.4,-3.7,k,\n,B,c,C,square,95,-3.7,,\n",
            "2 bad rows: line 2: give both "
            "building_code and building_address, or neither (a circle with no buildings); line 3: barrio_code is "
            "empty",
        ),
        (HEADER, "no rows after the header"),
    ],
)
def test_a_bad_territory_spreadsheet_is_refused_naming_its_lines(cli, tmp_path, content, says):
    sheet = tmp_path / "bad.csv"
    sheet.write_text(content, encoding="utf-8")
    assert says in cli.refused("territory", "import", str(sheet))


def test_a_missing_territory_file_is_refused(cli, tmp_path):
    assert "cannot be read" in cli.refused("territory", "import", str(tmp_path / "none.csv"))


async def open_cases(tmp_path: Path) -> list[str]:
    """Two cases as city systems and residents file them: a public pothole with its precise spot, and a
    vulnerable person (a category that is not public) with the reporter's exact doorstep."""
    app = Vecinos.build(load_settings(database_url=database(tmp_path)["VECINOS_DATABASE_URL"]))
    await app.open()
    now = datetime.now(UTC)
    refs = []
    async with app.db.unit_of_work() as uow:
        circle = await uow.territory.circle_by_code("emb-plaza-lavapies")
        assert circle is not None
        barrio = await uow.territory.barrio(circle.barrio_id)
        assert barrio is not None
        routing = await uow.cases.routing()
        for offset, (category, text) in enumerate(
            [("public_space", "Bache frente al número 3"), ("vulnerable_person", "Mi vecina Rosa, 4º B, sola")]
        ):
            route = routing.route(category, barrio.id)
            assert route is not None
            case = await uow.cases.open(
                case_reference(barrio.code, await uow.cases.next_number(barrio.id)),
                barrio_id=barrio.id,
                circle_id=circle.id,
                category=category,
                route=route,
                text=text,
                now=now - timedelta(hours=2 - offset),
                source="chat",
                latitude=40.408912,
                longitude=-3.700945,
            )
            refs.append(case.ref)
        await uow.commit()
    await app.db.dispose()
    return refs


async def served_requests(tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    """What GET /requests.json answers for the last 90 days."""
    app = Vecinos.build(load_settings(database_url=database(tmp_path)["VECINOS_DATABASE_URL"]))
    try:
        answer = await request_list(app.services, {}, datetime.now(UTC))
    finally:
        await app.db.dispose()
    assert answer.status == 200
    return answer.body


def test_cases_and_open311_exports_keep_the_endpoints_privacy(cli, tmp_path):
    cli.ok("migrate")
    public_ref, private_ref = asyncio.run(open_cases(tmp_path))

    out = tmp_path / "cases.csv"
    assert cli.ok("export", "cases", "--out", str(out)).startswith(f"wrote 2 cases to {out}")
    with out.open(encoding="utf-8") as fp:
        exported = list(csv.DictReader(fp))
    assert [
        (c["ref"], c["barrio"], c["circle"], c["category"], c["status"], c["open311_status"]) for c in exported
    ] == [
        (public_ref, "embajadores", "emb-plaza-lavapies", "public_space", "new", "open"),
        (private_ref, "embajadores", "emb-plaza-lavapies", "vulnerable_person", "new", "open"),
    ]
    assert "Rosa" not in out.read_text(encoding="utf-8") and "reporter" not in exported[0]
    cli.ok("export", "cases", "--out", str(out), "--barrio", "cortes")
    assert out.read_text(encoding="utf-8").count("\n") == 1  # the header only
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert cli.ok("export", "cases", "--out", str(out), "--since", tomorrow).startswith("wrote 0 cases")
    assert "no barrio" in cli.refused("export", "cases", "--out", str(out), "--barrio", "atlantis")
    assert "--since 'last week'" in cli.refused("export", "cases", "--out", str(out), "--since", "last week")

    requests = tmp_path / "requests.json"
    assert cli.ok("export", "open311", "--out", str(requests)).startswith(f"wrote 2 Open311 requests to {requests}")
    document = json.loads(requests.read_text(encoding="utf-8"))
    assert document == list(reversed(asyncio.run(served_requests(tmp_path))))  # the endpoint's own answer
    public, private = document
    assert public["service_request_id"] == public_ref and public["description"] == "Bache frente al número 3"
    assert (public["lat"], public["long"]) == (40.4089, -3.7009)  # rounded to about 11 m
    assert private["service_request_id"] == private_ref and private["description"] is None
    assert "Rosa" not in requests.read_text(encoding="utf-8")


def test_an_elections_anonymised_ballots_export_as_its_tally_publishes_them(cli, tmp_path):
    circle = "emb-plaza-lavapies"
    cli.ok("demo", "populate", "--residents", "9", "--circle", circle)
    election_id = int(cli.ok("elections", "create", "--circle", circle, "--seats", "2").strip())
    assert "has not been voted yet" in cli.refused(
        "export", "ballots", "--election", str(election_id), "--out", str(tmp_path / "x.json")
    )
    url = database(tmp_path)["VECINOS_DATABASE_URL"]
    asyncio.run(stand_and_vote(url, election_id, 3, None))
    cli.ok("elections", "advance", str(election_id))
    asyncio.run(stand_and_vote(url, election_id, 3, [[0], [0, 1], [0], [1], [1, 0], [2], [2, 1], [0, 2], [1]]))
    decided = json.loads(cli.ok("elections", "advance", str(election_id)))

    exported = tmp_path / "election.json"
    said = cli.ok("export", "ballots", "--election", str(election_id), "--out", str(exported))
    assert said.startswith(f"wrote 9 ballots of poll {decided['poll']} to {exported}")
    published = tmp_path / "published.json"
    cli.ok("polls", "ballots", str(decided["poll"]), "--output", str(published))
    assert exported.read_bytes() == published.read_bytes()
    assert json.loads(cli.ok("tally", str(exported)))["winners"] == decided["winners"]
    resident_ids = {str(r[0]) for r in rows(tmp_path, "SELECT telegram_user_id FROM resident")}
    assert not any(telegram_id in exported.read_text(encoding="utf-8") for telegram_id in resident_ids)
    blt = tmp_path / "poll.blt"
    cli.ok("export", "ballots", "--poll", str(decided["poll"]), "--out", str(blt), "--format", "blt")
    assert json.loads(cli.ok("tally", str(blt)))["winners"] == decided["winners"]
    assert "there is no election 999" in cli.refused("export", "ballots", "--election", "999", "--out", str(blt))


def test_a_backup_is_a_readable_copy_with_the_data(cli, tmp_path):
    cli.ok("demo", "populate", "--residents", "25")
    copy = tmp_path / "backups" / "vecinos-copy.db"
    copy.parent.mkdir()
    said = cli.ok("backup", str(copy))
    assert said.startswith(f"backed up {tmp_path / 'v.db'} to {copy} (")
    with sqlite3.connect(copy) as backup:
        assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert backup.execute("SELECT count(*) FROM resident").fetchone() == (25,)
        assert (
            backup.execute("SELECT count(*) FROM circle").fetchone() == rows(tmp_path, "SELECT count(*) FROM circle")[0]
        )
    assert not copy.with_name(copy.name + ".partial").exists()
    assert "is the database itself" in cli.refused("backup", str(tmp_path / "v.db"))


def test_a_postgresql_backup_is_pg_dumps_job_and_no_password_is_printed(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("VECINOS_DATABASE_URL", "postgresql://vecinos:s3cret-pw@db.internal:5433/centro")
    said = cli.refused("backup", str(tmp_path / "centro.dump"))
    assert "pg_dump --format=custom" in said and "--host=db.internal --port=5433 --username=vecinos" in said
    assert "--dbname=centro" in said and "~/.pgpass" in said and "s3cret" not in said
