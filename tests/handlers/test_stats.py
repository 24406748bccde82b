"""/stats and `vecinos stats` on real SQLite: a seeded set of cases moved through the lifecycle with a moved
clock, and a closed poll; every figure shown equals a count done in SQL here; the chart is a PNG of the
promised size; residents and delegates are refused; the CLI prints the same numbers as JSON and CSV."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import statistics
from datetime import UTC, datetime, timedelta

import matplotlib.image
import pytest

from bot.domain.permissions import Sector
from bot.domain.reports import OPEN_STATES
from bot.domain.stats import NO_SECTOR
from handlers.labels import case_status_name, category_name, sector_name
from handlers.poll_ticks import send_due_poll_work
from tests.handlers.harness import Harness, Person, buttons, grant_role, make_staff, texts
from tests.handlers.test_coexistence import report as report_in_circle

AMINA = Person(901, "Amina", "ar")
LUCIA = Person(902, "Lucía", "es")
JOHN = Person(903, "John", "en")
GOV = Person(904, "Gloria", "es")  # sits on Embajadores' Community Governance Commission
ENV = Person(911, "Elena Medioambiente", "es")  # environment and cleaning, Embajadores
POLICE = Person(912, "Agente Ruiz", "es")  # community police, Embajadores
PABLO = Person(921, "Pablo", "en")  # community manager of Embajadores
ADA = Person(922, "Ada", "es")  # admin
DELIA = Person(931, "Delia", "es")  # delegate of Plaza de Lavapiés
OPEN = tuple(sorted(s.value for s in OPEN_STATES))


def tr(bot: Harness, locale: str, message: str, **values: object) -> str:
    return bot.catalogs.translator(locale).gettext(message, **values)


def stored(moment: datetime) -> str:
    """A datetime as SQLite holds it (naive UTC text), to compare in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def verified(bot: Harness, who: Person, circle: str = "emb-plaza-lavapies") -> None:
    await bot.register(who, circle_code=circle, locale=who.language_code or "es")
    async with bot.db.unit_of_work() as uow:
        resident = await uow.residents.by_telegram_id(who.user_id)
        membership = await uow.memberships.current(resident.id)  # type: ignore[union-attr]
        await uow.memberships.approve(membership, resident.id, bot.clock())  # type: ignore[arg-type]
        await uow.commit()


async def report(bot: Harness, who: Person, category: str, text: str) -> int:
    """The wizard, placed in the reporter's circle; returns the new case's id."""
    case_id, _ref = await report_in_circle(bot, who, category, text)
    return case_id


@pytest.fixture
async def seeded(bot: Harness) -> dict[str, int]:
    """An old open case (40 days back), then a resolved noise case with a "me too", an acknowledged
    cleanliness case, a safety case nobody acknowledged (overdue), and a closed poll of the circle."""
    for who, sector in ((ENV, "environment_cleaning"), (POLICE, "community_police")):
        await grant_role(bot, who, "sectorial_manager", "embajadores", sector=sector)
        await bot.send(who, "/start")
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await make_staff(bot, DELIA, "delegate", "emb-plaza-lavapies")
    await make_staff(bot, ADA, "admin", None)
    for who in (AMINA, LUCIA, JOHN, GOV):
        await verified(bot, who)
    async with bot.db.unit_of_work() as uow:
        gloria = await uow.residents.by_telegram_id(GOV.user_id)
        barrio = await uow.territory.barrio_by_code("embajadores")
        await uow.elections.add_institution_seat(barrio.id, gloria.id, "Asociación vecinal", bot.clock())  # type: ignore[union-attr]
        await uow.commit()

    old = await report(bot, JOHN, "other", "Un banco roto en la plaza desde hace semanas, nadie lo arregla.")
    bot.clock.advance(days=40)

    await bot.send(DELIA, "/poll")
    await bot.tap(DELIA, "pck:yesno")
    await bot.send(DELIA, "¿Ponemos más bancos en la plaza de Lavapiés?")
    await bot.tap(DELIA, "pcc:3d")
    await bot.tap(DELIA, "pcok")
    poll = int(await bot.scalar("SELECT max(id) FROM poll"))
    await bot.tap(AMINA, f"pv:{poll}:0")
    await bot.tap(LUCIA, f"pv:{poll}:1")

    noise = await report(bot, AMINA, "noise", "Música muy alta cada noche hasta las 4 en el bajo del número 3.")
    bot.clock.advance(hours=2)
    await bot.tap(ENV, f"ct:{noise}:ack")
    await bot.send(LUCIA, "/report")
    await bot.tap(LUCIA, "rc:noise")
    await bot.send(LUCIA, "Hay mucho ruido por las noches en la plaza.")
    await bot.tap(LUCIA, "rph")
    await bot.tap(LUCIA, "rlc")
    await bot.tap(LUCIA, f"rmt:{noise}")
    cleanliness = await report(bot, JOHN, "cleanliness", "Bolsas de basura acumuladas junto al contenedor.")
    bot.clock.advance(hours=5)
    await bot.tap(ENV, f"ct:{cleanliness}:ack")
    safety = await report(bot, AMINA, "safety", "Alguien fuerza los portales del número 5 de noche.")
    bot.clock.advance(hours=19)
    await bot.tap(ENV, f"ct:{noise}:resolve")
    await bot.send(ENV, "Hemos hablado con el local y bajará la música a las 23:00.")
    bot.clock.advance(days=2, hours=1)
    await send_due_poll_work(bot.services)
    assert await bot.scalar("SELECT status FROM poll WHERE id = :p", p=poll) == "closed"
    assert [r[0] for r in await bot.rows("SELECT status FROM report_case ORDER BY id")] == [
        "new", "resolved", "acknowledged", "new",
    ]  # fmt: skip
    return {"old": old, "noise": noise, "cleanliness": cleanliness, "safety": safety, "poll": poll,
            "barrio": barrio.id}  # type: ignore[union-attr]  # fmt: skip


async def sql_figures(bot: Harness, barrio: int, since: datetime, until: datetime, now: datetime,
                      circle: int | None = None) -> dict:  # fmt: skip
    """Every figure of one area, counted in SQL."""
    where = "barrio_id = :b" + (" AND circle_id = :c" if circle is not None else "")
    period = f"{where} AND created_at >= :s AND created_at < :u"
    open_now = f"{where} AND status IN {OPEN}"
    p = {"b": barrio, "c": circle, "s": stored(since), "u": stored(until), "n": stored(now)}

    async def grouped(column: str, condition: str) -> dict[str, int]:
        rows = await bot.rows(f"SELECT coalesce({column}, ''), count(*) FROM report_case WHERE {condition} "
                              f"GROUP BY 1", **p)  # fmt: skip
        return {key: n for key, n in rows}

    async def hours_to(status: str) -> list[float]:
        rows = await bot.rows(
            "SELECT (julianday(min(e.at)) - julianday(c.created_at)) * 24 FROM case_event e "
            f"JOIN report_case c ON c.id = e.case_id WHERE e.kind = 'transition' AND e.to_status = '{status}' "
            f"AND e.at >= c.created_at AND c.{period.replace(' AND ', ' AND c.')} GROUP BY c.id",
            **p,
        )
        return [r[0] for r in rows]

    polls_where = (
        "status IN ('counted', 'closed') AND closes_at >= :s AND closes_at < :u AND "
        + ("scope_kind = 'circle' AND scope_id = :c" if circle is not None else
           "((scope_kind = 'circle' AND scope_id IN (SELECT id FROM circle WHERE barrio_id = :b)) OR "
           "(scope_kind IN ('barrio', 'council') AND scope_id = :b))")
    )  # fmt: skip

    async def votes(election: bool) -> tuple[int, int, int]:
        kind = "office IS NOT NULL" if election else "office IS NULL"
        count, electors = (await bot.rows(f"SELECT count(*), coalesce(sum(eligible_count), 0) FROM poll "
                                          f"WHERE {polls_where} AND {kind}", **p))[0]  # fmt: skip
        taking_part = await bot.scalar(f"SELECT count(*) FROM poll_participation WHERE poll_id IN "
                                       f"(SELECT id FROM poll WHERE {polls_where} AND {kind})", **p)  # fmt: skip
        return count, taking_part, electors

    return {
        "created": await bot.scalar(f"SELECT count(*) FROM report_case WHERE {period}", **p),
        "by_state": await grouped("status", period),
        "by_sector": await grouped("sector", period),
        "by_category": await grouped("category", period),
        "open_now": await bot.scalar(f"SELECT count(*) FROM report_case WHERE {open_now}", **p),
        "open_by_state": await grouped("status", open_now),
        "open_by_sector": await grouped("sector", open_now),
        "open_by_category": await grouped("category", open_now),
        "overdue": await bot.scalar(
            f"SELECT count(*) FROM report_case WHERE {open_now} AND ((resolve_by IS NOT NULL AND resolve_by < :n) "
            "OR (status IN ('new', 'referred') AND acknowledge_by IS NOT NULL AND acknowledge_by < :n))",
            **p,
        ),
        "ack_hours": await hours_to("acknowledged"),
        "resolve_hours": await hours_to("resolved"),
        "me_too": await bot.scalar(f"SELECT coalesce(sum(supporters), 0) FROM report_case WHERE {period}", **p),
        "followers": await bot.scalar(
            f"SELECT count(*) FROM case_follower WHERE case_id IN (SELECT id FROM report_case WHERE {period})", **p
        ),
        "polls": await votes(False),
        "elections": await votes(True),
    }


def expected_lines(bot: Harness, locale: str, sql: dict) -> list[str]:
    """What /stats must show for one area, built from the SQL counts."""
    t = bot.catalogs.translator(locale)

    def listed(counts: dict[str, int], name) -> str:  # type: ignore[no-untyped-def]
        if not counts:
            return str(t.gettext("none"))
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(t.gettext("{name}: {count}", name=name(k), count=t.number(n)) for k, n in ordered)

    state = lambda s: case_status_name(t, s)  # noqa: E731
    sector = lambda s: t.plain("No sector") if s == NO_SECTOR else sector_name(t, Sector(s))  # noqa: E731
    category = lambda c: category_name(t, c)  # noqa: E731

    def median(hours: list[float]) -> str:
        if not hours:
            return str(t.gettext("none yet"))
        return str(t.gettext("{hours} h", hours=t.number(round(statistics.median(hours), 1))))

    def turnout(count: int, taking_part: int, electors: int) -> str:
        if not electors:
            return str(t.gettext("{closed} closed", closed=t.number(count)))
        return str(t.gettext("{closed} closed, turnout {turnout} ({participations} of {electors})",
                             closed=t.number(count), turnout=t.percent(100 * taking_part / electors),
                             participations=t.number(taking_part), electors=t.number(electors)))  # fmt: skip

    return [
        tr(bot, locale, "New cases: {count}", count=t.number(sql["created"])),
        tr(bot, locale, "· by state: {counts}", counts=listed(sql["by_state"], state)),
        tr(bot, locale, "· by sector: {counts}", counts=listed(sql["by_sector"], sector)),
        tr(bot, locale, "· by category: {counts}", counts=listed(sql["by_category"], category)),
        tr(bot, locale, "Open now: {count}", count=t.number(sql["open_now"])),
        tr(bot, locale, "· by state: {counts}", counts=listed(sql["open_by_state"], state)),
        tr(bot, locale, "· by sector: {counts}", counts=listed(sql["open_by_sector"], sector)),
        tr(bot, locale, "· by category: {counts}", counts=listed(sql["open_by_category"], category)),
        tr(bot, locale, "Overdue now: {count}", count=t.number(sql["overdue"])),
        tr(bot, locale, "Median time to acknowledge: {time}", time=median(sql["ack_hours"])),
        tr(bot, locale, "Median time to resolve: {time}", time=median(sql["resolve_hours"])),
        tr(bot, locale, "“Me too”: {count}", count=t.number(sql["me_too"])),
        tr(bot, locale, "Polls: {turnout}", turnout=turnout(*sql["polls"])),
        tr(bot, locale, "Elections: {turnout}", turnout=turnout(*sql["elections"])),
    ]


async def test_every_figure_of_stats_equals_a_count_in_sql_and_the_chart_is_a_1000_by_600_png(bot, seeded):
    now = bot.clock()
    since = now - timedelta(days=30)
    barrio = seeded["barrio"]
    replies = await bot.send(PABLO, "/stats")
    text_reply, chart = [r for r in replies if r.text and r.document is None], [r for r in replies if r.document]
    assert len(text_reply) == 1 and len(chart) == 1, texts(replies)
    blocks = text_reply[0].text.split("\n\n")
    total = await sql_figures(bot, barrio, since, now, now)
    # What the seed holds, so the SQL is known to count something.
    assert (total["created"], total["open_now"], total["overdue"], total["me_too"]) == (3, 3, 2, 1)
    assert total["followers"] == total["me_too"]
    assert total["ack_hours"] == pytest.approx([2, 5]) and total["resolve_hours"] == pytest.approx([26])
    electors = await bot.scalar("SELECT count(*) FROM poll_elector WHERE poll_id = :p", p=seeded["poll"])
    assert total["polls"] == (1, 2, electors) and total["elections"] == (0, 0, 0)
    header, *lines = blocks[0].split("\n")
    t = bot.catalogs.translator("en")
    assert header == tr(bot, "en", "📊 <b>{barrio}</b>: last {days} days ({since} to {until})",
                        barrio="Embajadores", days=t.number(30), since=t.datetime(since, "short"),
                        until=t.datetime(now, "short"))  # fmt: skip
    assert lines == expected_lines(bot, "en", total)
    # Each circle with cases or votes has its block, counted in SQL on its own.
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    circle_name = await bot.scalar("SELECT name FROM circle WHERE id = :c", c=circle)
    own = await sql_figures(bot, barrio, since, now, now, circle=circle)
    assert own["created"] == 3
    block = next(b for b in blocks[1:] if b.startswith(f"<b>{circle_name}</b>"))
    assert block.split("\n")[1:] == expected_lines(bot, "en", own)
    # The chart: a PNG of 1000 x 600 pixels.
    png = chart[0].document
    assert png is not None and png.startswith(b"\x89PNG")
    assert matplotlib.image.imread(io.BytesIO(png)).shape[:2] == (600, 1000)
    assert chart[0].filename == "stats-embajadores-30d.png"


async def test_the_period_buttons_change_the_figures(bot, seeded):
    barrio = seeded["barrio"]
    replies = await bot.send(PABLO, "/stats")
    assert [d for _, d in buttons(replies)] == [f"sts:{barrio}:{d}" for d in (7, 30, 90, 365)]  # one barrio
    now = bot.clock()
    replies = await bot.tap(PABLO, f"sts:{barrio}:90")
    text = next(r.text for r in replies if r.text and r.document is None)
    year = await sql_figures(bot, barrio, now - timedelta(days=90), now, now)
    assert year["created"] == 4  # the old case too
    assert text.split("\n\n")[0].split("\n")[1:] == expected_lines(bot, "en", year)


async def test_an_admin_chooses_among_barrios_and_a_governance_member_sees_hers(bot, seeded):
    barrio = seeded["barrio"]
    sol = await bot.scalar("SELECT id FROM barrio WHERE code = 'sol'")
    replies = await bot.send(ADA, "/stats")
    data = [d for _, d in buttons(replies)]
    assert f"sts:{sol}:30" in data and len(data) == 4 + 5  # four periods, the five other barrios
    replies = await bot.tap(ADA, f"sts:{sol}:7")
    text = next(r.text for r in replies if r.text and r.document is None)
    assert "Sol" in text.split("\n")[0]
    now = bot.clock()
    assert text.split("\n\n")[0].split("\n")[1:] == expected_lines(
        bot, "es", await sql_figures(bot, sol, now - timedelta(days=7), now, now)
    )
    # Gloria holds a governance seat of Embajadores and no role: she sees Embajadores, and only it.
    replies = await bot.send(GOV, "/stats")
    text = next(r.text for r in replies if r.text and r.document is None)
    assert text.split("\n\n")[0].split("\n")[1:] == expected_lines(
        bot, "es", await sql_figures(bot, barrio, now - timedelta(days=30), now, now)
    )
    assert [d for _, d in buttons(replies)] == [f"sts:{barrio}:{d}" for d in (7, 30, 90, 365)]
    replies = await bot.tap(GOV, f"sts:{sol}:30")
    assert tr(bot, "es", "📊 The figures are for community managers, admins and members of a barrio's Community "
              "Governance Commission.") in texts(replies)  # fmt: skip


@pytest.mark.parametrize("who", [AMINA, DELIA, ENV])
async def test_residents_delegates_and_sectorial_staff_are_refused(bot, seeded, who):
    refusal = tr(bot, who.language_code, "📊 The figures are for community managers, admins and members of a "
                 "barrio's Community Governance Commission.")  # fmt: skip
    replies = await bot.send(who, "/stats")
    assert texts(replies) == refusal
    assert not any(r.document for r in replies)
    replies = await bot.tap(who, f"sts:{seeded['barrio']}:30")
    assert refusal in texts(replies) and not any(r.document for r in replies)


async def test_forged_and_stale_buttons_show_nothing(bot, seeded):
    sol = await bot.scalar("SELECT id FROM barrio WHERE code = 'sol'")
    replies = await bot.tap(PABLO, f"sts:{sol}:30")  # not his barrio
    assert not any(r.document for r in replies)
    replies = await bot.tap(PABLO, f"sts:{seeded['barrio']}:5")  # not a period offered
    assert not any(r.document for r in replies)
    assert bot.dispatcher.failures == 0


async def test_the_cli_prints_the_same_figures_as_json_and_csv(bot, seeded, monkeypatch):
    from bot.cli import main

    monkeypatch.setenv("VECINOS_DATABASE_URL", str(bot.db.engine.url))
    day = bot.clock().date()
    since_day = day - timedelta(days=30)
    argv = ["stats", "--barrio", "embajadores", "--since", since_day.isoformat(), "--until", day.isoformat()]
    printed = {}
    for fmt in ("json", "csv"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert await asyncio.to_thread(main, [*argv, "--format", fmt]) == 0
        printed[fmt] = out.getvalue()
    real_now = datetime.now(UTC)
    since = datetime(since_day.year, since_day.month, since_day.day, tzinfo=UTC)
    until = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    sql = await sql_figures(bot, seeded["barrio"], since, until, real_now)
    figures = json.loads(printed["json"])
    assert figures["barrio"] == "embajadores"
    cases = figures["total"]["cases"]
    assert cases["created"] == sql["created"] == 3
    assert cases["by_state"] == sql["by_state"]
    assert cases["by_sector"] == {k or NO_SECTOR: n for k, n in sql["by_sector"].items()}
    assert cases["by_category"] == sql["by_category"]
    assert cases["open_now"] == sql["open_now"]
    assert cases["open_by_state"] == sql["open_by_state"]
    assert cases["overdue"] == sql["overdue"]
    assert cases["me_too"] == sql["me_too"]
    assert cases["median_hours_to_acknowledge"] == pytest.approx(statistics.median(sql["ack_hours"]), abs=0.01)
    assert cases["median_hours_to_resolve"] == pytest.approx(statistics.median(sql["resolve_hours"]), abs=0.01)
    polls = figures["total"]["polls"]
    assert (polls["closed"], polls["participations"], polls["electors"]) == sql["polls"]
    assert polls["turnout"] == pytest.approx(sql["polls"][1] / sql["polls"][2], abs=1e-4)
    # CSV: flat rows with the same numbers.
    rows = list(csv.DictReader(io.StringIO(printed["csv"])))
    total = {(r["figure"], r["key"]): r["value"] for r in rows if r["circle"] == ""}
    assert total[("cases.created", "")] == str(cases["created"])
    assert total[("cases.overdue", "")] == str(cases["overdue"])
    assert total[("cases.me_too", "")] == str(cases["me_too"])
    assert total[("polls.participations", "")] == str(polls["participations"])
    assert total[("polls.electors", "")] == str(polls["electors"])
    for state, n in cases["by_state"].items():
        assert total[("cases.by_state", state)] == str(n)
    for sector, states in cases["by_sector_state"].items():
        for state, n in states.items():
            assert total[("cases.by_sector_state", f"{sector}/{state}")] == str(n)
    assert {r["circle"] for r in rows} >= {"", "emb-plaza-lavapies"}


async def test_an_arabic_manager_gets_numbered_bars_named_in_the_caption(bot, seeded):
    karim = Person(923, "Karim", "ar")
    await make_staff(bot, karim, "community_manager", "embajadores", locale="ar")
    replies = await bot.send(karim, "/stats")
    chart = next(r for r in replies if r.document)
    t = bot.catalogs.translator("ar")
    names = [sector_name(t, Sector.COMMUNITY_POLICE), sector_name(t, Sector.ENVIRONMENT_CLEANING)]
    caption = chart.text.split("\n")
    assert caption[0] == tr(bot, "ar", "📊 {barrio}: cases by sector and state", barrio="Embajadores")
    assert caption[1:] == [tr(bot, "ar", "{n}. {sector}", n=t.number(n), sector=s) for n, s in enumerate(names, 1)]
    assert matplotlib.image.imread(io.BytesIO(chart.document)).shape[:2] == (600, 1000)  # type: ignore[arg-type]


async def test_help_offers_stats_to_managers_and_governance_members_only(bot, seeded):
    line = "/stats"
    assert line in texts(await bot.send(PABLO, "/help"))
    assert tr(bot, "es", "/stats: the figures of your barrio, for its Governance Commission") in texts(
        await bot.send(GOV, "/help")
    )
    assert line not in texts(await bot.send(LUCIA, "/help"))
    assert line not in texts(await bot.send(DELIA, "/help"))


async def test_a_period_without_new_cases_gets_the_text_and_no_empty_chart(bot, seeded):
    sol = await bot.scalar("SELECT id FROM barrio WHERE code = 'sol'")
    replies = await bot.tap(ADA, f"sts:{sol}:30")
    assert [r for r in replies if r.document] == []
    assert tr(bot, "es", "New cases: {count}", count=0) in texts(replies)
