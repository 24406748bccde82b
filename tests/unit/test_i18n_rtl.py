"""Right-to-left renders isolate embedded values; locale formats come from Babel in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.i18n import ISOLATE_END, ISOLATE_START, SUPPORTED_LOCALES, Catalogs, guess_locale, isolated_template

FSI, PDI = ISOLATE_START, ISOLATE_END
catalogs = Catalogs("es")


def test_an_arabic_render_isolates_every_embedded_value():
    ar = catalogs.translator("ar")
    text = ar.gettext(
        "👀 Report <b>{ref}</b> ({category}) has been seen by {handler}: they are on it.",
        ref="MCD-2026-00042",
        category="Graffiti",
        handler="Lucía Fernández",
    )
    assert f"<b>{FSI}MCD-2026-00042{PDI}</b>" in text
    assert f"{FSI}Graffiti{PDI}" in text and f"{FSI}Lucía Fernández{PDI}" in text
    assert text.count(FSI) == text.count(PDI) == 3


def test_arabic_numbers_plurals_and_buttons_are_isolated_too():
    ar = catalogs.translator("ar")
    counted = ar.ngettext("{n} pending request:", "{n} pending requests:", 12)
    assert f"{FSI}12{PDI}" in counted
    label = ar.plain("{sector} · {barrio}", sector="Limpieza", barrio="Lavapiés")
    assert label == f"{FSI}Limpieza{PDI} · {FSI}Lavapiés{PDI}"


def test_a_placeholder_inside_a_tag_stays_bare_so_the_link_works():
    template = '<a href="{url}">{label}</a> {name}'
    assert isolated_template(template) == f'<a href="{{url}}">{FSI}{{label}}{PDI}</a> {FSI}{{name}}{PDI}'


@pytest.mark.parametrize("locale", [code for code in SUPPORTED_LOCALES if code != "ar"])
def test_left_to_right_languages_get_no_marks(locale):
    text = catalogs.translator(locale).gettext("Valid until {date}.", date="12/03/2026")
    assert FSI not in text and PDI not in text and "12/03/2026" in text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es", "martes, 1 de diciembre de 2026"),
        ("ar", "الثلاثاء، 1 ديسمبر 2026"),
        ("fr", "mardi 1 décembre 2026"),
        ("uk", "вівторок, 1 грудня 2026\u202fр."),
        ("zh_Hans", "2026年12月1日星期二"),
    ],
)
def test_dates_are_written_the_readers_way_in_madrid_time(locale, expected):
    # 23:30 UTC on 30 November is already 1 December in Madrid.
    moment = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert catalogs.translator(locale).date(moment, "full") == expected


@pytest.mark.parametrize(
    ("locale", "number", "joined"),
    [
        ("es", "1.234,5", "a, b y c"),
        ("en", "1,234.5", "a, b, and c"),
        ("fr", "1\u202f234,5", "a, b et c"),
        ("it", "1.234,5", "a, b e c"),
        ("ro", "1.234,5", "a, b și c"),
        ("uk", "1\xa0234,5", "a, b і c"),
    ],
)
def test_numbers_and_lists_follow_the_locale(locale, number, joined):
    t = catalogs.translator(locale)
    assert t.number(1234.5) == number
    assert t.join(["a", "b", "c"]) == joined


def test_a_language_is_named_in_the_readers_language():
    assert catalogs.translator("es").language_name("ar") == "árabe"
    assert catalogs.translator("fr").language_name("uk") == "ukrainien"
    assert catalogs.translator("en").language_name("zh_Hans") == "Chinese (Simplified)"


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("tl", "fil"),
        ("fil", "fil"),
        ("uk-UA", "uk"),
        ("ro-MD", "ro"),
        ("fr-BE", "fr"),
        ("it", "it"),
        ("bn-IN", "bn"),
        ("pt-BR", "es"),
    ],
)
def test_telegram_language_codes_find_the_ten_languages(code, locale):
    assert guess_locale(code, SUPPORTED_LOCALES, "es") == locale
