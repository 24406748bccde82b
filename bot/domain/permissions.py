"""Who may do what, where: one table of role x action, with scopes (district, barrio, circle, sector).

Every command and button asks `can(grants, action, place)`. A registered person always holds one implicit
grant, `resident_grant(circle)`: the RESIDENT role over the circle they are a verified member of (or over no
circle yet), so "registered" and "verified member of this circle" are rows of the same table.
"""

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
    # Coexistence: trained residents on a barrio's community court panel, the community prosecutor who
    # supervises the panels, and the supervisor of the mediation sector (Psycho-Social Safety Care).
    COMMUNITY_COURT_MEMBER = "community_court_member"
    COMMUNITY_PROSECUTOR = "community_prosecutor"
    MEDIATION_SUPERVISOR = "mediation_supervisor"


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

    # Anyone, registered or not.
    JOIN_CIRCLE = "join_circle"
    CHANGE_LANGUAGE = "change_language"
    SEE_HELP = "see_help"
    CANCEL = "cancel"
    CHECK_RECEIPT = "check_receipt"
    # Any registered person, about themselves.
    VIEW_OWN_DATA = "view_own_data"
    ERASE_OWN_DATA = "erase_own_data"
    LEAVE_CIRCLE = "leave_circle"
    CONTACT_MANAGERS = "contact_managers"
    FOLLOW_OWN_REPORTS = "follow_own_reports"
    SEE_POLLS = "see_polls"
    CHANGE_SETTINGS = "change_settings"  # quiet hours, muted notices
    SEEK_SUPPORT = "seek_support"  # "I need to talk to someone": a confidential case with Psycho-Social Care
    ATTEND_MEETING = "attend_meeting"  # answer an invitation, see my meetings, propose an agenda item
    # Verified members of the place's circle.
    REPORT_PROBLEM = "report_problem"
    VOTE = "vote"
    PROPOSE = "propose"
    STAND = "stand"  # stand in an election, or nominate someone (a circle's members; a council's members)
    # Staff.
    APPROVE_MEMBERSHIP = "approve_membership"
    LIST_PENDING = "list_pending"
    ANSWER_RESIDENT = "answer_resident"
    CREATE_INVITE = "create_invite"
    NAME_DELEGATE = "name_delegate"
    GRANT_ROLE = "grant_role"
    BROADCAST_CIRCLE = "broadcast_circle"
    SEND_NOTICE = "send_notice"
    HANDLE_REPORTS = "handle_reports"
    CREATE_POLL = "create_poll"
    CALL_ELECTION = "call_election"
    SEE_STATS = "see_stats"  # /stats: a barrio's figures (also open to its Governance Commission, see handlers)
    CALL_MEETING = "call_meeting"  # a circle's assembly (delegates, managers) or a body's meeting (managers)
    # Coexistence. Seeing a mediation, support or court case means its state and dates, never its content.
    SEE_COEXISTENCE = "see_coexistence"
    MEDIATE = "mediate"  # open a mediation from a case, take a support case: become its mediator
    SUPERVISE_MEDIATION = "supervise_mediation"  # read the content of the barrio's mediations and support
    REFER_TO_COURT = "refer_to_court"
    APPOINT_COURT_MEMBER = "appoint_court_member"
    SIT_ON_COURT = "sit_on_court"  # a panel member: take a court case, hold the hearing, record the agreement
    SUPERVISE_COURT = "supervise_court"  # the prosecutor: read court cases, take one back


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


# Anyone may do these, even before registering.
# Checking a ballot receipt needs nobody's identity: whoever holds the code may ask.
PUBLIC: frozenset[Action] = frozenset(
    {Action.JOIN_CIRCLE, Action.CHANGE_LANGUAGE, Action.SEE_HELP, Action.CANCEL, Action.CHECK_RECEIPT}
)
# Any registered person may do these about themselves, wherever they live.
SELF_SERVICE: frozenset[Action] = frozenset(
    {
        Action.VIEW_OWN_DATA,
        Action.ERASE_OWN_DATA,
        Action.LEAVE_CIRCLE,
        Action.CONTACT_MANAGERS,
        Action.FOLLOW_OWN_REPORTS,
        Action.SEE_POLLS,
        Action.CHANGE_SETTINGS,
        Action.SEEK_SUPPORT,
        Action.ATTEND_MEETING,
    }
)
# Nobody may do these when the subject is themselves (deciding on one's own request to join, say).
NEVER_ON_ONESELF: frozenset[Action] = frozenset({Action.APPROVE_MEMBERSHIP, Action.ANSWER_RESIDENT})

# What mediation, support and court content can be reached by: never by an office (admins included), only by
# the trained people the process names.
CONFIDENTIAL: frozenset[Action] = frozenset(
    {Action.MEDIATE, Action.SUPERVISE_MEDIATION, Action.SIT_ON_COURT, Action.SUPERVISE_COURT}
)

# The one table: which place-bound actions each role allows within the scope of its grant.
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.RESIDENT: frozenset({Action.REPORT_PROBLEM, Action.VOTE, Action.PROPOSE, Action.STAND}),
    Role.DELEGATE: frozenset(
        {
            Action.APPROVE_MEMBERSHIP,
            Action.LIST_PENDING,
            Action.BROADCAST_CIRCLE,
            Action.CREATE_POLL,
            Action.CALL_MEETING,
        }
    ),
    Role.COMMUNITY_MANAGER: frozenset(
        {
            Action.APPROVE_MEMBERSHIP,
            Action.LIST_PENDING,
            Action.ANSWER_RESIDENT,
            Action.CREATE_INVITE,
            Action.NAME_DELEGATE,
            Action.BROADCAST_CIRCLE,
            Action.SEND_NOTICE,
            Action.HANDLE_REPORTS,
            Action.CREATE_POLL,
            Action.CALL_ELECTION,
            Action.CALL_MEETING,
            Action.SEE_COEXISTENCE,
            Action.SEE_STATS,
        }
    ),
    Role.SECTORIAL_MANAGER: frozenset({Action.HANDLE_REPORTS, Action.SEE_COEXISTENCE}),
    Role.COUNCIL_MEMBER: frozenset({Action.VOTE, Action.STAND}),
    Role.ADMIN: frozenset(set(Action) - PUBLIC - SELF_SERVICE - CONFIDENTIAL),
    Role.COMMUNITY_COURT_MEMBER: frozenset({Action.SIT_ON_COURT}),
    Role.COMMUNITY_PROSECUTOR: frozenset({Action.SUPERVISE_COURT, Action.SEE_COEXISTENCE}),
    Role.MEDIATION_SUPERVISOR: frozenset({Action.SUPERVISE_MEDIATION, Action.SEE_COEXISTENCE}),
}
# What a sectorial manager may do beyond the role's row, by the sector they belong to.
SECTOR_PERMISSIONS: dict[Sector, frozenset[Action]] = {
    Sector.MEDIATION: frozenset({Action.MEDIATE}),
    Sector.COMMUNITY_JUSTICE: frozenset({Action.REFER_TO_COURT, Action.APPOINT_COURT_MEMBER}),
    Sector.COMMUNITY_POLICE: frozenset({Action.REFER_TO_COURT}),
}

ROLE_SCOPE: dict[Role, ScopeKind] = {
    Role.RESIDENT: ScopeKind.CIRCLE,
    Role.DELEGATE: ScopeKind.CIRCLE,
    Role.COMMUNITY_MANAGER: ScopeKind.BARRIO,
    Role.SECTORIAL_MANAGER: ScopeKind.BARRIO,
    Role.COUNCIL_MEMBER: ScopeKind.BARRIO,
    Role.ADMIN: ScopeKind.DISTRICT,
    Role.COMMUNITY_COURT_MEMBER: ScopeKind.BARRIO,
    Role.COMMUNITY_PROSECUTOR: ScopeKind.BARRIO,
    Role.MEDIATION_SUPERVISOR: ScopeKind.BARRIO,
}

# Roles a person may be given with /grant or `vecinos roles grant` (RESIDENT comes from membership).
GRANTABLE_ROLES: tuple[Role, ...] = tuple(r for r in Role if r is not Role.RESIDENT)


def resident_grant(verified_circle_id: int | None) -> Grant:
    """The grant every registered person holds: resident of their verified circle (None: not yet)."""
    return Grant(Role.RESIDENT, ScopeKind.CIRCLE, verified_circle_id)


def is_registered(grants: Iterable[Grant]) -> bool:
    """Whether the grants belong to a registered person (they include the implicit resident grant)."""
    return any(g.role is Role.RESIDENT for g in grants)


def can(grants: Iterable[Grant], action: Action, place: Place, *, on_oneself: bool = False) -> bool:
    """Whether any of `grants` allows `action` at `place`. `on_oneself`: the action's subject is the asker
    (their own request, their own case), which some actions never allow."""
    if action in PUBLIC:
        return True
    grants = list(grants)
    if action in SELF_SERVICE:
        return is_registered(grants)
    if on_oneself and action in NEVER_ON_ONESELF:
        return False
    return any(_grant_allows(g, action) and g.covers(place) for g in grants)


def _grant_allows(grant: Grant, action: Action) -> bool:
    if action in PERMISSIONS[grant.role]:
        return True
    return (
        grant.role is Role.SECTORIAL_MANAGER
        and grant.sector is not None
        and action in SECTOR_PERMISSIONS.get(grant.sector, frozenset())
    )


def can_somewhere(grants: Iterable[Grant], action: Action) -> bool:
    """Whether `action` is allowed to these grants in at least one place (to offer a command at all)."""
    if action in PUBLIC:
        return True
    grants = list(grants)
    if action in SELF_SERVICE:
        return is_registered(grants)
    return any(_grant_allows(g, action) and (g.role is not Role.RESIDENT or g.scope_id) for g in grants)


def grant_action(role: Role) -> Action:
    """The action it takes to give someone `role`: community managers name their circles' delegates;
    community justice staff appoint their barrio's court panel; every other role is granted by admins."""
    if role is Role.DELEGATE:
        return Action.NAME_DELEGATE
    if role is Role.COMMUNITY_COURT_MEMBER:
        return Action.APPOINT_COURT_MEMBER
    return Action.GRANT_ROLE


def grant_is_well_formed(grant: Grant) -> bool:
    """A grant must use its role's scope kind, carry a scope id unless district-wide, and a sector
    exactly when the role is sectorial."""
    if ROLE_SCOPE[grant.role] is not grant.scope:
        return False
    if (grant.scope is ScopeKind.DISTRICT) != (grant.scope_id is None):
        return False
    return (grant.role is Role.SECTORIAL_MANAGER) == (grant.sector is not None)
