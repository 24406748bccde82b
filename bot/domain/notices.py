"""Notices and delegate broadcasts: who a notice is for, which version each recipient reads, when it may reach
them (quiet hours), whether it reaches them at all (mutes, blocked chats), and how often a delegate may write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.permissions import Role, Sector

TEXT_MAX = 3500
DEFAULT_DELEGATE_DAILY_LIMIT = 3


class NoticeScopeKind(StrEnum):
    """Whom a notice is for: the residents of a place, or the holders of a role."""

    DISTRICT = "district"
    BARRIO = "barrio"
    CIRCLE = "circle"
    ROLE = "role"


class NoticeKind(StrEnum):
    """Kinds of notices a resident can mute in /settings (urgent ones are never muted)."""

    OFFICIAL = "official"  # from community managers and the district office
    DELEGATE = "delegate"  # a delegate to their circle


# Role audiences, by name: a staff role, or the sectorial managers of one institution ("community_police").
ROLE_AUDIENCES: tuple[str, ...] = (
    Role.DELEGATE.value,
    Role.COMMUNITY_MANAGER.value,
    Role.COUNCIL_MEMBER.value,
    *(sector.value for sector in Sector),
)


@dataclass(frozen=True, slots=True)
class NoticeScope:
    """A notice's audience: a place (`id` the barrio or circle), or a role (`role`) within a barrio (`id`) or the
    whole district (`id` None)."""

    kind: NoticeScopeKind
    id: int | None = None
    role: str | None = None

    @property
    def key(self) -> str:
        """A compact, parseable form: district, barrio:3, circle:12, role:delegate, role:delegate:3."""
        if self.kind is NoticeScopeKind.ROLE:
            return f"role:{self.role}" + ("" if self.id is None else f":{self.id}")
        return self.kind.value if self.id is None else f"{self.kind.value}:{self.id}"

    def role_parts(self) -> tuple[Role, Sector | None]:
        """For a role audience: the role its members hold, and the sector for sectorial managers."""
        assert self.role is not None
        if self.role in {sector.value for sector in Sector}:
            return Role.SECTORIAL_MANAGER, Sector(self.role)
        return Role(self.role), None


def parse_notice_scope(text: str) -> NoticeScope | None:
    """Read a scope key (see NoticeScope.key); None if malformed."""
    parts = text.strip().split(":")
    kind = parts[0]
    if kind == NoticeScopeKind.DISTRICT and len(parts) == 1:
        return NoticeScope(NoticeScopeKind.DISTRICT)
    if kind in (NoticeScopeKind.BARRIO, NoticeScopeKind.CIRCLE) and len(parts) == 2 and parts[1].isdigit():
        return NoticeScope(NoticeScopeKind(kind), int(parts[1]))
    if kind == NoticeScopeKind.ROLE and len(parts) in (2, 3) and parts[1] in ROLE_AUDIENCES:
        if len(parts) == 3 and not parts[2].isdigit():
            return None
        return NoticeScope(NoticeScopeKind.ROLE, int(parts[2]) if len(parts) == 3 else None, parts[1])
    return None


# ---------------------------------------------------------------- quiet hours


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window (local time) when normal notices wait; `start == end` means no quiet hours."""

    start: time
    end: time

    @property
    def off(self) -> bool:
        """Whether this resident has no quiet hours."""
        return self.start == self.end

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes after midnight (how they are stored)."""
        return self.start.hour * 60 + self.start.minute, self.end.hour * 60 + self.end.minute

    @classmethod
    def from_minutes(cls, start: int, end: int) -> QuietHours:
        """From minutes after midnight."""
        return cls(time(start // 60, start % 60), time(end // 60, end % 60))


DEFAULT_QUIET_HOURS = QuietHours(time(22, 0), time(8, 0))
QUIET_PRESETS: tuple[QuietHours, ...] = (
    QuietHours(time(22, 0), time(8, 0)),
    QuietHours(time(23, 0), time(7, 0)),
    QuietHours(time(21, 0), time(9, 0)),
    QuietHours(time(0, 0), time(0, 0)),
)

_RANGE = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*[-–—aA]\s*(\d{1,2})(?:[:.h](\d{2}))?\s*$")


def parse_quiet_hours(text: str) -> QuietHours | None:
    """Read "22:00-08:00" (also "22-8", "23.30-7"); None if it is not a range of two times of day."""
    match = _RANGE.match(text)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        return None
    return QuietHours(time(h1, m1), time(h2, m2))


def quiet_until(now: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime | None:
    """If `now` falls in the recipient's quiet hours, the moment they end (aware, UTC offset kept as given
    by the zone); otherwise None. Windows may cross midnight; daylight-saving days are handled by the zone."""
    if quiet.off:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    if quiet.start < quiet.end:
        inside = quiet.start <= clock < quiet.end
        end_day = today
    else:  # crosses midnight: 22:00-08:00
        inside = clock >= quiet.start or clock < quiet.end
        end_day = today + timedelta(days=1) if clock >= quiet.start else today
    if not inside:
        return None
    end = datetime.combine(end_day, quiet.end, tzinfo=zone)
    # A wall time skipped by a spring-forward change does not exist: fold it onto the real instant.
    return end.astimezone(now.tzinfo) if now.tzinfo else end


@dataclass(frozen=True, slots=True)
class NoticePolicy:
    """The settings notices follow: a delegate's broadcasts per day, and the default quiet hours."""

    delegate_daily_limit: int = DEFAULT_DELEGATE_DAILY_LIMIT
    quiet: QuietHours = DEFAULT_QUIET_HOURS
    # Whether weekly digests go out at all: when they do not, nobody's notices wait for one.
    digests: bool = True

    def quiet_of(self, start: int | None, end: int | None) -> QuietHours:
        """A resident's quiet hours from their stored minutes (None: the default)."""
        if start is None or end is None:
            return self.quiet
        return QuietHours.from_minutes(start, end)


DEFAULT_NOTICE_POLICY = NoticePolicy()


# ---------------------------------------------------------------- each recipient's fate


class Fate(StrEnum):
    """What a notice does for one recipient when it is queued."""

    SEND = "pending"  # goes out (now, or when their quiet hours end)
    MUTED = "muted"  # they muted this kind
    UNREACHABLE = "unreachable"  # they blocked the bot
    DIGEST = "digest"  # waits for their weekly digest (they chose one instead of separate notices)


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the rules need to know about one recipient."""

    reachable: bool
    muted: frozenset[str]
    quiet: QuietHours
    weekly_digest: bool = False


def fate_of(recipient: Recipient, kind: NoticeKind, *, urgent: bool) -> Fate:
    """Whether a notice goes to this recipient: never to a blocked chat; urgent ones ignore mutes and the
    weekly digest; a normal one waits for the digest of someone who chose it."""
    if not recipient.reachable:
        return Fate.UNREACHABLE
    if not urgent and kind.value in recipient.muted:
        return Fate.MUTED
    if not urgent and recipient.weekly_digest:
        return Fate.DIGEST
    return Fate.SEND


def send_time(recipient: Recipient, at: datetime, zone: ZoneInfo, *, urgent: bool) -> datetime:
    """When a notice due at `at` may reach the recipient: urgent at once; normal after their quiet hours."""
    if urgent:
        return at
    return quiet_until(at, recipient.quiet, zone) or at


def muted_set(stored: str | None) -> frozenset[str]:
    """The kinds a resident muted, from their stored comma-separated list (unknown names are ignored)."""
    known = {kind.value for kind in NoticeKind}
    return frozenset(part for part in (stored or "").split(",") if part in known)


def muted_text(kinds: frozenset[str]) -> str:
    """The stored form of a set of muted kinds."""
    return ",".join(sorted(kinds))


# ---------------------------------------------------------------- versions


def version_for(texts: dict[str, str], original: str, locale: str) -> tuple[str, str]:
    """The text a recipient reads and its language: theirs if the author wrote one, else the original."""
    if texts.get(locale):
        return texts[locale], locale
    return texts[original], original


# ---------------------------------------------------------------- delegate broadcasts


def broadcasts_left(sent_today: int, daily_limit: int) -> int:
    """How many more broadcasts a delegate may send today."""
    return max(0, daily_limit - sent_today)


def madrid_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of the local day containing `now` (broadcast limits count per local day)."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0, 0), tzinfo=zone)


def parse_send_at(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """A local date and time typed by the author ("20/12/2026 20:00", "2026-12-20 20:00", or ISO 8601 with
    an offset), in the future; None if unreadable or past."""
    raw = text.strip()
    parsed: datetime | None = None
    for pattern in ("%d/%m/%Y %H:%M", "%d/%m/%y %H:%M", "%Y-%m-%d %H:%M"):
        try:
            parsed = datetime.strptime(raw, pattern).replace(tzinfo=zone)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
    if parsed <= now:
        return None
    return parsed
