"""Printable invitation sheets: one A4 page per building with its QR code, link and instructions in several
languages, shaped (Arabic joined and right to left) with the system's Noto fonts.

Imported only by `vecinos invites sheet`: fpdf2 and segno never load when the bot starts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.i18n import Translator

if TYPE_CHECKING:
    from fpdf import FPDF

NOTO_CORE = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto")


@dataclass(frozen=True)
class FontFile:
    """A font face on disk, the Debian package that installs it, and its index inside a collection."""

    path: Path
    package: str
    collection_index: int = 0


# Script of each locale's text; every other locale is written in Latin, Greek or Cyrillic, which Noto Sans covers.
LOCALE_SCRIPTS = {"ar": "arabic", "bn": "bengali", "zh_Hans": "hans", "zh": "hans"}
FONTS: dict[str, FontFile] = {
    "latin": FontFile(NOTO_CORE / "NotoSans-Regular.ttf", "fonts-noto-core"),
    "latin-bold": FontFile(NOTO_CORE / "NotoSans-Bold.ttf", "fonts-noto-core"),
    "arabic": FontFile(NOTO_CORE / "NotoSansArabic-Regular.ttf", "fonts-noto-core"),
    "bengali": FontFile(NOTO_CORE / "NotoSansBengali-Regular.ttf", "fonts-noto-core"),
    # Face 2 of the Pan-CJK collection is Simplified Chinese (0 is Japanese, whose glyph forms differ).
    "hans": FontFile(NOTO_CJK / "NotoSansCJK-Regular.ttc", "fonts-noto-cjk", collection_index=2),
}

PAGE_WIDTH_MM = 210.0
MARGIN_MM = 16.0
QR_SIZE_MM = 80.0


class FontMissing(RuntimeError):
    """A font the sheet needs is not installed; the message names the Debian package that installs it."""


@dataclass(frozen=True)
class SheetPage:
    """What one page says: where it invites to, and the deep link its QR code carries."""

    circle_name: str
    barrio_name: str
    building_address: str | None
    link: str
    expires_at: datetime | None


def script_of(locale: str) -> str:
    """The font key a locale's text is set in."""
    return LOCALE_SCRIPTS.get(locale, LOCALE_SCRIPTS.get(locale.split("_")[0], "latin"))


def fonts_for(locales: Sequence[str]) -> dict[str, FontFile]:
    """The fonts a sheet in these languages needs; FontMissing names the package of the first one absent."""
    keys = ["latin", "latin-bold", *dict.fromkeys(script_of(loc) for loc in locales)]
    needed = {key: FONTS[key] for key in keys}
    for key, font in needed.items():
        if not font.path.is_file():
            raise FontMissing(
                f"the {key} font {font.path} is missing: install it with `apt-get install {font.package}`"
            )
    return needed


def instruction_texts(t: Translator, page: SheetPage) -> tuple[str, str]:
    """A language's heading and paragraph for one page."""
    where = page.building_address or page.circle_name
    heading = t.plain("Invitation for your building") if page.building_address else t.plain("Invitation to your circle")
    parts = [
        t.plain(
            "Scan this code with your phone's camera to join {circle} on Telegram, as a resident of {building}.",
            circle=page.circle_name,
            building=where,
        ),
        t.plain("If the camera does not open it, type the link under the code. Telegram is free."),
    ]
    if page.expires_at is not None:
        parts.append(t.plain("Valid until {date}.", date=t.date(page.expires_at, format="long")))
    return heading, " ".join(parts)


def render_sheet(
    pages: Sequence[SheetPage],
    translators: Sequence[Translator],
    on_page: Callable[[], None] | None = None,
) -> bytes:
    """The PDF: one A4 page per entry of `pages`, with instructions in each translator's language, in order."""
    from fpdf import FPDF

    fonts = fonts_for([t.locale for t in translators])
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_title("Vecinos invitations")
    pdf.set_creator("Vecinos")
    for key, font in fonts.items():
        pdf.add_font(key, fname=str(font.path), collection_font_number=font.collection_index)
    # Names of circles and buildings are Latin inside Arabic or Bengali sentences: those fonts lack the letters.
    pdf.set_fallback_fonts(["latin"], exact_match=False)
    body_size = 11.5 if len(translators) <= 3 else 10.5
    for page in pages:
        pdf.add_page()
        _header(pdf, page)
        _qr_code(pdf, page.link, (PAGE_WIDTH_MM - QR_SIZE_MM) / 2, pdf.get_y())
        pdf.set_y(pdf.get_y() + QR_SIZE_MM + 2)
        pdf.set_text_shaping(True, direction="ltr")
        pdf.set_font("latin", size=11)
        pdf.multi_cell(0, 6, page.link, align="C", new_x="LMARGIN", new_y="NEXT")
        for t in translators:
            _language_block(pdf, t, page, body_size)
        if on_page is not None:
            on_page()
    return bytes(pdf.output())


def _header(pdf: FPDF, page: SheetPage) -> None:
    pdf.set_text_shaping(True, direction="ltr")
    pdf.set_text_color(110, 110, 110)
    pdf.set_font("latin", size=10)
    pdf.multi_cell(0, 5, f"Vecinos · {page.barrio_name}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("latin-bold", size=24)
    pdf.multi_cell(0, 11, page.circle_name, align="C", new_x="LMARGIN", new_y="NEXT")
    if page.building_address:
        pdf.set_font("latin", size=16)
        pdf.multi_cell(0, 8, page.building_address, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _qr_code(pdf: FPDF, link: str, x: float, y: float) -> None:
    """The QR code as vector squares (sharp at any printer resolution), with the quiet zone scanners need."""
    import segno

    matrix = [list(row) for row in segno.make(link, error="m", micro=False).matrix]
    quiet = 4
    module = QR_SIZE_MM / (len(matrix) + 2 * quiet)
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            # One rectangle per run of dark modules: a tenth of the drawing operations of one per module.
            pdf.rect(
                x + (quiet + start) * module,
                y + (quiet + row_index) * module,
                (column - start) * module,
                module,
                style="F",
            )


def _language_block(pdf: FPDF, t: Translator, page: SheetPage, size: float) -> None:
    heading, paragraph = instruction_texts(t, page)
    align = "R" if t.is_rtl else "L"
    pdf.ln(2)
    pdf.set_draw_color(190, 190, 190)
    pdf.line(MARGIN_MM, pdf.get_y(), PAGE_WIDTH_MM - MARGIN_MM, pdf.get_y())
    pdf.ln(2)
    pdf.set_text_shaping(True, direction="rtl" if t.is_rtl else "ltr")
    script = script_of(t.locale)
    pdf.set_font("latin-bold" if script == "latin" else script, size=size + 1.5)
    pdf.multi_cell(0, size * 0.6, heading, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(script, size=size)
    pdf.multi_cell(0, size * 0.55, paragraph, align=align, new_x="LMARGIN", new_y="NEXT")
