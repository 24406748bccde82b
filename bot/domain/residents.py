"""Membership lifecycle, invite checks and reminder timing for residents joining a circle."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MembershipStatus(StrEnum):
    """Where a resident's membership of a circle stands."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    LEFT = "left"
    ERASED = "erased"


class ResidentStatus(StrEnum):
    """Whether the bot can reach a resident."""

    ACTIVE = "active"
    UNREACHABLE = "unreachable"


class Verification(StrEnum):
    """How a membership came to be verified."""

    INVITE = "invite"
    APPROVAL = "approval"


# Allowed transitions; anything else is a stale or forged request.
MEMBERSHIP_TRANSITIONS: dict[MembershipStatus, frozenset[MembershipStatus]] = {
    MembershipStatus.PENDING: frozenset(
        {MembershipStatus.VERIFIED, MembershipStatus.REJECTED, MembershipStatus.LEFT, MembershipStatus.ERASED}
    ),
    MembershipStatus.VERIFIED: frozenset({MembershipStatus.LEFT, MembershipStatus.ERASED}),
    MembershipStatus.REJECTED: frozenset({MembershipStatus.ERASED}),
    MembershipStatus.LEFT: frozenset({MembershipStatus.ERASED}),
    MembershipStatus.ERASED: frozenset(),
}

ACTIVE_MEMBERSHIP = frozenset({MembershipStatus.PENDING, MembershipStatus.VERIFIED})


def can_move(current: MembershipStatus, target: MembershipStatus) -> bool:
    """Whether a membership may go from `current` to `target`."""
    return target in MEMBERSHIP_TRANSITIONS[current]


class InviteProblem(StrEnum):
    """Why an invite cannot be used."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class InviteTerms:
    """What an invite allows: expiry, uses left (None = unlimited), revocation."""

    expires_at: datetime | None
    uses_left: int | None
    revoked: bool = False


def check_invite(terms: InviteTerms | None, now: datetime) -> InviteProblem | None:
    """None if the invite can verify a resident now, else why not."""
    if terms is None:
        return InviteProblem.UNKNOWN
    if terms.revoked:
        return InviteProblem.REVOKED
    if terms.expires_at is not None and now >= terms.expires_at:
        return InviteProblem.EXPIRED
    if terms.uses_left is not None and terms.uses_left <= 0:
        return InviteProblem.USED_UP
    return None


# Unambiguous characters: no 0/O or 1/l/I, so a code read off paper is typed right.
INVITE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
INVITE_CODE_LENGTH = 10


def new_invite_code() -> str:
    """A random invite code that fits Telegram's /start payload (A-Z, a-z, 0-9, _ and -)."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def looks_like_invite_code(payload: str) -> bool:
    """Whether a /start payload can be an invite code at all (cheap filter before a lookup)."""
    return 4 <= len(payload) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in payload)
