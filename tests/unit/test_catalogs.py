"""Every language is complete, placeholder-consistent, and the template matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, SUPPORTED_LOCALES, Catalogs

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TAG = re.compile(r"</?[a-z]+")


def catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return read_po(fp, locale=locale)


def code_messages() -> set[str]:
    ids: set[str] = set()
    keywords = {"gettext": None, "ngettext": (1, 2), "N_": None, "plain": None}
    for folder in ("bot", "handlers", "storage"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=keywords
        ):
            ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_template_lists_every_message_in_the_code():
    with (LOCALES_DIR / "messages.pot").open("rb") as fp:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fp) if m.id}
    missing = code_messages() - template
    assert not missing, f"run `make extract`: {sorted(missing)[:5]}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_is_complete_and_consistent(locale):
    with (LOCALES_DIR / "messages.pot").open("rb") as fp:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fp) if m.id}
    messages = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog(locale) if m.id}
    assert template <= set(messages), f"{locale}: missing {sorted(template - set(messages))[:5]}"
    for key, message in messages.items():
        if key not in template:
            continue
        assert not message.fuzzy, f"{locale}: fuzzy {key!r}"
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(strings), f"{locale}: untranslated {key!r}"
        expected = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for string in strings:
            found = set(PLACEHOLDER.findall(string))
            assert found <= expected, f"{locale}: {key!r} has unknown placeholders {found - expected}"
            if isinstance(message.id, str):
                assert found == expected, f"{locale}: {key!r} lost placeholders {expected - found}"
            assert sorted(TAG.findall(string)) == sorted(TAG.findall(ids[0])), f"{locale}: tags differ in {key!r}"


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
def test_translations_differ_from_english(locale):
    t = Catalogs(locale).translator(locale)
    assert t.gettext("Which language do you prefer?") != "Which language do you prefer?"


def test_values_are_escaped_after_translation():
    t = Catalogs("es").translator("en")
    assert t.gettext("👤 <b>{name}</b>", name="<i>x</i> & y") == "👤 <b>&lt;i&gt;x&lt;/i&gt; &amp; y</b>"


def test_plural_forms_follow_the_locale():
    catalogs = Catalogs("es")
    assert (
        catalogs.translator("en").ngettext("{n} pending request:", "{n} pending requests:", 1) == "1 pending request:"
    )
    assert (
        catalogs.translator("en").ngettext("{n} pending request:", "{n} pending requests:", 3) == "3 pending requests:"
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_plural_forms_pick_the_form_cldr_says(locale):
    """The catalog's Plural-Forms must choose, for every n, the form Babel's CLDR data chooses (an Arabic header
    that swapped 'many' and 'other' shows '11 طلب' for '11 طلبًا')."""
    import gettext

    from babel.messages.plurals import get_plural

    expected = get_plural(locale)
    ours = catalog(locale)
    assert ours.num_plurals == expected.num_plurals
    mine, cldr = gettext.c2py(ours.plural_expr), gettext.c2py(expected.plural_expr)
    assert [mine(n) for n in range(250)] == [cldr(n) for n in range(250)]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_passes_babels_own_checks_as_make_locales_runs_them(locale):
    # Why: a bare "%" after a placeholder reads as a printf flag ("% d"), and pybabel compile then fails.
    errors = [(message.id, [str(e) for e in problems]) for message, problems in catalog(locale).check()]
    assert not errors, f"{locale}: {errors[:3]}"
