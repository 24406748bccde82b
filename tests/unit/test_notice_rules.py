"""The rules of notices as tables: scopes, quiet hours (across midnight and daylight-saving changes), each
recipient's fate, the version they read, a delegate's daily limit; and the sender's pacing never putting more
than the rate in any sliding second."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.notices import (
    DEFAULT_QUIET_HOURS,
    Fate,
    NoticeKind,
    NoticePolicy,
    NoticeScope,
    NoticeScopeKind,
    QuietHours,
    Recipient,
    broadcasts_left,
    fate_of,
    madrid_day_start,
    muted_set,
    muted_text,
    parse_notice_scope,
    parse_quiet_hours,
    parse_send_at,
    quiet_until,
    send_time,
    version_for,
)
from bot.outbox import PACING_MARGIN, RateLimiter, ReadyQueue
from storage.outbox import OutboxItem

MADRID = ZoneInfo("Europe/Madrid")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("district", NoticeScope(NoticeScopeKind.DISTRICT)),
        ("barrio:3", NoticeScope(NoticeScopeKind.BARRIO, 3)),
        ("circle:12", NoticeScope(NoticeScopeKind.CIRCLE, 12)),
        ("role:delegate", NoticeScope(NoticeScopeKind.ROLE, None, "delegate")),
        ("role:community_police:2", NoticeScope(NoticeScopeKind.ROLE, 2, "community_police")),
        ("district:1", None),
        ("barrio", None),
        ("barrio:x", None),
        ("role:mayor", None),
        ("role:delegate:x", None),
        ("", None),
    ],
)
def test_scopes_parse_and_round_trip(text: str, scope: NoticeScope | None) -> None:
    assert parse_notice_scope(text) == scope
    if scope is not None:
        assert parse_notice_scope(scope.key) == scope


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-08:00", (time(22), time(8))),
        ("22-8", (time(22), time(8))),
        ("23.30-7", (time(23, 30), time(7))),
        ("23:30 – 06:45", (time(23, 30), time(6, 45))),
        ("0-0", (time(0), time(0))),
        ("25:00-08:00", None),
        ("22:61-08:00", None),
        ("por la noche", None),
        ("22:00", None),
    ],
)
def test_quiet_hours_are_read_from_what_people_type(text: str, expected: tuple[time, time] | None) -> None:
    parsed = parse_quiet_hours(text)
    assert (None if parsed is None else (parsed.start, parsed.end)) == expected


@pytest.mark.parametrize(
    ("now", "quiet", "until"),
    [
        (utc(2026, 12, 1, 10, 0), DEFAULT_QUIET_HOURS, None),  # 11:00 in Madrid
        (utc(2026, 12, 1, 21, 30), DEFAULT_QUIET_HOURS, utc(2026, 12, 2, 7, 0)),  # 22:30 -> 08:00 next day
        (utc(2026, 12, 1, 20, 59), DEFAULT_QUIET_HOURS, None),  # 21:59
        (utc(2026, 12, 2, 5, 0), DEFAULT_QUIET_HOURS, utc(2026, 12, 2, 7, 0)),  # 06:00, same morning
        (utc(2026, 12, 2, 7, 0), DEFAULT_QUIET_HOURS, None),  # 08:00 sharp: over
        (utc(2026, 12, 1, 13, 0), QuietHours(time(14), time(16)), utc(2026, 12, 1, 15, 0)),  # a siesta window
        (utc(2026, 12, 1, 23, 0), QuietHours(time(0), time(0)), None),  # no quiet hours
        # The night summer time ends (25 October 2026): 08:00 is then UTC+1.
        (utc(2026, 10, 24, 22, 0), DEFAULT_QUIET_HOURS, utc(2026, 10, 25, 7, 0)),
        # The night summer time starts (29 March 2026): 08:00 is then UTC+2.
        (utc(2026, 3, 28, 22, 0), DEFAULT_QUIET_HOURS, utc(2026, 3, 29, 6, 0)),
    ],
)
def test_quiet_hours_end_at_the_local_time_whatever_the_season(
    now: datetime, quiet: QuietHours, until: datetime | None
) -> None:
    assert quiet_until(now, quiet, MADRID) == until


@pytest.mark.parametrize(
    ("recipient", "kind", "urgent", "fate"),
    [
        (Recipient(True, frozenset(), DEFAULT_QUIET_HOURS), NoticeKind.OFFICIAL, False, Fate.SEND),
        (Recipient(True, frozenset({"official"}), DEFAULT_QUIET_HOURS), NoticeKind.OFFICIAL, False, Fate.MUTED),
        (Recipient(True, frozenset({"official"}), DEFAULT_QUIET_HOURS), NoticeKind.OFFICIAL, True, Fate.SEND),
        (Recipient(True, frozenset({"official"}), DEFAULT_QUIET_HOURS), NoticeKind.DELEGATE, False, Fate.SEND),
        (Recipient(True, frozenset({"delegate"}), DEFAULT_QUIET_HOURS), NoticeKind.DELEGATE, False, Fate.MUTED),
        (Recipient(False, frozenset(), DEFAULT_QUIET_HOURS), NoticeKind.OFFICIAL, True, Fate.UNREACHABLE),
        (Recipient(True, frozenset(), DEFAULT_QUIET_HOURS, True), NoticeKind.OFFICIAL, False, Fate.DIGEST),
        (Recipient(True, frozenset(), DEFAULT_QUIET_HOURS, True), NoticeKind.DELEGATE, False, Fate.DIGEST),
        (Recipient(True, frozenset(), DEFAULT_QUIET_HOURS, True), NoticeKind.OFFICIAL, True, Fate.SEND),
        (Recipient(True, frozenset({"delegate"}), DEFAULT_QUIET_HOURS, True), NoticeKind.DELEGATE, False, Fate.MUTED),
        (Recipient(False, frozenset(), DEFAULT_QUIET_HOURS, True), NoticeKind.OFFICIAL, False, Fate.UNREACHABLE),
    ],
)
def test_each_recipients_fate(recipient: Recipient, kind: NoticeKind, urgent: bool, fate: Fate) -> None:
    assert fate_of(recipient, kind, urgent=urgent) is fate


def test_urgent_notices_ignore_quiet_hours_and_normal_ones_wait() -> None:
    night = utc(2026, 12, 1, 23, 0)
    recipient = Recipient(True, frozenset(), DEFAULT_QUIET_HOURS)
    assert send_time(recipient, night, MADRID, urgent=True) == night
    assert send_time(recipient, night, MADRID, urgent=False) == utc(2026, 12, 2, 7, 0)


@pytest.mark.parametrize(
    ("texts", "locale", "expected"),
    [
        ({"es": "Hola", "ar": "مرحبا"}, "ar", ("مرحبا", "ar")),
        ({"es": "Hola", "ar": "مرحبا"}, "en", ("Hola", "es")),
        ({"es": "Hola", "ar": ""}, "ar", ("Hola", "es")),
        ({"es": "Hola"}, "es", ("Hola", "es")),
    ],
)
def test_the_version_each_reads(texts: dict[str, str], locale: str, expected: tuple[str, str]) -> None:
    assert version_for(texts, "es", locale) == expected


@pytest.mark.parametrize(("sent", "limit", "left"), [(0, 3, 3), (2, 3, 1), (3, 3, 0), (5, 3, 0), (0, 0, 0)])
def test_a_delegates_broadcasts_left_today(sent: int, limit: int, left: int) -> None:
    assert broadcasts_left(sent, limit) == left


def test_the_day_is_madrids() -> None:
    # 23:30 UTC on 1 December is already 2 December in Madrid.
    assert madrid_day_start(utc(2026, 12, 1, 23, 30), MADRID) == datetime(2026, 12, 2, tzinfo=MADRID)


def test_mutes_and_policy_read_what_is_stored() -> None:
    assert muted_set("official,nonsense,delegate") == frozenset({"official", "delegate"})
    assert muted_text(frozenset({"delegate", "official"})) == "delegate,official"
    assert muted_set(None) == frozenset()
    policy = NoticePolicy()
    assert policy.quiet_of(None, None) == DEFAULT_QUIET_HOURS
    assert policy.quiet_of(1380, 420) == QuietHours(time(23), time(7))


@pytest.mark.parametrize(
    ("text", "ok"),
    [("20/12/2026 20:00", True), ("2026-12-20 20:00", True), ("2026-12-20T20:00+01:00", True),
     ("01/11/2026 10:00", False), ("mañana", False)],
)  # fmt: skip
def test_a_time_to_send_must_be_readable_and_ahead(text: str, ok: bool) -> None:
    assert (parse_send_at(text, utc(2026, 12, 1, 10, 0), MADRID) is not None) is ok


class FakeClock:
    """Monotonic time the test moves; asyncio.sleep is replaced by advancing it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("rate", [30, 1000])
def test_the_pace_never_puts_more_than_the_rate_in_a_sliding_second(rate: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = RateLimiter(rate, clock)

    async def advance(seconds: float) -> None:
        clock.now += max(seconds, 0.0) + 0.0003  # timers fire a little late

    monkeypatch.setattr(asyncio, "sleep", advance)
    starts = []

    async def run() -> None:
        for _ in range(rate * 5):
            await limiter.wait_turn()
            starts.append(clock.now)

    asyncio.run(run())
    for index in range(rate, len(starts)):
        assert starts[index] - starts[index - rate] >= 1.0 + limiter.margin - 1e-9
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    assert achieved > 0.95 * rate


def test_two_messages_to_one_chat_go_an_interval_apart() -> None:
    queue = ReadyQueue(1.0)
    notice = OutboxItem(1, 42, 0, 10, {"text": "aviso"}, source="notice")
    answer_later = OutboxItem(7, 42, 0, 0, {"text": "respuesta"})
    queue.put(notice)
    queue.put(answer_later)
    first = queue.pop_ready(0.0)
    assert first is not None and first.id == 7  # personal first
    queue.sent(42, 0.0)
    assert queue.pop_ready(0.5) is None  # the chat's interval has not passed
    second = queue.pop_ready(1.0 + PACING_MARGIN)
    assert second is not None and second.id == 1
