"""Telegram's HTML formatting made safe for a web page: Telegram's tags are kept, everything else is text."""

from __future__ import annotations

import html
from html.parser import HTMLParser

# Telegram's own tags and the element each one becomes on the page.
_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "a": "a",
    "blockquote": "blockquote",
    "tg-spoiler": "span",
    "span": "span",
    "tg-emoji": "span",
}
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


def safe_href(href: str | None) -> str | None:
    """The link if it is one a page may open (no javascript: and the like), else None."""
    if not href:
        return None
    cleaned = href.strip()
    return cleaned if cleaned.lower().startswith(_SAFE_SCHEMES) else None


class _TelegramHtml(HTMLParser):
    """Rebuilds a message from its parse: allowed tags with only their allowed attributes, all else escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """An opening tag: kept when Telegram knows it, shown as text when it does not."""
        values = dict(attrs)
        element = _TAGS.get(tag)
        if tag == "span" and values.get("class") != "tg-spoiler":
            element = None
        if element is None:
            self.out.append(html.escape(self.get_starttag_text() or f"<{tag}>"))
            return
        if tag in ("tg-spoiler", "span"):
            self.out.append('<span class="tg-spoiler">')
        elif tag == "tg-emoji":
            self.out.append('<span class="tg-emoji">')
        elif tag == "a":
            href = safe_href(values.get("href"))
            if href is None:
                self.out.append("<a>")
            else:
                self.out.append(f'<a href="{html.escape(href)}" target="_blank" rel="noopener noreferrer">')
        elif tag == "code" and (values.get("class") or "").startswith("language-"):
            language = (values.get("class") or "").removeprefix("language-")
            self.out.append(f'<code class="language-{html.escape(language)}">')
        elif tag == "blockquote" and "expandable" in values:
            self.out.append('<blockquote class="expandable">')
        else:
            self.out.append(f"<{element}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing tag: Telegram has none, so it is text."""
        self.out.append(html.escape(self.get_starttag_text() or f"<{tag}/>"))

    def handle_endtag(self, tag: str) -> None:
        """A closing tag closes its element (and any left open inside it); a stray one is text."""
        if tag not in self.open:
            self.out.append(html.escape(f"</{tag}>"))
            return
        while self.open:
            inner = self.open.pop()
            self.out.append(f"</{_TAGS[inner]}>")
            if inner == tag:
                break

    def handle_data(self, data: str) -> None:
        """Text, escaped again so a decoded &lt; stays a character."""
        self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data: str) -> None:
        """A comment is shown as the text it was."""
        self.out.append(html.escape(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        """A declaration is shown as text."""
        self.out.append(html.escape(f"<!{decl}>"))

    def unknown_decl(self, data: str) -> None:
        """A CDATA section or the like is shown as text."""
        self.out.append(html.escape(f"<![{data}]>"))

    def handle_pi(self, data: str) -> None:
        """A processing instruction is shown as text."""
        self.out.append(html.escape(f"<?{data}>"))

    def result(self) -> str:
        """The page-safe HTML, with every element still open closed."""
        self.close()
        closing = [f"</{_TAGS[tag]}>" for tag in reversed(self.open)]
        self.open.clear()
        return "".join(self.out + closing)


def telegram_html(text: str | None, parse_mode: str | None = "HTML") -> str:
    """A bot message's text as safe HTML for the page: Telegram's tags when it was sent as HTML, else escaped."""
    if not text:
        return ""
    if (parse_mode or "").upper() != "HTML":
        return html.escape(text, quote=False)
    parser = _TelegramHtml()
    parser.feed(text)
    return parser.result()
