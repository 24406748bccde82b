"""Coexistence: neighbour mediation, victim support and community courts, as pure rules.

A coexistence case is a confidential, consent-based process between a handler (the mediator, the support
worker, or the court panel member who took it) and one or two parties. Party A asked for it (the reporter, or
the resident who asked for support); party B is the other neighbour, invited without being named anywhere until
they accept. Who may read its content is decided here, from the grants and the person's place in the case.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.permissions import Action, Grant, Place, can

TEXT_MAX = 2000
INVITE_TOKEN_BYTES = 9  # 12 URL-safe characters: unguessable, and short enough for a deep link and a button
INVITE_PREFIX = "med_"


class Kind(StrEnum):
    """What a coexistence case is."""

    MEDIATION = "mediation"
    SUPPORT = "support"
    COURT = "court"


REF_PREFIX = {Kind.MEDIATION: "MED", Kind.SUPPORT: "SUP", Kind.COURT: "CRT"}


class Status(StrEnum):
    """Where a coexistence case stands."""

    AWAITING_CONSENT = "awaiting_consent"  # party A has been asked to consent
    INVITING = "inviting"  # A consented; B is invited (or about to be)
    WAITING_HANDLER = "waiting_handler"  # support or a court case: nobody has taken it yet
    ACTIVE = "active"  # everyone needed has consented: messages, sessions, the agreement
    AGREEMENT = "agreement"  # the agreement is drafted and waits for the parties' acceptance
    FOLLOW_UP = "follow_up"  # accepted; the check (mediation) or the completion (court) is ahead
    CLOSED = "closed"


OPEN_STATUSES = frozenset(set(Status) - {Status.CLOSED})


class Outcome(StrEnum):
    """How a coexistence case ended (the only thing kept once its content is deleted)."""

    AGREEMENT = "agreement"
    PARTIAL = "partial"
    NO_AGREEMENT = "no_agreement"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"  # B said no, or never answered and the mediator closed it
    COMPLETED = "completed"  # court: the restorative agreement was carried out
    TAKEN_BACK = "taken_back"  # court: the prosecutor took the case back
    SUPPORTED = "supported"  # support: the conversation ended


class Party(StrEnum):
    """Who wrote or receives a message in a case."""

    A = "a"
    B = "b"
    HANDLER = "handler"


class Answer(StrEnum):
    """A party's answer to a proposed session."""

    YES = "yes"
    NO = "no"
    OTHER_TIME = "other"


@dataclass(frozen=True, slots=True)
class CoexistencePolicy:
    """The settings of the coexistence services."""

    invite_reminder_after: timedelta = timedelta(days=3)
    invite_lapses_after: timedelta = timedelta(days=7)
    check_after: timedelta = timedelta(days=30)
    retention: timedelta = timedelta(days=180)
    session_reminder_before: timedelta = timedelta(days=1)


DEFAULT_COEXISTENCE_POLICY = CoexistencePolicy()


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's place in one case, for the confidentiality rule."""

    kind: Kind
    barrio_id: int
    handler_id: int | None
    party_a_id: int | None
    party_b_id: int | None


def content_readers_action(kind: Kind) -> Action:
    """The action that lets a supervisor (not the handler) read a case of this kind."""
    return Action.SUPERVISE_COURT if kind is Kind.COURT else Action.SUPERVISE_MEDIATION


def may_read_content(grants: Iterable[Grant], person_id: int | None, case: Standing) -> bool:
    """Whether this person may read the case's messages, sessions and agreement: its handler (while they hold
    the role), and the supervisor of its kind in its barrio (the mediation supervisor; the community prosecutor
    for courts). Parties read only their own thread, through their own buttons, never through this rule."""
    grants = list(grants)
    if person_id is not None and person_id == case.handler_id and may_take(grants, case.kind, case.barrio_id):
        return True  # the handler, as long as they still hold the role that let them take it
    return can(grants, content_readers_action(case.kind), Place(case.barrio_id))


def may_take(grants: Iterable[Grant], kind: Kind, barrio_id: int) -> bool:
    """Whether this person may become the handler of a case of `kind` in the barrio (mediators take
    mediations and support; the panel's members take court cases)."""
    action = Action.SIT_ON_COURT if kind is Kind.COURT else Action.MEDIATE
    return can(grants, action, Place(barrio_id))


def may_see_state(grants: Iterable[Grant], barrio_id: int) -> bool:
    """Whether this person may see that the barrio's cases exist, with their state and dates only."""
    return can(grants, Action.SEE_COEXISTENCE, Place(barrio_id))


def party_of(person_id: int, party_a_id: int | None, party_b_id: int | None) -> Party | None:
    """Which party this person is in a case (None: neither)."""
    if party_a_id is not None and person_id == party_a_id:
        return Party.A
    if party_b_id is not None and person_id == party_b_id:
        return Party.B
    return None


def other_party(party: Party) -> Party:
    """The other side."""
    return Party.B if party is Party.A else Party.A


def two_parties(kind: Kind) -> bool:
    """Whether the case brings two neighbours together (support is one person and a worker)."""
    return kind is not Kind.SUPPORT


def may_withdraw(status: Status) -> bool:
    """A party may leave a case at any moment before it is closed."""
    return status in OPEN_STATUSES


def after_consents(kind: Kind, a_consented: bool, b_consented: bool, has_handler: bool) -> Status:
    """The status a case reaches from its parties' consents."""
    if not a_consented:
        return Status.AWAITING_CONSENT
    if two_parties(kind) and not b_consented:
        return Status.INVITING
    return Status.ACTIVE if has_handler else Status.WAITING_HANDLER


def agreement_reached(a_accepted: bool, b_accepted: bool) -> bool:
    """Both parties accepted the drafted agreement."""
    return a_accepted and b_accepted


def after_check(kind: Kind, a_holding: bool | None, b_holding: bool | None) -> Status | None:
    """After the follow-up check of a mediation's agreement: a "no" from either reopens it (ACTIVE); two
    "yes" close it (CLOSED); otherwise it keeps waiting (None)."""
    if a_holding is False or b_holding is False:
        return Status.ACTIVE
    if a_holding and b_holding:
        return Status.CLOSED
    return None


def outcome_choices(kind: Kind, status: Status) -> tuple[Outcome, ...]:
    """The outcomes the handler may close a case with, from where it stands."""
    if status is Status.CLOSED:
        return ()
    if kind is Kind.SUPPORT:
        return (Outcome.SUPPORTED,)
    if kind is Kind.COURT:
        if status is Status.FOLLOW_UP:
            return (Outcome.COMPLETED, Outcome.NO_AGREEMENT)
        return (Outcome.NO_AGREEMENT,)
    if status in (Status.AWAITING_CONSENT, Status.INVITING):
        return (Outcome.DECLINED,)
    if status is Status.FOLLOW_UP:
        return (Outcome.AGREEMENT, Outcome.PARTIAL, Outcome.NO_AGREEMENT)
    return (Outcome.PARTIAL, Outcome.NO_AGREEMENT)


def retention_due(closed_at: datetime | None, now: datetime, policy: CoexistencePolicy) -> bool:
    """Whether a closed case's content must be deleted now."""
    return closed_at is not None and now >= closed_at + policy.retention


def session_reminder_at(at: datetime, now: datetime, policy: CoexistencePolicy) -> datetime | None:
    """When to remind everyone of an agreed session: the day before (None: it is already that close)."""
    moment = at - policy.session_reminder_before
    return moment if moment > now else None


def new_invite_token() -> str:
    """A single-use token for an invitation (the bot keeps only its hash)."""
    return secrets.token_urlsafe(INVITE_TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of an invitation token."""
    return hashlib.sha256(token.encode()).hexdigest()


def invite_payload(token: str) -> str:
    """The deep-link payload of a paper invitation: /start med_<token>."""
    return INVITE_PREFIX + token


def parse_invite_payload(payload: str) -> str | None:
    """The token of a /start med_<token> payload, or None."""
    if not payload.startswith(INVITE_PREFIX):
        return None
    token = payload[len(INVITE_PREFIX) :]
    if not (8 <= len(token) <= 32) or not all(c.isalnum() or c in "-_" for c in token):
        return None
    return token


def case_reference(kind: Kind, number: int) -> str:
    """MED-0003, SUP-0012, CRT-0001."""
    return f"{REF_PREFIX[kind]}-{number:04d}"
