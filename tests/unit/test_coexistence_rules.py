"""Coexistence rules as tables: who reads content, who takes a case, the consents, the check after an
agreement, the outcomes each state allows, retention, reminders and invitation tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.coexistence import (
    DEFAULT_COEXISTENCE_POLICY,
    Kind,
    Outcome,
    Party,
    Standing,
    Status,
    after_check,
    after_consents,
    case_reference,
    invite_payload,
    may_read_content,
    may_see_state,
    may_take,
    may_withdraw,
    new_invite_token,
    outcome_choices,
    parse_invite_payload,
    party_of,
    retention_due,
    session_reminder_at,
    token_hash,
)
from bot.domain.permissions import Grant, Role, ScopeKind, Sector, resident_grant

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
REGISTERED = resident_grant(None)
PEOPLE: dict[str, list[Grant]] = {
    "resident": [resident_grant(7)],
    "delegate": [REGISTERED, Grant(Role.DELEGATE, ScopeKind.CIRCLE, 7)],
    "manager": [REGISTERED, Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, 2)],
    "police": [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.COMMUNITY_POLICE)],
    "justice": [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.COMMUNITY_JUSTICE)],
    "mediator": [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.MEDIATION)],
    "mediator elsewhere": [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 3, Sector.MEDIATION)],
    "supervisor": [REGISTERED, Grant(Role.MEDIATION_SUPERVISOR, ScopeKind.BARRIO, 2)],
    "court member": [REGISTERED, Grant(Role.COMMUNITY_COURT_MEMBER, ScopeKind.BARRIO, 2)],
    "prosecutor": [REGISTERED, Grant(Role.COMMUNITY_PROSECUTOR, ScopeKind.BARRIO, 2)],
    "council": [REGISTERED, Grant(Role.COUNCIL_MEMBER, ScopeKind.BARRIO, 2)],
    "admin": [REGISTERED, Grant(Role.ADMIN, ScopeKind.DISTRICT)],
}
HANDLER_ID = 99


def case(kind: Kind) -> Standing:
    return Standing(kind, barrio_id=2, handler_id=HANDLER_ID, party_a_id=10, party_b_id=11)


# person -> (reads a mediation, reads a court case, sees states, takes a mediation or support, takes a court case)
EXPECTED = {
    "resident": ".....",
    "delegate": ".....",
    "manager": "..Y..",
    "police": "..Y..",
    "justice": "..Y..",
    "mediator": "..YY.",
    "mediator elsewhere": ".....",
    "supervisor": "Y.Y..",
    "court member": "....Y",
    "prosecutor": ".YY..",
    "council": ".....",
    "admin": "..Y..",
}


@pytest.mark.parametrize("person", list(PEOPLE))
def test_who_reads_sees_and_takes(person):
    grants = PEOPLE[person]
    row = "".join(
        "Y" if allowed else "."
        for allowed in (
            may_read_content(grants, 1, case(Kind.MEDIATION)),
            may_read_content(grants, 1, case(Kind.COURT)),
            may_see_state(grants, 2),
            may_take(grants, Kind.SUPPORT, 2),
            may_take(grants, Kind.COURT, 2),
        )
    )
    assert row == EXPECTED[person]


@pytest.mark.parametrize(
    ("kind", "role"),
    [(Kind.MEDIATION, "mediator"), (Kind.SUPPORT, "mediator"), (Kind.COURT, "court member")],
)
def test_the_handler_reads_their_case_while_they_hold_the_role_that_let_them_take_it(kind, role):
    assert may_read_content(PEOPLE[role], HANDLER_ID, case(kind))
    assert not may_read_content(PEOPLE[role], None, case(kind))
    # Their role revoked (or held in another barrio), they read it no more.
    assert not may_read_content([REGISTERED], HANDLER_ID, case(kind))
    assert not may_read_content(PEOPLE["mediator elsewhere"], HANDLER_ID, case(kind))


@pytest.mark.parametrize(("person", "expected"), [(10, Party.A), (11, Party.B), (12, None), (HANDLER_ID, None)])
def test_party_of(person, expected):
    assert party_of(person, 10, 11) is expected


@pytest.mark.parametrize(
    ("kind", "a", "b", "handler", "expected"),
    [
        (Kind.MEDIATION, False, False, True, Status.AWAITING_CONSENT),
        (Kind.MEDIATION, True, False, True, Status.INVITING),
        (Kind.MEDIATION, True, True, True, Status.ACTIVE),
        (Kind.COURT, True, False, False, Status.INVITING),
        (Kind.COURT, True, True, True, Status.ACTIVE),
        (Kind.SUPPORT, True, False, False, Status.WAITING_HANDLER),
        (Kind.SUPPORT, True, False, True, Status.ACTIVE),
    ],
)
def test_consents_move_a_case_on(kind, a, b, handler, expected):
    assert after_consents(kind, a, b, handler) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(None, None, None), (True, None, None), (True, True, Status.CLOSED), (False, None, Status.ACTIVE),
     (True, False, Status.ACTIVE), (False, False, Status.ACTIVE)],
)  # fmt: skip
def test_a_no_reopens_and_two_yes_close(a, b, expected):
    assert after_check(Kind.MEDIATION, a, b) is expected


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (Kind.MEDIATION, Status.INVITING, (Outcome.DECLINED,)),
        (Kind.MEDIATION, Status.ACTIVE, (Outcome.PARTIAL, Outcome.NO_AGREEMENT)),
        (Kind.MEDIATION, Status.FOLLOW_UP, (Outcome.AGREEMENT, Outcome.PARTIAL, Outcome.NO_AGREEMENT)),
        (Kind.COURT, Status.ACTIVE, (Outcome.NO_AGREEMENT,)),
        (Kind.COURT, Status.FOLLOW_UP, (Outcome.COMPLETED, Outcome.NO_AGREEMENT)),
        (Kind.SUPPORT, Status.ACTIVE, (Outcome.SUPPORTED,)),
        (Kind.MEDIATION, Status.CLOSED, ()),
    ],
)
def test_outcomes_each_state_allows(kind, status, expected):
    assert outcome_choices(kind, status) == expected


@pytest.mark.parametrize("status", list(Status))
def test_a_party_may_leave_until_it_is_closed(status):
    assert may_withdraw(status) is (status is not Status.CLOSED)


@pytest.mark.parametrize(
    ("closed", "now", "due"),
    [(None, NOW, False), (NOW, NOW + timedelta(days=179), False), (NOW, NOW + timedelta(days=180), True)],
)
def test_content_goes_at_the_end_of_the_retention_period(closed, now, due):
    assert retention_due(closed, now, DEFAULT_COEXISTENCE_POLICY) is due


@pytest.mark.parametrize(
    ("at", "expected"),
    [(NOW + timedelta(days=3), NOW + timedelta(days=2)), (NOW + timedelta(hours=5), None)],
)
def test_a_session_is_reminded_the_day_before(at, expected):
    assert session_reminder_at(at, NOW, DEFAULT_COEXISTENCE_POLICY) == expected


def test_invitation_tokens_round_trip_and_only_their_hash_is_kept():
    token = new_invite_token()
    assert parse_invite_payload(invite_payload(token)) == token
    assert len(invite_payload(token)) <= 64  # Telegram's deep-link payload limit
    assert token not in token_hash(token) and len(token_hash(token)) == 64
    assert len(f"xb:{2**31}:{token}".encode()) <= 64  # Telegram's callback data limit


@pytest.mark.parametrize("payload", ["", "med_", "med_short", "abc_1234567890", "med_" + "x" * 40, "med_a b c d e f"])
def test_not_an_invitation(payload):
    assert parse_invite_payload(payload) is None


@pytest.mark.parametrize(("kind", "ref"), [(Kind.MEDIATION, "MED-0003"), (Kind.SUPPORT, "SUP-0003"),
                                           (Kind.COURT, "CRT-0003")])  # fmt: skip
def test_references(kind, ref):
    assert case_reference(kind, 3) == ref
