"""The ballot box's rules: receipts, tracker hashes, random ballot keys, valid choices and the drafts of
ranked and approval ballots carried in button data (so a half-built ballot is stored nowhere).

A voter's receipt is 130 random bits shown once in their own chat; the database keeps only
SHA-256(poll id ‖ receipt), so a receipt proves a ballot was counted without the box knowing whose it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

RECEIPT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32: no 0/1/8/9 to confuse
RECEIPT_CHARS = 26  # 26 x 5 = 130 random bits
_RECEIPT_GROUPS = (5, 5, 5, 5, 6)
# What people type instead of the letters they see.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B", "9": "G"})
_RECEIPT_TEXT = re.compile(r"^\s*(?:P\s*)?(\d{1,12})\s*[-–—: ]\s*([A-Za-z0-9 \-–—]+?)\s*$")

# Ballot drafts in callback data: each option is one character (its position), so 10 options fit in 64 bytes.
DRAFT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
EMPTY_DRAFT = "_"
MAX_OPTIONS = 10


class PollKind(StrEnum):
    """What a ballot looks like."""

    YESNO = "yesno"
    SINGLE = "single"
    APPROVAL = "approval"
    RANKED = "ranked"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A voter's proof of casting: the poll and the secret tracker (only its hash is stored)."""

    poll_id: int
    tracker: str

    @property
    def code(self) -> str:
        """What the voter is shown and types back: `12-ABCDE-FGHIJ-KLMNO-PQRST-UVWXYZ`."""
        parts, start = [], 0
        for size in _RECEIPT_GROUPS:
            parts.append(self.tracker[start : start + size])
            start += size
        return f"{self.poll_id}-" + "-".join(parts)

    @property
    def tracker_hash(self) -> str:
        """The hash stored with the ballot and published with it."""
        return tracker_hash(self.poll_id, self.tracker)


def new_receipt(poll_id: int) -> Receipt:
    """A fresh receipt for a ballot in `poll_id` (from the operating system's random source)."""
    return Receipt(poll_id, "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_CHARS)))


def tracker_hash(poll_id: int, tracker: str) -> str:
    """SHA-256 of the poll id and the tracker, hex: how a ballot is found again by its receipt."""
    return hashlib.sha256(f"{poll_id}:{tracker}".encode("ascii")).hexdigest()


def parse_receipt(text: str) -> Receipt | None:
    """Read a receipt code as typed or pasted (any case, spaces or dashes, common look-alike digits)."""
    match = _RECEIPT_TEXT.match(text or "")
    if not match:
        return None
    tracker = re.sub(r"[\s\-–—]", "", match.group(2)).upper().translate(_LOOKALIKES)
    if len(tracker) != RECEIPT_CHARS or any(c not in RECEIPT_ALPHABET for c in tracker):
        return None
    return Receipt(int(match.group(1)), tracker)


def new_ballot_key() -> str:
    """A ballot's primary key: random, so the order of rows says nothing about the order of voting."""
    return secrets.token_hex(16)


def valid_choice(kind: PollKind, option_ids: Sequence[int], choice: Sequence[int], max_choices: int | None) -> bool:
    """Whether `choice` (option ids) is a ballot this poll accepts."""
    if any(c not in option_ids for c in choice) or len(set(choice)) != len(choice):
        return False
    if kind in (PollKind.YESNO, PollKind.SINGLE):
        return len(choice) == 1
    if kind is PollKind.APPROVAL:
        return 1 <= len(choice) <= (max_choices or len(option_ids))
    return 1 <= len(choice) <= len(option_ids)


def stored_choice(kind: PollKind, choice: Sequence[int]) -> list[int]:
    """The choice as stored: approvals sorted (their order means nothing), rankings as given."""
    return sorted(choice) if kind is PollKind.APPROVAL else list(choice)


def encode_draft(positions: Sequence[int]) -> str:
    """Option positions picked so far, as button data."""
    return "".join(DRAFT_ALPHABET[p] for p in positions) or EMPTY_DRAFT


def decode_draft(draft: str, option_count: int) -> list[int] | None:
    """The option positions in a draft, or None if it is malformed or forged."""
    if draft == EMPTY_DRAFT:
        return []
    if not draft or len(draft) > option_count or len(set(draft)) != len(draft):
        return None
    positions = []
    for char in draft:
        position = DRAFT_ALPHABET.find(char)
        if position < 0 or position >= option_count:
            return None
        positions.append(position)
    return positions


def toggled(positions: Sequence[int], position: int) -> list[int]:
    """An approval draft with `position` added or removed (kept sorted)."""
    chosen = set(positions)
    chosen.symmetric_difference_update({position})
    return sorted(chosen)


def canonical_json(document: object) -> bytes:
    """The one byte form of a document whose SHA-256 is published: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def document_sha256(document: object) -> str:
    """The SHA-256 (hex) of a document's canonical form."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


@dataclass(frozen=True, slots=True)
class PublishedBallot:
    """A ballot as published: its receipt's hash and the candidates it names, in order."""

    tracker_hash: str
    ranking: tuple[str, ...]


def published_document(
    *,
    poll_id: int,
    question: str,
    method: str,
    candidates: Sequence[str],
    tie_break_order: Sequence[str],
    ballots: Sequence[PublishedBallot],
    eligible: int,
    participations: int,
    seats: int = 1,
) -> dict[str, object]:
    """The anonymised ballots of a closed poll in the format `vecinos tally` reads, one entry per ballot
    sorted by receipt hash (never in the order cast), each with its hash so a voter can find theirs."""
    return {
        "poll": poll_id,
        "question": question,
        "method": method,
        "seats": seats,
        "candidates": list(candidates),
        "tie_break_order": list(tie_break_order),
        "eligible": eligible,
        "participations": participations,
        "ballots": [
            {"ranking": list(b.ranking), "count": 1, "receipt_hash": b.tracker_hash}
            for b in sorted(ballots, key=lambda b: b.tracker_hash)
        ],
    }
