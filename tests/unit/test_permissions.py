"""The permissions table, by example."""

from __future__ import annotations

import pytest

from bot.domain.permissions import Action, Grant, Place, Role, ScopeKind, Sector, can, grant_is_well_formed, may_grant

LAVAPIES = Place(barrio_id=2, circle_id=7)
OTHER_BARRIO = Place(barrio_id=3, circle_id=13)
SAME_BARRIO_OTHER_CIRCLE = Place(barrio_id=2, circle_id=8)

delegate = Grant(Role.DELEGATE, ScopeKind.CIRCLE, 7)
manager = Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, 2)
police = Grant(Role.SECTORIAL_MANAGER, ScopeKind.BARRIO, 2, Sector.COMMUNITY_POLICE)
admin = Grant(Role.ADMIN, ScopeKind.DISTRICT)


@pytest.mark.parametrize(
    ("grants", "action", "place", "allowed"),
    [
        ([], Action.APPROVE_MEMBERSHIP, LAVAPIES, False),
        ([], Action.VIEW_OWN_DATA, LAVAPIES, True),
        ([], Action.ERASE_OWN_DATA, LAVAPIES, True),
        ([delegate], Action.APPROVE_MEMBERSHIP, LAVAPIES, True),
        ([delegate], Action.APPROVE_MEMBERSHIP, SAME_BARRIO_OTHER_CIRCLE, False),
        ([delegate], Action.CREATE_INVITE, LAVAPIES, False),
        ([manager], Action.APPROVE_MEMBERSHIP, LAVAPIES, True),
        ([manager], Action.APPROVE_MEMBERSHIP, SAME_BARRIO_OTHER_CIRCLE, True),
        ([manager], Action.APPROVE_MEMBERSHIP, OTHER_BARRIO, False),
        ([manager], Action.CREATE_INVITE, LAVAPIES, True),
        ([police], Action.APPROVE_MEMBERSHIP, LAVAPIES, False),
        ([police], Action.HANDLE_REPORTS, Place(2, 7, Sector.COMMUNITY_POLICE), True),
        ([police], Action.HANDLE_REPORTS, Place(2, 7, Sector.SOCIAL_SERVICES), False),
        ([admin], Action.APPROVE_MEMBERSHIP, OTHER_BARRIO, True),
        ([admin], Action.GRANT_ROLE, Place(), True),
        ([delegate, manager], Action.SEND_NOTICE, LAVAPIES, True),
    ],
)
def test_can(grants, action, place, allowed):
    assert can(grants, action, place) is allowed


@pytest.mark.parametrize(
    ("grant", "ok"),
    [
        (delegate, True),
        (manager, True),
        (police, True),
        (admin, True),
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
    ("granter", "grant", "place", "ok"),
    [
        ([admin], manager, Place(2), True),
        ([manager], delegate, LAVAPIES, True),
        ([manager], Grant(Role.DELEGATE, ScopeKind.CIRCLE, 13), OTHER_BARRIO, False),
        ([manager], manager, Place(2), False),
        ([delegate], delegate, LAVAPIES, False),
        ([], delegate, LAVAPIES, False),
    ],
)
def test_may_grant(granter, grant, place, ok):
    assert may_grant(granter, grant, place) is ok
