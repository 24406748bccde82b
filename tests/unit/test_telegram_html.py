"""The web sandbox shows bot messages with Telegram's HTML formatting and nothing else a page could run."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.telegram_html import safe_href, telegram_html


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("<b>bold</b> <strong>strong</strong>", "<b>bold</b> <b>strong</b>"),
        ("<i>a</i><em>b</em><u>c</u><ins>d</ins>", "<i>a</i><i>b</i><u>c</u><u>d</u>"),
        ("<s>a</s><strike>b</strike><del>c</del>", "<s>a</s><s>b</s><s>c</s>"),
        ("<code>x = 1</code>", "<code>x = 1</code>"),
        (
            '<pre><code class="language-python">print()</code></pre>',
            '<pre><code class="language-python">print()</code></pre>',
        ),
        ("<blockquote>cited</blockquote>", "<blockquote>cited</blockquote>"),
        ("<blockquote expandable>long</blockquote>", '<blockquote class="expandable">long</blockquote>'),
        ("<tg-spoiler>secret</tg-spoiler>", '<span class="tg-spoiler">secret</span>'),
        ('<span class="tg-spoiler">secret</span>', '<span class="tg-spoiler">secret</span>'),
        (
            '<a href="https://example.org/?a=1&amp;b=2">link</a>',
            '<a href="https://example.org/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">link</a>',
        ),
        (
            '<a href="tg://user?id=1">someone</a>',
            '<a href="tg://user?id=1" target="_blank" rel="noopener noreferrer">someone</a>',
        ),
        ("Lucía &amp; Amina &lt;3", "Lucía &amp; Amina &lt;3"),
        ("line one\nline two", "line one\nline two"),
        ("مرحبا <b>Plaza de Lavapiés</b>", "مرحبا <b>Plaza de Lavapiés</b>"),
    ],
)
def test_telegram_tags_are_kept(sent: str, shown: str) -> None:
    assert telegram_html(sent) == shown


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"),
        ('<b onclick="steal()">hi</b>', "<b>hi</b>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href=" JAVASCRIPT:alert(1)">x</a>', "<a>x</a>"),
        ('<span style="color:red">x</span>', "&lt;span style=&quot;color:red&quot;&gt;x&lt;/span&gt;"),
        ("<br/>", "&lt;br/&gt;"),
        ("<!-- hidden -->", "&lt;!-- hidden --&gt;"),
        ('<code class="x" onclick="y">c</code>', "<code>c</code>"),
    ],
)
def test_everything_else_is_shown_as_text(sent: str, shown: str) -> None:
    assert telegram_html(sent) == shown


def test_unclosed_and_stray_tags_cannot_spill_over() -> None:
    assert telegram_html("<b>bold <i>both") == "<b>bold <i>both</i></b>"
    assert telegram_html("text</b>") == "text&lt;/b&gt;"
    assert telegram_html("<b>a<i>b</b>c") == "<b>a<i>b</i></b>c"


def test_a_message_not_sent_as_html_is_all_text() -> None:
    assert telegram_html("<b>not bold</b>", None) == "&lt;b&gt;not bold&lt;/b&gt;"
    assert telegram_html("*x*", "MarkdownV2") == "*x*"
    assert telegram_html(None) == "" and telegram_html("") == ""


ALLOWED_OPENINGS = ("<b>", "<i>", "<u>", "<s>", "<code", "<pre>", "<a", "<blockquote", '<span class="tg-')


PIECES = ["<", ">", "/", "&", '"', "'", "=", " ", "b", "a", "x", "<b>", "</b>", "<a href=", "javascript:", "<script>"]


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_no_input_produces_a_tag_telegram_does_not_have(text: str) -> None:
    shown = telegram_html(text)
    for index, char in enumerate(shown):
        if char == "<" and not shown.startswith("</", index):
            assert shown.startswith(ALLOWED_OPENINGS, index), shown
    # Escaped text may read href="javascript:..." (it is only text then); no tag may carry such a link.
    assert not re.search(r'<a [^>]*href="javascript', shown.lower()), shown


@pytest.mark.parametrize(
    ("href", "opened"),
    [
        ("https://t.me/vecinos_bot?start=abc", "https://t.me/vecinos_bot?start=abc"),
        (" http://example.org ", "http://example.org"),
        ("tg://resolve?domain=x", "tg://resolve?domain=x"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_only_links_telegram_opens_are_links(href: str | None, opened: str | None) -> None:
    assert safe_href(href) == opened
