"""Telegram identifiers as people type them."""

from __future__ import annotations

# Telegram user ids are positive and fit in 52 bits (Bot API: "at most 52 significant bits").
MAX_USER_ID = 2**52 - 1


def parse_user_id(text: str) -> int | None:
    """A Telegram user id from typed text, or None when it cannot be one (sign, letters, too many digits)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        return None
    value = int(text)
    return value if 0 < value <= MAX_USER_ID else None
