"""The permissions table: the whole role x action x scope matrix against a table written out by hand."""

from __future__ import annotations

import pytest

from bot.domain.permissions import (
    GRANTABLE_ROLES,
    Action,
    Grant,
    Place,
    Role,
    ScopeKind,
    Sector,
    can,
    can_somewhere,
    grant_action,
    grant_is_well_formed,
    resident_grant,
)

# Barrio 2 holds circles 7 and 8; barrio 3 holds circle 13.
REGISTERED = resident_grant(None)
# Each subject: the grants a person holds, a place inside their scope and one outside it.
SUBJECTS: dict[str, tuple[list[Grant], Place, Place]] = {
    "nobody": ([], Place(2, 7), Place(3, 13)),
    "registered": ([REGISTERED], Place(2, 7), Place(3, 13)),
    "resident": ([resident_grant(7)], Place(2, 7), Place(2, 8)),
    "delegate": ([REGISTERED, Grant(Role.DELEGATE, ScopeKind.CIRCLE, 7)], Place(2, 7), Place(2, 8)),
    "manager": ([REGISTERED, Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, 2)], Place(2, 8), Place(3, 13)),
    "police": (
        [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.COMMUNITY_POLICE)],
        Place(2, 7, Sector.COMMUNITY_POLICE),
        Place(2, 7, Sector.SOCIAL_SERVICES),
    ),
    "council": ([REGISTERED, Grant(Role.COUNCIL_MEMBER, ScopeKind.BARRIO, 2)], Place(2, 7), Place(3, 13)),
    "medi": (
        [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.MEDIATION)],
        Place(2, 7),
        Place(3, 13),
    ),
    "just": (
        [REGISTERED, Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.COMMUNITY_JUSTICE)],
        Place(2, 7),
        Place(3, 13),
    ),
    "court": ([REGISTERED, Grant(Role.COMMUNITY_COURT_MEMBER, ScopeKind.BARRIO, 2)], Place(2, 7), Place(3, 13)),
    "pros": ([REGISTERED, Grant(Role.COMMUNITY_PROSECUTOR, ScopeKind.BARRIO, 2)], Place(2, 7), Place(3, 13)),
    "supv": ([REGISTERED, Grant(Role.MEDIATION_SUPERVISOR, ScopeKind.BARRIO, 2)], Place(2, 7), Place(3, 13)),
    "admin": ([REGISTERED, Grant(Role.ADMIN, ScopeKind.DISTRICT)], Place(3, 13), Place(2, 7)),
}
COLUMNS = list(SUBJECTS)

# One row per action; per subject "in scope / out of scope": Y allowed, . refused.
EXPECTED = """
action               nobody registered resident delegate manager police council medi just court pros supv admin
join_circle          YY     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
change_language      YY     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
see_help             YY     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
cancel               YY     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
check_receipt        YY     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
view_own_data        ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
erase_own_data       ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
leave_circle         ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
contact_managers     ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
follow_own_reports   ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
see_polls            ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
change_settings      ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
seek_support         ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
attend_meeting       ..     YY         YY       YY       YY      YY     YY      YY   YY   YY    YY   YY   YY
report_problem       ..     ..         Y.       ..       ..      ..     ..      ..   ..   ..    ..   ..   YY
vote                 ..     ..         Y.       ..       ..      ..     Y.      ..   ..   ..    ..   ..   YY
propose              ..     ..         Y.       ..       ..      ..     ..      ..   ..   ..    ..   ..   YY
stand                ..     ..         Y.       ..       ..      ..     Y.      ..   ..   ..    ..   ..   YY
approve_membership   ..     ..         ..       Y.       Y.      ..     ..      ..   ..   ..    ..   ..   YY
list_pending         ..     ..         ..       Y.       Y.      ..     ..      ..   ..   ..    ..   ..   YY
answer_resident      ..     ..         ..       ..       Y.      ..     ..      ..   ..   ..    ..   ..   YY
create_invite        ..     ..         ..       ..       Y.      ..     ..      ..   ..   ..    ..   ..   YY
name_delegate        ..     ..         ..       ..       Y.      ..     ..      ..   ..   ..    ..   ..   YY
grant_role           ..     ..         ..       ..       ..      ..     ..      ..   ..   ..    ..   ..   YY
broadcast_circle     ..     ..         ..       Y.       Y.      ..     ..      ..   ..   ..    ..   ..   YY
send_notice          ..     ..         ..       ..       Y.      ..     ..      ..   ..   ..    ..   ..   YY
handle_reports       ..     ..         ..       ..       Y.      Y.     ..      Y.   Y.   ..    ..   ..   YY
create_poll          ..     ..         ..       Y.       Y.      ..     ..      ..   ..   ..    ..   ..   YY
call_election        ..     ..         ..       ..       Y.      ..     ..      ..   ..   ..    ..   ..   YY
see_stats            ..     ..         ..       ..       Y.      ..     ..      ..   ..   ..    ..   ..   YY
call_meeting         ..     ..         ..       Y.       Y.      ..     ..      ..   ..   ..    ..   ..   YY
see_coexistence      ..     ..         ..       ..       Y.      Y.     ..      Y.   Y.   ..    Y.   Y.   YY
mediate              ..     ..         ..       ..       ..      ..     ..      Y.   ..   ..    ..   ..   ..
supervise_mediation  ..     ..         ..       ..       ..      ..     ..      ..   ..   ..    ..   Y.   ..
refer_to_court       ..     ..         ..       ..       ..      Y.     ..      ..   Y.   ..    ..   ..   YY
appoint_court_member ..     ..         ..       ..       ..      ..     ..      ..   Y.   ..    ..   ..   YY
sit_on_court         ..     ..         ..       ..       ..      ..     ..      ..   ..   Y.    ..   ..   ..
supervise_court      ..     ..         ..       ..       ..      ..     ..      ..   ..   ..    Y.   ..   ..
"""


def expected_table() -> dict[tuple[Action, str], str]:
    lines = [line.split() for line in EXPECTED.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert header[1:] == COLUMNS
    return {(Action(row[0]), subject): cell for row in rows for subject, cell in zip(COLUMNS, row[1:], strict=True)}


def test_the_table_covers_every_action():
    assert {action for action, _ in expected_table()} == set(Action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("subject", COLUMNS)
def test_every_role_action_and_scope(subject, action):
    grants, inside, outside = SUBJECTS[subject]
    expected = expected_table()[(action, subject)]
    actual = ("Y" if can(grants, action, inside) else ".") + ("Y" if can(grants, action, outside) else ".")
    assert actual == expected, f"{subject} / {action}: in scope, out of scope"


@pytest.mark.parametrize("subject", COLUMNS)
@pytest.mark.parametrize("action", [Action.APPROVE_MEMBERSHIP, Action.ANSWER_RESIDENT])
def test_nobody_decides_about_themselves(subject, action):
    grants, inside, _outside = SUBJECTS[subject]
    assert can(grants, action, inside, on_oneself=True) is False


@pytest.mark.parametrize("subject", COLUMNS)
@pytest.mark.parametrize("action", list(Action))
def test_a_command_is_offered_exactly_when_allowed_somewhere(subject, action):
    grants, inside, outside = SUBJECTS[subject]
    assert can_somewhere(grants, action) == (can(grants, action, inside) or can(grants, action, outside))


@pytest.mark.parametrize(
    ("role", "action"),
    [(Role.DELEGATE, Action.NAME_DELEGATE), (Role.COMMUNITY_COURT_MEMBER, Action.APPOINT_COURT_MEMBER)]
    + [(r, Action.GRANT_ROLE) for r in GRANTABLE_ROLES if r not in (Role.DELEGATE, Role.COMMUNITY_COURT_MEMBER)],
)
def test_granting_a_role_is_an_action_of_the_table(role, action):
    assert grant_action(role) is action


@pytest.mark.parametrize(
    ("grant", "ok"),
    [
        (Grant(Role.DELEGATE, ScopeKind.CIRCLE, 7), True),
        (Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, 2), True),
        (Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.COMMUNITY_POLICE), True),
        (Grant(Role.ADMIN, ScopeKind.DISTRICT), True),
        (Grant(Role.DELEGATE, ScopeKind.BARRIO, 2), False),
        (Grant(Role.ADMIN, ScopeKind.DISTRICT, 3), False),
        (Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2), False),
        (Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, 2, Sector.MEDIATION), False),
        (Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, None), False),
    ],
)
def test_grant_is_well_formed(grant, ok):
    assert grant_is_well_formed(grant) is ok


@pytest.mark.parametrize(
    ("subject", "place", "ok"),
    [
        ("delegate", Place(2, 7), True),  # their circle
        ("delegate", Place(2, None), False),  # their barrio: not theirs to ask
        ("delegate", Place(), False),  # the district
        ("manager", Place(2, None), True),
        ("manager", Place(2, 8), True),  # a circle of their barrio
        ("manager", Place(), False),
        ("admin", Place(), True),
        ("resident", Place(2, 7), False),
    ],
)
def test_who_may_open_a_poll_where(subject, place, ok):
    grants, _inside, _outside = SUBJECTS[subject]
    assert can(grants, Action.CREATE_POLL, place) is ok
