"""Property test: random update sequences never crash the dispatcher nor corrupt state."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.base import Incoming, IncomingKind, Reply
from bot.domain.residents import ACTIVE_MEMBERSHIP, MembershipStatus
from handlers import ROUTES
from handlers.account import LeaveStep
from handlers.contact import WriteStep
from handlers.context import Flow
from handlers.poll_wizard import PollStep
from handlers.polls import ReceiptStep, RevoteStep
from handlers.privacy import ForgetStep
from handlers.proposals import ProposeStep
from handlers.registration import Step
from handlers.settings import LanguageStep
from storage.db import Database
from tests.conftest import open_seeded
from tests.handlers.harness import Harness

USERS = [(11, "Ana", "es"), (12, "عمر", "ar"), (13, "Zoë\u200b", None)]
CALLBACK_ACTIONS = [
    "lang:es",
    "lang:ar",
    "lang:en",
    "lang:zz",
    "consent:yes",
    "consent:no",
    "barrios",
    "nobld",
    "stay",
    "forget:yes",
    "forget:no",
]

callback_data = st.one_of(
    st.sampled_from(CALLBACK_ACTIONS),
    st.builds(
        lambda a, n: f"{a}:{n}",
        st.sampled_from(["barrio", "circle", "bld", "ap", "rj", "leave", "contact", "answer"]),
        st.integers(0, 40),
    ),
    st.text(max_size=80),
)
command = st.builds(
    lambda c, a: f"/{c} {a}".strip(),
    st.sampled_from([*ROUTES.commands, "nope", "START"]),
    st.one_of(st.just(""), st.text(max_size=20)),
)


@st.composite
def incoming(draw: st.DrawFn, update_id: int) -> Incoming:
    user_id, name, lang = draw(st.sampled_from(USERS))
    chat_type = draw(st.sampled_from(["private"] * 8 + ["group"]))
    base = {
        "update_id": update_id,
        "chat_id": user_id if chat_type == "private" else -5,
        "user_id": user_id,
        "first_name": name,
        "language_code": lang,
        "chat_type": chat_type,
        "message_id": draw(st.integers(1, 9)),
    }
    kind = draw(st.sampled_from(list(IncomingKind)))
    if kind is IncomingKind.COMMAND:
        text = draw(command)
        head, _, args = text.partition(" ")
        return Incoming(kind=kind, text=text, command=head[1:].lower(), args=args, **base)
    if kind is IncomingKind.CALLBACK:
        return Incoming(kind=kind, callback_id="q", callback_data=draw(callback_data), **base)
    if kind is IncomingKind.LOCATION:
        return Incoming(
            kind=kind,
            latitude=draw(st.floats(-100, 100, allow_nan=False)),
            longitude=draw(st.floats(-200, 200, allow_nan=False)),
            **base,
        )
    return Incoming(kind=kind, text=draw(st.text(max_size=300)), **base)


@st.composite
def update_sequences(draw: st.DrawFn) -> list[Incoming]:
    count = draw(st.integers(1, 25))
    updates = [draw(incoming(1000 + i)) for i in range(count)]
    # Redeliveries: some updates arrive twice.
    repeats = draw(st.lists(st.sampled_from(updates), max_size=3))
    return updates + repeats


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "vecinos.db"

    async def build() -> None:
        db = await open_seeded(f"sqlite+aiosqlite:///{path}")
        await db.dispose()

    asyncio.run(build())
    return path


async def check_invariants(h: Harness) -> None:
    assert h.dispatcher.failures == 0
    active = await h.rows(
        "SELECT resident_id, count(*) FROM membership WHERE status IN ('pending', 'verified') "
        "GROUP BY resident_id HAVING count(*) > 1"
    )
    assert active == [], "a resident has two active memberships"
    assert await h.scalar("SELECT count(*) FROM membership WHERE resident_id IS NULL AND status != 'erased'") == 0
    statuses = {row[0] for row in await h.rows("SELECT DISTINCT status FROM membership")}
    assert statuses <= {s.value for s in MembershipStatus}
    steps = {""} | {s.value for enum in (Step, LeaveStep, WriteStep, ForgetStep, LanguageStep, PollStep, RevoteStep,
                                         ReceiptStep, ProposeStep) for s in enum}  # fmt: skip
    for flow, step in await h.rows("SELECT flow, step FROM conversation"):
        Flow(flow)
        assert step in steps
    for (payload,) in await h.rows("SELECT payload FROM outbox"):
        import json

        Reply.from_dict(json.loads(payload) if isinstance(payload, str) else payload)
    pending_without_reminder = await h.scalar(
        "SELECT count(*) FROM membership WHERE status = 'pending' AND remind_at IS NULL"
    )
    assert pending_without_reminder == 0
    assert ACTIVE_MEMBERSHIP


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(sequence=update_sequences())
def test_random_update_sequences_never_crash_or_corrupt(
    template_db: Path, tmp_path: Path, sequence: list[Incoming]
) -> None:
    async def scenario() -> None:
        path = tmp_path / f"db-{id(sequence)}.db"
        shutil.copy(template_db, path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            h = Harness(db)
            seen: set[int] = set()
            for update in sequence:
                replies = await h.feed(update)
                if update.update_id in seen:
                    assert replies == []
                seen.add(update.update_id)
            await check_invariants(h)
        finally:
            await db.dispose()
            path.unlink(missing_ok=True)

    asyncio.run(scenario())
