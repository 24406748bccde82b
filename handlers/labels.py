"""Translatable names of roles, sectors, statuses and circle kinds (marked here, translated per reader)."""

from __future__ import annotations

from bot.domain.permissions import Grant, Role, ScopeKind, Sector
from bot.domain.reports import CaseStatus, Transition
from bot.domain.residents import MembershipStatus
from bot.domain.territory import CircleKind
from bot.i18n import N_, Safe, Translator, escape, safe_join
from bot.language_detection import detect_language

ROLE_NAMES = {
    Role.RESIDENT: N_("Resident"),
    Role.DELEGATE: N_("Delegate"),
    Role.COMMUNITY_MANAGER: N_("Community manager"),
    Role.SECTORIAL_MANAGER: N_("Sectorial manager"),
    Role.COUNCIL_MEMBER: N_("Council member"),
    Role.ADMIN: N_("Administrator"),
    Role.COMMUNITY_COURT_MEMBER: N_("Community court member"),
    Role.COMMUNITY_PROSECUTOR: N_("Community prosecutor"),
    Role.MEDIATION_SUPERVISOR: N_("Mediation supervisor"),
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


# Report categories known to every catalog; a category added in a territory file shows its own `name`.
CATEGORY_NAMES = {
    "safety": N_("Safety"),
    "antisocial": N_("Anti-social behaviour or misdemeanour"),
    "noise": N_("Noise"),
    "cleanliness": N_("Cleanliness and waste"),
    "public_space": N_("Public space and accessibility"),
    "vulnerable_person": N_("A vulnerable person needing care"),
    "neighbour_conflict": N_("Conflict with a neighbour"),
    "other": N_("Other"),
}
CATEGORY_ICONS = {
    "safety": "🚨",
    "antisocial": "⚠️",
    "noise": "🔊",
    "cleanliness": "🗑️",
    "public_space": "🚧",
    "vulnerable_person": "🤝",
    "neighbour_conflict": "🏠",
    "other": "📝",
}

CASE_STATUS_NAMES = {
    CaseStatus.NEW: N_("received"),
    CaseStatus.ACKNOWLEDGED: N_("acknowledged"),
    CaseStatus.REFERRED: N_("passed to the responsible service"),
    CaseStatus.IN_PROGRESS: N_("being worked on"),
    CaseStatus.RESOLVED: N_("resolved"),
    CaseStatus.REOPENED: N_("reopened"),
    CaseStatus.NOT_ACTIONABLE: N_("not actionable"),
    CaseStatus.MERGED: N_("joined with another report"),
    CaseStatus.CLOSED: N_("closed"),
}

TRANSITION_LABELS = {
    Transition.ACKNOWLEDGE: N_("👀 Acknowledge"),
    Transition.REFER: N_("↪️ Refer"),
    Transition.START: N_("🛠️ Start work"),
    Transition.RESOLVE: N_("✅ Resolved"),
    Transition.NOT_ACTIONABLE: N_("🚫 Not actionable"),
    Transition.MERGE: N_("🔗 Merge"),
}


def category_name(t: Translator, code: str, fallback: str | None = None) -> str:
    """A report category's name in the reader's language (plain text)."""
    if code in CATEGORY_NAMES:
        return t.plain(CATEGORY_NAMES[code])
    return fallback or code


def category_label(t: Translator, code: str, fallback: str | None = None) -> str:
    """A category's button label: its icon and name."""
    return f"{CATEGORY_ICONS.get(code, '📝')} {category_name(t, code, fallback)}"


def case_status_name(t: Translator, status: str) -> str:
    """A case's state in the reader's language."""
    return t.plain(CASE_STATUS_NAMES[CaseStatus(status)])


def transition_label(t: Translator, transition: Transition) -> str:
    """A staff button's label for a transition."""
    return t.plain(TRANSITION_LABELS[transition])


def handler_name(t: Translator, sector: str | None) -> str:
    """Who handles a case: a sector's name, or the community managers."""
    return sector_name(t, Sector(sector)) if sector else t.plain("the community managers")


def written_text(t: Translator, text: str) -> Safe:
    """What a person wrote, escaped, labelled with its language when that is not the reader's ("🌐 Original in
    Arabic"), as the offline detector reads it."""
    return written_for(t, text)[0]


def written_for(t: Translator, text: str, source: str | None = None) -> tuple[Safe, dict[str, str] | None]:
    """What a person wrote, for one reader: escaped, labelled with its language when that is not the reader's;
    and, then, what the outbox sender needs to put a machine translation in its place (Reply.machine)."""
    code = detect_language(text) or source
    if code is None or code == t.locale:
        return escape(text), None
    label = t.gettext("<i>🌐 Original in {language}:</i>", language=t.language_name(code))
    shown = safe_join("\n", [label, escape(text)])
    machine = {
        "q": text,
        "source": code,
        "target": t.locale,
        "original": str(shown),
        "mark": str(
            t.gettext(
                "<i>🤖 Machine-translated from {language}: it may have mistakes. The button shows the original.</i>",
                language=t.language_name(code),
            )
        ),
        "button": t.plain("📄 See the original"),
    }
    return shown, machine
