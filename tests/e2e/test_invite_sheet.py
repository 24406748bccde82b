"""Invitations on paper: `vecinos invites sheet` prints a page per building; the PDF is rendered to PNG with
pdftoppm as a printer would, each page's QR code is read back, and residents who follow those links over the
fake Bot API join the right circle and building, verified."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from bot.cli import main
from bot.fakeapi.client import FakeTelegramClient
from bot.i18n import Catalogs
from tests.e2e.conftest import ENGINE_DATABASE, DatabaseProbe, InProcessBot, engine_database_id
from tests.e2e.conftest import journey_bot as running_journey
from tests.e2e.people import Person

CIRCLE = "emb-plaza-lavapies"
LANGUAGES = ("es", "ar", "bn", "zh_Hans")
CATALOGS = Catalogs("es")


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def journey_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str]]:  # type: ignore[no-untyped-def]
    """Vecinos polling on each engine and database."""
    async with running_journey(request.param, fake, tmp_path) as running:
        yield running


def vecinos(database_url: str, *args: str) -> str:
    """The real `vecinos` command on the bot's database (run in a thread: it has an event loop of its own)."""
    out, err = io.StringIO(), io.StringIO()
    os.environ["VECINOS_DATABASE_URL"] = database_url
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        del os.environ["VECINOS_DATABASE_URL"]
    assert code == 0, err.getvalue()
    return out.getvalue()


def printed_pages(pdf: Path) -> list[Path]:
    """The PDF as a printer sees it: one PNG per page at 150 dpi, rendered by poppler."""
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: apt-get install poppler-utils"
    subprocess.run([pdftoppm, "-png", "-r", "150", str(pdf), str(pdf.with_suffix(""))], check=True)
    return sorted(pdf.parent.glob(f"{pdf.stem}-*.png"))


def qr_link(png: Path) -> str:
    """The one QR code on a page, decoded."""
    codes = [c for c in zxingcpp.read_barcodes(Image.open(png)) if c.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, f"{png.name}: {len(codes)} QR codes"
    return codes[0].text


async def test_each_printed_qr_code_makes_its_reader_a_verified_resident_of_its_building(fake, journey_bot, tmp_path):  # type: ignore[no-untyped-def]
    _url, client = fake
    bot, database_url = journey_bot
    db = DatabaseProbe(database_url)
    try:
        await _print_scan_and_join(client, bot, database_url, db, tmp_path)
    finally:
        await db.close()


async def _print_scan_and_join(
    client: FakeTelegramClient, bot: InProcessBot, database_url: str, db: DatabaseProbe, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.pdf"
    args = ("invites", "sheet", "--circle", CIRCLE, "--out", str(sheet), "--languages", ",".join(LANGUAGES))
    said = await asyncio.to_thread(vecinos, database_url, *args)
    assert said.startswith(f"wrote 3 pages to {sheet} (languages es, ar, bn, zh_Hans; 3 new invitations, 0 reused")

    buildings = {
        address: (building_id, code)
        for building_id, code, address in await db.rows(
            "SELECT b.id, b.code, b.address FROM building b JOIN circle c ON c.id = b.circle_id WHERE c.code = :c",
            c=CIRCLE,
        )
    }
    pdf = pypdfium2.PdfDocument(sheet)
    texts = [pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf))]
    pdf.close()
    pngs = printed_pages(sheet)
    assert len(pngs) == len(texts) == 3

    raw = sheet.read_bytes()
    for font in (b"NotoSansArabic", b"NotoSansBengali", b"NotoSansCJKSC"):
        assert font in raw, f"{font.decode()} is not embedded"
    for locale in ("ar", "zh_Hans"):
        heading = CATALOGS.translator_for_print(locale).plain("Invitation for your building")
        assert all(heading in text for text in texts), locale

    joined: set[int] = set()
    for page, (png, text) in enumerate(zip(pngs, texts, strict=True)):
        link = qr_link(png)
        assert link in text, "the link printed under the code is the one it carries"
        parsed = urlparse(link)
        assert (parsed.netloc, parsed.path) == ("t.me", f"/{bot.app.settings.bot_username}")
        code = parse_qs(parsed.query)["start"][0]
        [address] = [a for a in buildings if a in text]
        building_id, _code = buildings[address]

        user_id = 7100 + page
        resident = Person(client, user_id, f"Vecina {page}", "ar")
        await resident.say(f"/start {code}")
        await resident.tap("lang:ar")
        await resident.tap("consent:yes")
        assert await db.rows(
            "SELECT c.code, m.building_id, m.status, m.verified_via FROM membership m "
            "JOIN resident r ON r.id = m.resident_id JOIN circle c ON c.id = m.circle_id "
            "WHERE r.telegram_user_id = :u",
            u=user_id,
        ) == [(CIRCLE, building_id, "verified", "invite")]
        joined.add(building_id)
    assert joined == {building_id for building_id, _code in buildings.values()}

    # Printed again, the sheet carries the same codes: the ones on the walls keep working.
    again = tmp_path / "again.pdf"
    args = ("invites", "sheet", "--circle", CIRCLE, "--out", str(again), "--languages", "es")
    said = await asyncio.to_thread(vecinos, database_url, *args)
    assert "0 new invitations, 3 reused" in said
    assert sorted(qr_link(p) for p in printed_pages(again)) == sorted(qr_link(p) for p in pngs)
    assert await db.scalar("SELECT count(*) FROM invite") == 3


def test_by_default_a_sheet_speaks_its_residents_languages_most_used_first(cli, tmp_path):
    cli.ok("demo", "populate", "--residents", "13", "--circle", CIRCLE)  # es, en, ar 2 each; the other seven 1
    sheet = tmp_path / "default.pdf"
    said = cli.ok("invites", "sheet", "--circle", CIRCLE, "--building", "emb-lavapies-7", "--out", str(sheet))
    assert said.startswith(f"wrote 1 pages to {sheet} (languages ar, en, es, bn; 1 new invitations, 0 reused)")
    fresh = cli.ok("invites", "sheet", "--circle", CIRCLE, "--building", "emb-lavapies-7", "--out", str(sheet), "--new")
    assert "1 new invitations, 0 reused" in fresh
    # A circle with no buildings yet gets one page with an invitation to the circle itself.
    said = cli.ok("invites", "sheet", "--circle", "emb-tirso-molina", "--out", str(sheet), "--languages", "ar")
    assert said.startswith(f"wrote 1 pages to {sheet} (languages ar;")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--circle", "atlantis"], "no circle with code 'atlantis'"),
        (["--circle", CIRCLE, "--building", "cor-santa-ana-14"], "no building 'cor-santa-ana-14' in the circle"),
        (["--circle", CIRCLE, "--languages", "es,tlh"], "--languages: no catalog for tlh (have es, en, ar, bn,"),
        (["--circle", CIRCLE, "--languages", ","], "--languages needs at least one locale"),
        (["--circle", CIRCLE, "--expires-days", "0"], "--expires-days must be positive"),
    ],
)
def test_a_sheet_that_cannot_be_made_is_refused_in_one_line(cli, tmp_path, args, says):
    assert says in cli.refused("invites", "sheet", *args, "--out", str(tmp_path / "s.pdf"))


def test_a_missing_font_names_the_debian_package_that_installs_it(cli, tmp_path, monkeypatch):
    from bot import sheet_pdf

    gone = sheet_pdf.FontFile(tmp_path / "NotoSansBengali-Regular.ttf", "fonts-noto-core")
    monkeypatch.setitem(sheet_pdf.FONTS, "bengali", gone)
    said = cli.refused("invites", "sheet", "--circle", CIRCLE, "--out", str(tmp_path / "s.pdf"), "--languages", "es,bn")
    assert said.endswith("is missing: install it with `apt-get install fonts-noto-core`")
    assert not (tmp_path / "s.pdf").exists()
