"""Which languages an invitation sheet speaks, and which font each is set in."""

from __future__ import annotations

import re

import pytest

from bot.i18n import SUPPORTED_LOCALES, Catalogs, catalog_locales
from bot.invite_sheet import sheet_languages
from bot.sheet_pdf import script_of

PRINTABLE = ("es", "en", "ar", "bn", "zh_Hans")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ([], ["es"]),
        ([("es", 5)], ["es"]),
        ([("ar", 9), ("es", 4), ("en", 1)], ["ar", "es", "en"]),
        ([("ar", 9), ("bn", 5), ("zh_Hans", 3), ("en", 2), ("es", 1)], ["ar", "bn", "zh_Hans", "es"]),
        ([("ar", 9), ("bn", 5), ("en", 3), ("zh_Hans", 2)], ["ar", "bn", "en", "es"]),
        ([("tlh", 50), ("ar", 2)], ["ar", "es"]),  # a language without a catalog cannot be printed
    ],
)
def test_most_used_first_always_with_spanish_at_most_four(usage, expected):
    assert sheet_languages(usage, PRINTABLE) == expected


@pytest.mark.parametrize(
    ("locale", "script"),
    [("ar", "arabic"), ("bn", "bengali"), ("zh_Hans", "hans"), ("es", "latin"), ("uk", "latin"), ("ro", "latin")],
)
def test_each_locale_is_set_in_a_font_that_covers_its_script(locale, script):
    assert script_of(locale) == script


SHEET_MESSAGES = (
    "Invitation for your building",
    "Invitation to your circle",
    "Scan this code with your phone's camera to join {circle} on Telegram, as a resident of {building}.",
    "If the camera does not open it, type the link under the code. Telegram is free.",
    "Valid until {date}.",
)


@pytest.mark.parametrize("locale", [loc for loc in catalog_locales() if loc != "en"])
def test_every_catalog_translates_the_sheet_keeping_its_placeholders(locale):
    t = Catalogs("es").translator_for_print(locale)
    for message in SHEET_MESSAGES:
        translated = t.plain(message)
        assert translated != message, f"{locale}: {message!r} is not translated"
        assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(message)), (locale, message)


def test_every_language_of_the_chat_prints_and_no_other():
    assert set(catalog_locales()) == set(SUPPORTED_LOCALES)
    catalogs = Catalogs("es")
    assert catalogs.translator("bn").locale == "bn"
    assert catalogs.translator_for_print("uk").locale == "uk"
    with pytest.raises(ValueError):
        catalogs.translator_for_print("xx")
    with pytest.raises(ValueError, match="no catalog for 'tlh'"):
        catalogs.translator_for_print("tlh")
