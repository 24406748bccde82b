"""The catalog checker passes on the real catalogs and catches one planted mistake of each kind."""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural

from bot.catalog_check import Term, check_all, check_catalog, fill_long, main, tag_problem
from bot.i18n import SUPPORTED_LOCALES

CIRCLE = Term(re.compile(r"\bcircles?\b", re.I), {"fr": re.compile("cercle", re.I)}, {"fr": "cercle"})
BUTTON = "✅ Join {circle}"


def template() -> Catalog:
    pot = Catalog()
    pot.add("Hello <b>{name}</b>, welcome to your circle.")
    pot.add(("{n} new report", "{n} new reports"))
    pot.add(BUTTON)
    pot.add('Write to the <a href="{url}">managers</a>.')
    return pot


def good(locale: str = "fr") -> dict[object, object]:
    forms = get_plural(locale).num_plurals
    return {
        "Hello <b>{name}</b>, welcome to your circle.": "Bonjour <b>{name}</b>, bienvenue dans votre cercle.",
        ("{n} new report", "{n} new reports"): tuple(f"{{n}} signalement{'s' * i}" for i in range(forms)),
        BUTTON: "✅ Rejoindre {circle}",
        'Write to the <a href="{url}">managers</a>.': 'Écrivez aux <a href="{url}">gestionnaires</a>.',
    }


def catalog(locale: str = "fr", entries: dict[object, object] | None = None, **header: object) -> Catalog:
    po = Catalog(locale=locale, **header)  # type: ignore[arg-type]
    for key, value in (good(locale) if entries is None else entries).items():
        po.add(key, value)
    return po


def problems(po: Catalog, locale: str = "fr") -> list[str]:
    found = check_catalog(po, template(), locale, glossary=[CIRCLE], buttons=frozenset({BUTTON}))
    return [p.rule for p in found]


def with_change(key: object, value: object, locale: str = "fr") -> Catalog:
    entries = good(locale)
    if value is None:
        del entries[key]
    else:
        entries[key] = value
    return catalog(locale, entries)


def test_the_sample_catalog_is_clean():
    assert problems(catalog()) == []


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("Hello <b>{name}</b>, welcome to your circle.", None, "missing"),
        ("Hello <b>{name}</b>, welcome to your circle.", "", "untranslated"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>{nom}</b>, votre cercle.", "placeholders"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>, votre cercle.", "placeholders"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>{name}, votre cercle.", "tags"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <i>{name}</i>, votre cercle.", "tags"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>{name}</i></b>, votre cercle.", "tags"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>{name}</b>, votre groupe.", "glossary"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>{name}</b>, cercle" + "x" * 4100, "length"),
        ("Hello <b>{name}</b>, welcome to your circle.", "Bonjour <b>\u2068{name}\u2069</b>, cercle", "isolates"),
        (("{n} new report", "{n} new reports"), ("{n} signalement", "{n} signalements"), "plural-forms"),
        (("{n} new report", "{n} new reports"), ("{n} signalement", "", "{n} signalements"), "untranslated"),
        (("{n} new report", "{n} new reports"), ("{n} signalement", "{count} x", "{n} s"), "placeholders"),
        (BUTTON, "✅ Rejoindre {circle} " + "x" * 150, "length"),
    ],
)
def test_a_planted_mistake_is_caught(key, value, rule):
    assert rule in problems(with_change(key, value))


def test_a_fuzzy_translation_is_caught():
    po = catalog()
    po["Hello <b>{name}</b>, welcome to your circle."].flags.add("fuzzy")
    assert "fuzzy" in problems(po)


@pytest.mark.parametrize(
    ("locale", "header"),
    [
        ("ar", "nplurals=2; plural=(n != 1);"),  # Arabic has six forms
        ("uk", "nplurals=3; plural=(n%10==1 ? 0 : n%10>=2 && n%10<=4 ? 1 : 2);"),  # right count, wrong for 11-14
        ("fr", "nplurals=2; plural=(n > 1);"),  # CLDR's French has a third form, for millions
    ],
)
def test_a_plural_header_that_is_not_cldrs_is_caught(locale, header):
    po = catalog(locale)
    po._num_plurals, po._plural_expr = int(header.split(";")[0].split("=")[1]), header.split("plural=")[1][:-1]
    assert "plural-header" in problems(po, locale)


def test_arabic_needs_six_forms_and_gets_them_from_babel():
    assert problems(catalog("ar"), "ar") == []
    assert "plural-forms" in problems(
        with_change(("{n} new report", "{n} new reports"), ("{n} a", "{n} b"), "ar"), "ar"
    )


def test_a_plural_form_may_leave_out_the_number_but_nothing_else():
    forms = ("un signalement", "{n} signalements", "{n} signalements")
    assert problems(with_change(("{n} new report", "{n} new reports"), forms)) == []


def test_long_values_fill_names_and_figures():
    assert fill_long("{name} · {n}", "fr") == "W" * 64 + " · 1.000.000"
    assert fill_long("{name}", "ar") == "\u2068" + "W" * 64 + "\u2069"


@pytest.mark.parametrize(
    ("source", "translation", "fine"),
    [
        ("<b>a</b> <i>b</i>", "<i>b</i> <b>a</b>", True),
        ('<a href="{url}">x</a>', '<a href="{url}">y</a>', True),
        ("<b>a</b>", "<b>a", False),
        ("<b>a</b>", "</b>a<b>", False),
        ("<b><i>a</i></b>", "<b><i>a</b></i>", False),
    ],
)
def test_tags_must_balance(source, translation, fine):
    assert (tag_problem(source, translation) is None) is fine


def test_every_catalog_passes():
    found = check_all(SUPPORTED_LOCALES)
    assert not found, "\n".join(map(str, found[:20]))


def test_the_command_line_exits_non_zero_on_a_problem(tmp_path, capsys, monkeypatch):
    assert main(["es"]) == 0
    assert "0 problems" in capsys.readouterr().out
    assert main(["xx"]) == 1
