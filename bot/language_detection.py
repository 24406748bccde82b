"""The language of what people write (a notice, a report, a proposal), detected offline among the bot's own
languages with lingua: to label originals ("original in Arabic") and to tell a manager which version a text
really is. Short or mixed texts give no answer rather than a wrong one.

The models (about 150 MB) load in a background thread the first time a flow needs them (opening /notice,
/propose or /case, or a first detection), so a process that only registers residents never holds them, and no
update waits: until they are in, nothing is detected."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.i18n import SUPPORTED_LOCALES

if TYPE_CHECKING:
    from lingua import LanguageDetector

# Our locales as lingua names their languages.
LINGUA_NAMES = {
    "es": "SPANISH",
    "en": "ENGLISH",
    "ar": "ARABIC",
    "bn": "BENGALI",
    "zh_Hans": "CHINESE",
    "ro": "ROMANIAN",
    "fr": "FRENCH",
    "it": "ITALIAN",
    "fil": "TAGALOG",
    "uk": "UKRAINIAN",
}
# Fewer letters than this and a guess is a coin toss (a Chinese character counts as two: it is a word).
MIN_LETTERS = 8
_NOT_WORDS = re.compile(r"https?://\S+|@\w+|#\w+|/\w+|[\d_]+")


_loaded: LanguageDetector | None = None
_loading = threading.Lock()


def warm_up() -> None:
    """Load the language models now (about 2 s and 150 MB, once per process); call it from a thread."""
    global _loaded
    with _loading:
        if _loaded is not None:
            return
        from lingua import Language, LanguageDetectorBuilder

        languages = [getattr(Language, LINGUA_NAMES[code]) for code in SUPPORTED_LOCALES if code in LINGUA_NAMES]
        # High-accuracy mode: the low one takes "Es un bar: es cosa de la Policía." for Italian.
        _loaded = LanguageDetectorBuilder.from_languages(*languages).with_minimum_relative_distance(0.1).build()
        _loaded.detect_language_of("warm up every model: calentar los modelos")


def ready() -> bool:
    """Whether the models are loaded (until then nothing is detected, so no update waits for them)."""
    return _loaded is not None


def state() -> str:
    """'loaded', 'loading', or 'not loaded' (nothing has needed them yet in this process)."""
    if _loaded is not None:
        return "loaded"
    return "loading" if _loading.locked() else "not loaded"


def warm_up_in_background() -> None:
    """Start loading the models in a daemon thread, unless loaded or loading already."""
    if _loaded is None and not _loading.locked():
        threading.Thread(target=warm_up, name="language models", daemon=True).start()


_BY_LINGUA = {name: code for code, name in LINGUA_NAMES.items()}


def detect_language(text: str) -> str | None:
    """The supported locale `text` is written in, or None when it is too short or too mixed to tell."""
    words = _NOT_WORDS.sub(" ", text)
    if sum(2 if "\u4e00" <= ch <= "\u9fff" else 1 for ch in words if ch.isalpha()) < MIN_LETTERS:
        return None
    if _loaded is None:
        warm_up_in_background()
        return None
    return _detect(words)


@lru_cache(maxsize=4096)
def _detect(words: str) -> str | None:
    assert _loaded is not None
    found = _loaded.detect_language_of(words)
    return _BY_LINGUA.get(found.name) if found is not None else None
