"""Which languages an invitation sheet speaks, and which font each is set in."""

from __future__ import annotations

import pytest

from bot.invite_sheet import sheet_languages
from bot.sheet_pdf import script_of

PRINTABLE = ("es", "en", "ar", "bn", "zh_Hans")


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
