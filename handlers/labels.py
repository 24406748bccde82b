"""Translatable names of roles, sectors, statuses and circle kinds (marked here, translated per reader)."""

from __future__ import annotations

from bot.domain.permissions import Grant, Role, ScopeKind, Sector
from bot.domain.residents import MembershipStatus
from bot.domain.territory import CircleKind
from bot.i18n import N_, Translator

ROLE_NAMES = {
    Role.RESIDENT: N_("Resident"),
    Role.DELEGATE: N_("Delegate"),
    Role.COMMUNITY_MANAGER: N_("Community manager"),
    Role.SECTORIAL_MANAGER: N_("Sectorial manager"),
    Role.COUNCIL_MEMBER: N_("Council member"),
    Role.ADMIN: N_("Administrator"),
}

SECTOR_NAMES = {
    Sector.COMMUNITY_POLICE: N_("Community Police"),
    Sector.LOCAL_POLICE: N_("Local Police"),
    Sector.SOCIAL_SERVICES: N_("Social services"),
    Sector.ENVIRONMENT_CLEANING: N_("Environment and cleaning"),
    Sector.MEDIATION: N_("Psycho-social safety care and mediation"),
    Sector.COMMUNITY_JUSTICE: N_("Community justice"),
}

STATUS_NAMES = {
    MembershipStatus.PENDING: N_("waiting for approval"),
    MembershipStatus.VERIFIED: N_("verified"),
    MembershipStatus.REJECTED: N_("not approved"),
    MembershipStatus.LEFT: N_("left"),
    MembershipStatus.ERASED: N_("erased"),
}

KIND_ICONS = {CircleKind.STREET: "🛣️", CircleKind.SQUARE: "⛲", CircleKind.PARK: "🌳"}


def role_name(t: Translator, role: Role) -> str:
    """A role's name in the reader's language."""
    return t.plain(ROLE_NAMES[role])


def sector_name(t: Translator, sector: Sector) -> str:
    """A sector's name in the reader's language."""
    return t.plain(SECTOR_NAMES[sector])


def status_name(t: Translator, status: str) -> str:
    """A membership status in the reader's language."""
    return t.plain(STATUS_NAMES[MembershipStatus(status)])


def circle_label(kind: str, name: str) -> str:
    """A circle's button label: an icon for its kind, then its (proper) name."""
    return f"{KIND_ICONS.get(CircleKind(kind), '📍')} {name}"


def grant_label(t: Translator, grant: Grant, place_name: str | None) -> str:
    """'Delegate · Plaza de Lavapiés' in the reader's language."""
    parts = [role_name(t, grant.role)]
    if grant.sector is not None:
        parts.append(sector_name(t, grant.sector))
    if grant.scope is ScopeKind.DISTRICT:
        parts.append(t.plain("whole district"))
    elif place_name:
        parts.append(place_name)
    return " · ".join(parts)
