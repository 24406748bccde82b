"""Callback data: a short action prefix and integer ids or short codes, at most 64 bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64
_PART = re.compile(r"^[A-Za-z0-9_-]{1,24}$")


@dataclass(frozen=True, slots=True)
class CallbackData:
    """A parsed callback: what to do and on which ids."""

    action: str
    args: tuple[str, ...] = ()

    def pack(self) -> str:
        """Encode as `action:arg:arg`, refusing anything that would not fit Telegram's limit."""
        for part in (self.action, *self.args):
            if not _PART.match(part):
                raise ValueError(f"callback part {part!r} is not a short id")
        packed = ":".join((self.action, *self.args))
        if len(packed.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError("callback data over 64 bytes")
        return packed

    def int_arg(self, index: int = 0) -> int | None:
        """The argument at `index` as a positive int, or None when missing or malformed."""
        if index >= len(self.args) or not self.args[index].isdigit():
            return None
        value = int(self.args[index])
        return value if 0 < value < 2**62 else None


def cb(action: str, *args: object) -> str:
    """Pack a callback from an action and ids."""
    return CallbackData(action, tuple(str(a) for a in args)).pack()


def parse_callback(raw: str | None) -> CallbackData | None:
    """Parse callback data, returning None for anything malformed or oversized (forged input)."""
    if not raw or len(raw.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    action, *args = raw.split(":")
    if not _PART.match(action) or len(args) > 4 or not all(_PART.match(a) for a in args):
        return None
    return CallbackData(action, tuple(args))
