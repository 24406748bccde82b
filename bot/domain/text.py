"""Rules for free text from residents and for long messages to them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
# Zero-width and bidirectional control characters: invisible, and able to disguise a name.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CleanText:
    """The outcome of cleaning free text: the text, or why it was refused."""

    text: str
    problem: str | None = None  # "empty" | "too_long"


def clean_free_text(raw: str, max_length: int) -> CleanText:
    """Normalise (NFC), drop invisible controls, fold white space; refuse empty or over-long text."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", raw))
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return CleanText("", "empty")
    if len(text) > max_length:
        return CleanText(text[:max_length], "too_long")
    return CleanText(text)


_LINE_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_long_text(raw: str, max_length: int) -> CleanText:
    """Like clean_free_text for a text of several paragraphs (a notice): line breaks are kept (at most one
    blank line in a row), spaces inside each line folded."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", raw)).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_LINE_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    if not text:
        return CleanText("", "empty")
    if len(text) > max_length:
        return CleanText(text[:max_length], "too_long")
    return CleanText(text)


_TAG = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>")


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split HTML text into parts of at most `limit` characters at paragraph, line or word breaks,
    closing tags open at a cut and reopening them in the next part."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    reopen = ""
    while rest:
        rest = reopen + rest
        if len(rest) <= limit:
            parts.append(rest)
            break
        budget = limit - 64  # room for closing tags
        cut = _best_cut(rest, budget)
        head, rest = rest[:cut], rest[cut:].lstrip("\n ")
        open_tags = _open_tags(head)
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        reopen = "".join(tag for _, tag in open_tags)
        parts.append(head.rstrip() + closing)
    return parts


def split_caption(text: str, limit: int = MAX_CAPTION_LENGTH) -> tuple[str, str]:
    """A photo's or document's HTML caption, and the HTML text to send after it ("" when it all fits).

    A text of at most `limit` characters is the whole caption. A longer one gives its first line as the
    caption (or as much of it as fits, cut at a word break) and the rest as the text that follows, so the
    image keeps its title and nothing is lost; tags open at the cut are closed in the caption and reopened in
    the rest, and no cut falls inside a tag or an entity.
    """
    if len(text) <= limit:
        return text, ""
    budget = limit - 64  # room for closing tags
    line_end = text.find("\n")
    cut = line_end if 0 < line_end <= budget else _best_cut(text, budget)
    head, rest = text[:cut], text[cut:].lstrip("\n ")
    open_tags = _open_tags(head)
    closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
    reopen = "".join(tag for _, tag in open_tags)
    caption = head.rstrip()
    return (caption + closing if caption else ""), reopen + rest


def _best_cut(text: str, budget: int) -> int:
    cut = budget
    for separator in ("\n\n", "\n", " "):
        at = text.rfind(separator, budget // 2, budget)
        if at > 0:
            cut = at
            break
    # Never cut inside a tag (a space between its attributes is no break) or an HTML entity.
    lt, gt = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
    if lt > gt:
        cut = lt
    amp = text.rfind("&", max(0, cut - 10), cut)
    if amp >= 0 and ";" not in text[amp:cut]:
        cut = amp
    return cut


def _open_tags(fragment: str) -> list[tuple[str, str]]:
    stack: list[tuple[str, str]] = []
    for match in _TAG.finditer(fragment):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
        else:
            stack.append((name, match.group(0)))
    return stack


def has_letters_or_digits(text: str) -> bool:
    """Whether a text says something: at least one letter or digit, in any script (an address such as
    "🏠🏠" or "." does not)."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)
