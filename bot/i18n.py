"""Translators per locale, loaded from Babel catalogs; values are HTML-escaped after translation."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time, get_datetime_format
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
# Order is the order of the language picker.
SUPPORTED_LOCALES: tuple[str, ...] = ("es", "en", "ar", "bn", "zh_Hans", "ro", "fr", "it", "fil", "uk")
# Each language in its own name, as a picker shows it (a reader finds their language without reading ours).
LANGUAGE_NAMES: dict[str, str] = {
    "es": "Español",
    "en": "English",
    "ar": "العربية",
    "bn": "বাংলা",
    "zh_Hans": "中文（简体）",
    "ro": "Română",
    "fr": "Français",
    "it": "Italiano",
    "fil": "Filipino",
    "uk": "Українська",
}
RTL_LOCALES = frozenset({"ar", "fa", "he", "ur"})
# Unicode first-strong isolate and pop-directional isolate: a Latin name, a number or a case reference inside
# an Arabic sentence keeps its own direction and does not drag the words around it (Unicode's bidi algorithm).
ISOLATE_START = "\u2068"
ISOLATE_END = "\u2069"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TAG = re.compile(r"<[^>]*>")


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (it is translated per recipient later)."""
    return message


class Safe(str):
    """Text that is already HTML (a translated message with its values escaped): a placeholder value of this
    type is inserted as it is, so a message built from other messages is escaped exactly once."""

    def __add__(self, other: str) -> str:
        # Safe + Safe stays Safe; anything else is unknown text and loses the mark.
        return Safe(str.__add__(self, other)) if isinstance(other, Safe) else str.__add__(self, other)


def escape(value: object) -> Safe:
    """What a person typed, made safe to show inside HTML."""
    return Safe(_escape(value))


def safe_join(separator: str, parts: Iterable[Safe]) -> Safe:
    """Join translated messages (and a literal separator, written by us) into one safe text."""
    return Safe(separator.join(parts))


def _escape(value: object) -> str:
    if isinstance(value, Safe):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return html.escape(str(value), quote=False)


@dataclass(frozen=True)
class Translator:
    """Translates and formats messages for one locale (no global state: one per recipient)."""

    locale: str
    translations: NullTranslations
    zone: ZoneInfo

    def gettext(self, message: str, **values: object) -> Safe:
        """Translate `message` into HTML, filling its named placeholders with HTML-escaped values (values that
        are Safe already, such as other translated messages, go in as they are)."""
        text = self.translations.gettext(message)
        if not values:
            return Safe(text)
        return Safe(self._directional(text).format(**{k: _escape(v) for k, v in values.items()}))

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> Safe:
        """Translate with the locale's plural rules; `{n}` is available as a placeholder."""
        text = self._directional(self.translations.ngettext(singular, plural, n))
        return Safe(text.format(n=self.number(n), **{k: _escape(v) for k, v in values.items()}))

    def plain(self, message: str, **values: object) -> str:
        """Translate for a place that shows plain text, not HTML (button labels, button-tap notices): values
        go in unescaped."""
        text = self.translations.gettext(message)
        return self._directional(text).format(**{k: str(v) for k, v in values.items()}) if values else text

    def _directional(self, template: str) -> str:
        """In a right-to-left language, the template with every placeholder outside an HTML tag wrapped in
        isolate marks; a placeholder inside a tag (a link's href) is left as it is, so the link still works."""
        return isolated_template(template) if self.locale in RTL_LOCALES else template

    def language_name(self, code: str) -> str:
        """A language's name in this translator's language ("árabe" to a Spanish reader)."""
        return language_display_name(code, self.locale)

    def join(self, items: Iterable[str], style: str = "standard") -> str:
        """A list the way this locale writes one ("a, b y c"; "a، b و c")."""
        return format_list(list(items), style=style, locale=self.locale)

    def number(self, value: float) -> str:
        """Format a number for this locale."""
        return format_decimal(value, locale=self.locale)

    def percent(self, value: float) -> str:
        """Format a percentage (50 is half) with this locale's sign and spacing, to one decimal at most."""
        # Why Decimal: 50.4 / 100 as a float prints as 50.400000000000006 once quantization is off.
        share = Decimal(str(round(value, 1))) / 100
        return format_percent(share, locale=self.locale, decimal_quantization=False)

    def datetime(self, moment: datetime, format: str = "medium") -> str:
        """Format an aware datetime in this locale and the configured time zone."""
        return format_datetime(moment, format=format, tzinfo=self.zone, locale=self.locale)

    def day_and_time(self, moment: datetime) -> str:
        """A meeting's moment as people say it: the full day (weekday, day, month, year) and the hour, without
        seconds or the zone's name ("jueves, 10 de diciembre de 2026 18:00")."""
        local = moment.astimezone(self.zone)
        day = format_date(local.date(), format="full", locale=self.locale)
        hour = format_time(local.time(), format="short", locale=self.locale)
        return format_datetime_pattern(self.locale).format(day, hour)

    def date(self, moment: datetime, format: str = "medium") -> str:
        """Format the day of an aware datetime in this locale, as seen in the configured time zone."""
        return format_date(moment.astimezone(self.zone).date(), format=format, locale=self.locale)

    @property
    def is_rtl(self) -> bool:
        """Whether this locale is written right to left."""
        return self.locale in RTL_LOCALES


@lru_cache(maxsize=4096)
def isolated_template(template: str) -> str:
    """`template` with each placeholder outside HTML tags between isolate marks."""
    parts = []
    last = 0
    for tag in _TAG.finditer(template):
        parts.append(_isolate_placeholders(template[last : tag.start()]))
        parts.append(tag.group(0))
        last = tag.end()
    parts.append(_isolate_placeholders(template[last:]))
    return "".join(parts)


def _isolate_placeholders(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: ISOLATE_START + m.group(0) + ISOLATE_END, text)


@lru_cache(maxsize=256)
def language_display_name(code: str, locale: str) -> str:
    """`code`'s language named in `locale` (Babel's CLDR names), else its own name."""
    try:
        return Locale.parse(code).get_display_name(locale) or LANGUAGE_NAMES.get(code, code)
    except (UnknownLocaleError, ValueError):
        return LANGUAGE_NAMES.get(code, code)


@lru_cache(maxsize=32)
def format_datetime_pattern(locale: str) -> str:
    """How the locale joins a date and a time ("{1}, {0}" in Spanish), as a str.format pattern of (day, hour)."""
    return (
        str(get_datetime_format("full", locale=locale))
        .replace("{1}", "\x00")
        .replace("{0}", "{1}")
        .replace("\x00", "{0}")
    )


@lru_cache(maxsize=64)
def _load(locale: str) -> NullTranslations:
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    mo = folder / f"{DOMAIN}.mo"
    po = folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fp:
            return Translations(fp, domain=DOMAIN)
    if po.exists():
        # Why: a fresh checkout run without `make locales` must still speak every language.
        with po.open("rb") as fp:
            catalog = read_po(fp, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer, domain=DOMAIN)
    return NullTranslations()


def catalog_locales() -> tuple[str, ...]:
    """Every locale with a catalog under locales/, the bot's supported ones first."""
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple([c for c in SUPPORTED_LOCALES if c in found] + [c for c in found if c not in SUPPORTED_LOCALES])


class Catalogs:
    """Hands out a translator for any locale, falling back to the default language."""

    def __init__(self, default_locale: str = "es", timezone: str = "Europe/Madrid") -> None:
        self.default_locale = default_locale
        self.zone = ZoneInfo(timezone)
        self._cache: dict[str, Translator] = {}

    def translator(self, locale: str | None) -> Translator:
        """The translator for `locale` (a supported code), else for the default language."""
        code = locale if locale in SUPPORTED_LOCALES else self.default_locale
        found = self._cache.get(code)
        if found is None:
            found = self._cache[code] = Translator(code, _load(code), self.zone)
        return found

    def translator_for_print(self, locale: str) -> Translator:
        """The translator for any locale that has a catalog folder, supported by the bot or not yet: printed
        material (invitation sheets) may speak languages the chat does not offer."""
        if locale in SUPPORTED_LOCALES:
            return self.translator(locale)
        if locale not in catalog_locales():
            raise ValueError(f"no catalog for {locale!r} (have {', '.join(catalog_locales())})")
        found = self._cache.get(locale)
        if found is None:
            found = self._cache[locale] = Translator(locale, _load(locale), self.zone)
        return found

    def guess(self, language_code: str | None) -> str:
        """Guess a supported locale from Telegram's language_code (e.g. 'ar-EG'), else the default."""
        return guess_locale(language_code, SUPPORTED_LOCALES, self.default_locale)


def guess_locale(language_code: str | None, supported: tuple[str, ...], default: str) -> str:
    """Map an IETF tag such as 'pt-BR' or 'ar' to one of `supported`, else `default`."""
    if not language_code:
        return default
    try:
        parsed = Locale.parse(language_code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return default
    candidates = [str(parsed), f"{parsed.language}_{parsed.script}" if parsed.script else "", parsed.language]
    for candidate in candidates:
        if candidate in supported:
            return candidate
    # Why: Telegram sends "zh" or "zh-hant" to people who read the simplified script far better than Spanish.
    for code in supported:
        if code.split("_")[0] == parsed.language:
            return code
    return default
