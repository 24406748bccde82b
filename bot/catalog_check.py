"""The catalog checker: every language complete, faithful to the source's placeholders and tags, with CLDR's
plural forms, the glossary's terms, and within Telegram's limits once filled with long values.

Run `python -m bot.catalog_check` (the test suite runs it on every catalog); it prints one line per problem
and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import gettext
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.domain.callbacks import MAX_CALLBACK_BYTES
from bot.i18n import ISOLATE_END, ISOLATE_START, LOCALES_DIR, RTL_LOCALES, SUPPORTED_LOCALES, isolated_template

ROOT = LOCALES_DIR.parent
GLOSSARY = LOCALES_DIR / "glossary.toml"
MESSAGE_MAX = 4096  # characters in one Telegram message
BUTTON_TEXT_MAX = 200  # characters of a button's text or a button-tap notice, as we allow them
# The longest values a placeholder takes: Telegram's 64-character first names, circle and building names, and
# figures in the millions. Free-text placeholders (a resident's report) have their own limits in the code.
LONG_VALUES = {"n": "1.000.000", "count": "1.000.000", "total": "1.000.000", "id": "1000000", "url": "https://t.me/"}
LONG_NAME = "W" * 64
# Placeholders that carry a resident's own text, bounded by the flow that takes it (not by the catalog).
FREE_TEXT = frozenset({"text", "body", "excerpt", "details", "description", "summary", "minutes", "reason"})
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TAG = re.compile(r"<(/?)([a-z][a-z0-9-]*)\b[^>]*?(/?)>")
# Words that must not count as a glossary term: commands and CAPITAL argument names ("/grant ... CIRCLE").
_NOT_PROSE = re.compile(r"/\w+|\b[A-Z_]{2,}\b|\{\w+\}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one message of one catalog."""

    locale: str
    rule: str
    message: str
    detail: str

    def __str__(self) -> str:
        return f"{self.locale}: [{self.rule}] {self.message[:60]!r}: {self.detail}"


@dataclass(frozen=True)
class Term:
    """A glossary term: where the English uses it, and what each language's translation must then say."""

    source: re.Pattern[str]
    match: dict[str, re.Pattern[str]]
    text: dict[str, str]


def load_glossary(path: Path = GLOSSARY) -> list[Term]:
    """The glossary's checked terms."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    terms = []
    for entry in data.get("term", []):
        languages = {k: v for k, v in entry.items() if isinstance(v, dict)}
        terms.append(
            Term(
                re.compile(entry["source"], re.IGNORECASE),
                {k: re.compile(v["match"], re.IGNORECASE) for k, v in languages.items()},
                {k: v["text"] for k, v in languages.items()},
            )
        )
    return terms


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    """A .po or .pot file."""
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def button_messages(roots: Iterable[Path] = (ROOT / "handlers",)) -> frozenset[str]:
    """The msgids the conversations translate with `plain()`: button labels and button-tap notices, whose limit
    is Telegram's 200 characters rather than a message's 4096 (the printed sheet's plain texts are not)."""
    found: set[str] = set()
    for root in roots:
        for _file, _line, message, _comments, _context in extract_from_dir(
            root, method_map=[("**.py", "python")], keywords={"plain": None}
        ):
            found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


def _forms(message: Message) -> tuple[list[str], list[str]]:
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
    return ids, strings


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def tag_problem(source: str, translation: str) -> str | None:
    """Why `translation`'s HTML tags do not match `source`'s (None when they do): the same tags, each closed
    in order."""
    stack: list[str] = []
    for closing, name, self_closing in TAG.findall(translation):
        if self_closing:
            continue
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return f"</{name}> closes nothing open"
    if stack:
        return f"<{stack[-1]}> is never closed"
    theirs = sorted((c, n) for c, n, _ in TAG.findall(translation))
    ours = sorted((c, n) for c, n, _ in TAG.findall(source))
    if theirs != ours:
        return "its tags are not the source's"
    return None


def fill_long(template: str, locale: str) -> str:
    """`template` rendered with long sample values (as the bot renders it, isolates included)."""
    text = isolated_template(template) if locale in RTL_LOCALES else template
    names = set(PLACEHOLDER.findall(text))
    values = {name: LONG_VALUES.get(name, "" if name in FREE_TEXT else LONG_NAME) for name in names}
    try:
        return text.format(**values)
    except (IndexError, KeyError, ValueError):
        return text


def check_catalog(
    catalog: Catalog,
    template: Catalog,
    locale: str,
    *,
    glossary: Sequence[Term] = (),
    buttons: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Every problem of `catalog` (for `locale`) against `template`, by the rules in this module's docstring."""
    problems: list[Problem] = []

    def report(rule: str, message: str, detail: str) -> None:
        problems.append(Problem(locale, rule, message, detail))

    expected = get_plural(locale)
    if catalog.num_plurals != expected.num_plurals:
        report("plural-header", "", f"Plural-Forms has {catalog.num_plurals} forms; CLDR has {expected.num_plurals}")
    else:
        ours, cldr = gettext.c2py(catalog.plural_expr), gettext.c2py(expected.plural_expr)
        wrong = [n for n in range(1000) if ours(n) != cldr(n)]
        if wrong:
            report("plural-header", "", f"Plural-Forms picks another form than CLDR for n = {wrong[:5]}")
    for source in template:
        if not source.id:
            continue
        key = _key(source)
        message = catalog.get(source.id if isinstance(source.id, str) else source.id[0])
        if message is None:
            report("missing", key, "not in the catalog (run `make extract`)")
            continue
        ids, strings = _forms(message)
        if message.fuzzy:
            report("fuzzy", key, "marked fuzzy: review it and drop the flag")
        if message.pluralizable and len(strings) != expected.num_plurals:
            report("plural-forms", key, f"{len(strings)} forms; the language has {expected.num_plurals}")
        if not strings or not all(s.strip() for s in strings):
            report("untranslated", key, "empty translation")
            continue
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for string in strings:
            found = set(PLACEHOLDER.findall(string))
            # A plural form may leave out {n} ("one request"), never anything else.
            needed = wanted - {"n"} if message.pluralizable else wanted
            if found - wanted or needed - found:
                report(
                    "placeholders",
                    key,
                    f"has {sorted(found)}, the source {sorted(wanted)}",
                )
            tags = tag_problem(ids[0], string)
            if tags:
                report("tags", key, tags)
            if ISOLATE_START in string or ISOLATE_END in string:
                report("isolates", key, "isolate marks are added by the bot; the catalog must not carry them")
            limit = BUTTON_TEXT_MAX if key in buttons else MESSAGE_MAX
            rendered = fill_long(string, locale)
            if len(rendered) > limit:
                report("length", key, f"{len(rendered)} characters with long values; Telegram allows {limit}")
        prose = _NOT_PROSE.sub(" ", ids[0])
        for term in glossary:
            used = locale in term.match and term.source.search(prose)
            if used and not all(term.match[locale].search(_NOT_PROSE.sub(" ", s)) for s in strings):
                report("glossary", key, f"should say {term.text[locale]!r} (locales/glossary.toml)")
    return problems


def check_callbacks(locales: Iterable[str]) -> list[Problem]:
    """The callback data that carries a language code (the language picker, a notice's versions) fits."""
    problems = []
    for locale in locales:
        for data in (f"lang:{locale}", f"ntl:{locale}"):
            if len(data.encode()) > MAX_CALLBACK_BYTES:
                problems.append(Problem(locale, "callback", data, f"over {MAX_CALLBACK_BYTES} bytes"))
    return problems


def check_all(locales: Sequence[str] = SUPPORTED_LOCALES, folder: Path = LOCALES_DIR) -> list[Problem]:
    """Check every catalog in `folder` for `locales` against its template and the glossary."""
    template = read_catalog(folder / "messages.pot")
    glossary = load_glossary(folder / "glossary.toml")
    buttons = button_messages()
    problems = check_callbacks(locales)
    for locale in locales:
        path = folder / locale / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            problems.append(Problem(locale, "missing", "", f"no catalog at {path}"))
            continue
        problems += check_catalog(read_catalog(path, locale), template, locale, glossary=glossary, buttons=buttons)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: check the catalogs, print the problems, exit 1 if any."""
    parser = argparse.ArgumentParser(prog="python -m bot.catalog_check", description=__doc__)
    parser.add_argument("locales", nargs="*", default=list(SUPPORTED_LOCALES))
    args = parser.parse_args(argv)
    problems = check_all(args.locales)
    for problem in problems:
        print(problem)
    print(f"{len(args.locales)} catalogs, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
