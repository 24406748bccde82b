"""Telegram-style HTML parse_mode validation: turns HTML text into plain text plus MessageEntity dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Tag name -> entity type. span, a, pre, code, blockquote and tg-emoji need attribute handling below.
_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
SUPPORTED_TAGS: frozenset[str] = frozenset({*_SIMPLE_TAGS, "a", "span", "blockquote", "tg-emoji"})
_NAMED_ENTITIES: dict[str, str] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """Raised when text cannot be parsed; str(exc) is the part after "can't parse entities: "."""


@dataclass(slots=True)
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # offset in UTF-16 code units of the plain text
    byte_offset: int
    children: list[str] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length of text in UTF-16 code units, the unit Telegram uses for entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decodes the HTML entity starting at text[i] == '&'; returns (char, next index) or None."""
    end = text.find(";", i + 1, i + 12)
    if end < 0:
        return None
    name = text[i + 1 : end]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1
    if name.startswith("#"):
        digits = name[1:]
        try:
            code = int(digits[1:], 16) if digits[:1] in ("x", "X") else int(digits, 10)
        except ValueError:
            return None
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), end + 1
    return None


def _decode_attr(value: str) -> str:
    if "&" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&" and (decoded := _decode_entity(value, i)) is not None:
            out.append(decoded[0])
            i = decoded[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_start_tag(text: str, i: int) -> tuple[str, dict[str, str], int]:
    """Parses '<name attr="v" ...>' at text[i]; returns (lowercase name, attributes, index after '>')."""
    n = len(text)
    j = i + 1
    while j < n and (text[j].isalnum() or text[j] in "-_"):
        j += 1
    name = text[i + 1 : j].lower()
    if not name:
        raise EntityParseError(f"Unsupported start tag at byte offset {_byte_offset(text, i)}")
    if name not in SUPPORTED_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}')
    attrs: dict[str, str] = {}
    while True:
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, i)}')
        if text[j] == ">":
            return name, attrs, j + 1
        k = j
        while k < n and (text[k].isalnum() or text[k] in "-_:"):
            k += 1
        if k == j:
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                f"at byte offset {_byte_offset(text, j)}"
            )
        attr = text[j:k].lower()
        j = k
        while j < n and text[j].isspace():
            j += 1
        if j < n and text[j] == "=":
            j += 1
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, i)}')
            if text[j] in "\"'":
                quote = text[j]
                close = text.find(quote, j + 1)
                if close < 0:
                    raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, i)}')
                value = text[j + 1 : close]
                j = close + 1
            else:
                k = j
                while k < n and not text[k].isspace() and text[k] != ">":
                    k += 1
                value = text[j:k]
                j = k
            attrs[attr] = _decode_attr(value)
        else:
            attrs[attr] = ""


def _entity_for(tag: _OpenTag, end: int) -> dict[str, Any] | None:
    length = end - tag.start
    if length <= 0:
        return None
    entity: dict[str, Any] = {"offset": tag.start, "length": length}
    name = tag.name
    if name in _SIMPLE_TAGS:
        entity["type"] = _SIMPLE_TAGS[name]
        if name == "pre" and (language := tag.attrs.get("language")):
            entity["language"] = language
    elif name == "span":
        entity["type"] = "spoiler"
    elif name == "a":
        href = tag.attrs.get("href", "")
        if not href:
            return None
        user_id = href.removeprefix("tg://user?id=")
        if href.startswith("tg://user?id=") and user_id.isdigit():
            entity["type"] = "text_mention"
            entity["user"] = {"id": int(user_id), "is_bot": False, "first_name": ""}
        else:
            entity["type"] = "text_link"
            entity["url"] = href
    elif name == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in tag.attrs else "blockquote"
    elif name == "tg-emoji":
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    return entity


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parses Telegram HTML into (plain text, entities), raising EntityParseError like the Bot API does.

    strict_ampersand: treat a bare '&' that starts no valid entity as an error. Real Telegram keeps such an
    '&' literally, but an unescaped '&' almost always means user input was not escaped, so we flag it.
    """
    if "<" not in text and "&" not in text:
        return text, []
    out: list[str] = []
    pos = 0  # UTF-16 length of everything in out
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is None:
                if strict_ampersand:
                    raise EntityParseError(
                        f"Unsupported HTML entity or unescaped '&' at byte offset {_byte_offset(text, i)}"
                    )
                out.append("&")
                pos += 1
                i += 1
            else:
                out.append(decoded[0])
                pos += utf16_len(decoded[0])
                i = decoded[1]
        elif c == "<":
            if i + 1 < n and text[i + 1] == "/":
                close = text.find(">", i)
                if close < 0:
                    raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
                name = text[i + 2 : close].strip().lower()
                if not stack:
                    raise EntityParseError(f'Unexpected end tag "</{name}>" at byte offset {_byte_offset(text, i)}')
                top = stack.pop()
                if top.name != name:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                        f'expected "</{top.name}>", found "</{name}>"'
                    )
                if name == "code" and stack and stack[-1].name == "pre":
                    # <pre><code class="language-x"> is one pre entity with a language, not two entities.
                    cls = top.attrs.get("class", "")
                    if cls.startswith("language-"):
                        stack[-1].attrs["language"] = cls[len("language-") :]
                    i = close + 1
                    continue
                entity = _entity_for(top, pos)
                if entity is not None:
                    entities.append(entity)
                i = close + 1
            else:
                name, attrs, after = _parse_start_tag(text, i)
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError('Tag "span" must have class "tg-spoiler"')
                if name == "tg-emoji" and not attrs.get("emoji-id"):
                    raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
                stack.append(_OpenTag(name, attrs, pos, _byte_offset(text, i)))
                i = after
        else:
            # Copy the run of ordinary characters in one go; it is much faster than char by char.
            j = i + 1
            while j < n and text[j] not in "<&":
                j += 1
            chunk = text[i:j]
            out.append(chunk)
            pos += utf16_len(chunk)
            i = j
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    plain = "".join(out)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return _strip(plain, entities)


def _strip(plain: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trims surrounding whitespace as Telegram does, clipping entities to the remaining text."""
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    lead = utf16_len(plain[: len(plain) - len(plain.lstrip())])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result
