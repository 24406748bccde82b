"""Who may do what, where: one table of role x action, with scopes (district, barrio, circle, sector)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Roles of the MCD participation model."""

    RESIDENT = "resident"
    DELEGATE = "delegate"
    COMMUNITY_MANAGER = "community_manager"
    SECTORIAL_MANAGER = "sectorial_manager"
    COUNCIL_MEMBER = "council_member"
    ADMIN = "admin"


class Sector(StrEnum):
    """Institutions with sectorial community managers."""

    COMMUNITY_POLICE = "community_police"
    LOCAL_POLICE = "local_police"
    SOCIAL_SERVICES = "social_services"
    ENVIRONMENT_CLEANING = "environment_cleaning"
    MEDIATION = "mediation"
    COMMUNITY_JUSTICE = "community_justice"


class Action(StrEnum):
    """Things a person can ask the bot to do."""

    JOIN_CIRCLE = "join_circle"
    VIEW_OWN_DATA = "view_own_data"
    ERASE_OWN_DATA = "erase_own_data"
    APPROVE_MEMBERSHIP = "approve_membership"
    LIST_PENDING = "list_pending"
    GRANT_ROLE = "grant_role"
    CREATE_INVITE = "create_invite"
    BROADCAST_CIRCLE = "broadcast_circle"
    SEND_NOTICE = "send_notice"
    HANDLE_REPORTS = "handle_reports"
    REPORT_PROBLEM = "report_problem"
    VOTE = "vote"


class ScopeKind(StrEnum):
    """How far a role grant reaches."""

    DISTRICT = "district"
    BARRIO = "barrio"
    CIRCLE = "circle"


@dataclass(frozen=True, slots=True)
class Place:
    """Where an action happens: a circle inside a barrio (either may be unknown for district-wide acts)."""

    barrio_id: int | None = None
    circle_id: int | None = None
    sector: Sector | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """A role held over a scope; `scope_id` is the barrio or circle id (None for the district)."""

    role: Role
    scope: ScopeKind
    scope_id: int | None = None
    sector: Sector | None = None

    def covers(self, place: Place) -> bool:
        """Whether this grant's scope contains `place` (a barrio grant covers the barrio's circles)."""
        if self.sector is not None and place.sector is not None and self.sector != place.sector:
            return False
        if self.scope is ScopeKind.DISTRICT:
            return True
        if self.scope is ScopeKind.BARRIO:
            return place.barrio_id is not None and place.barrio_id == self.scope_id
        return place.circle_id is not None and place.circle_id == self.scope_id


# The one table: which actions each role allows, and the scope kind a grant of that role has.
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.RESIDENT: frozenset(
        {Action.JOIN_CIRCLE, Action.VIEW_OWN_DATA, Action.ERASE_OWN_DATA, Action.REPORT_PROBLEM, Action.VOTE}
    ),
    Role.DELEGATE: frozenset({Action.APPROVE_MEMBERSHIP, Action.LIST_PENDING, Action.BROADCAST_CIRCLE}),
    Role.COMMUNITY_MANAGER: frozenset(
        {
            Action.APPROVE_MEMBERSHIP,
            Action.LIST_PENDING,
            Action.CREATE_INVITE,
            Action.SEND_NOTICE,
            Action.HANDLE_REPORTS,
        }
    ),
    Role.SECTORIAL_MANAGER: frozenset({Action.HANDLE_REPORTS}),
    Role.COUNCIL_MEMBER: frozenset({Action.VOTE}),
    Role.ADMIN: frozenset(set(Action)),
}

ROLE_SCOPE: dict[Role, ScopeKind] = {
    Role.RESIDENT: ScopeKind.CIRCLE,
    Role.DELEGATE: ScopeKind.CIRCLE,
    Role.COMMUNITY_MANAGER: ScopeKind.BARRIO,
    Role.SECTORIAL_MANAGER: ScopeKind.BARRIO,
    Role.COUNCIL_MEMBER: ScopeKind.BARRIO,
    Role.ADMIN: ScopeKind.DISTRICT,
}

# Actions every registered person may take about themselves, whatever their grants.
SELF_SERVICE: frozenset[Action] = frozenset({Action.VIEW_OWN_DATA, Action.ERASE_OWN_DATA, Action.JOIN_CIRCLE})


def can(grants: Iterable[Grant], action: Action, place: Place) -> bool:
    """Whether any of `grants` allows `action` at `place`."""
    if action in SELF_SERVICE:
        return True
    return any(action in PERMISSIONS[g.role] and g.covers(place) for g in grants)


def grant_is_well_formed(grant: Grant) -> bool:
    """A grant must use its role's scope kind, carry a scope id unless district-wide, and a sector
    exactly when the role is sectorial."""
    if ROLE_SCOPE[grant.role] is not grant.scope:
        return False
    if (grant.scope is ScopeKind.DISTRICT) != (grant.scope_id is None):
        return False
    return (grant.role is Role.SECTORIAL_MANAGER) == (grant.sector is not None)


def may_grant(granter: Iterable[Grant], grant: Grant, place: Place) -> bool:
    """Admins grant anything; community managers may name delegates of circles in their barrio."""
    granter = list(granter)
    if any(g.role is Role.ADMIN for g in granter):
        return True
    if grant.role is Role.DELEGATE:
        return any(g.role is Role.COMMUNITY_MANAGER and g.covers(place) for g in granter)
    return False
