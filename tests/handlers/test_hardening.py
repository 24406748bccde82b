"""The foundation's defects, each pinned by a flow on real SQLite: failures that must be retried, poison updates,
self-approval, the one permission table, escaping exactly once, and identifiers that do not fit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.domain.permissions import Action, can_somewhere
from bot.fakeapi.entities import parse_html
from handlers import ROUTES, Dispatcher, UpdateNotApplied
from handlers.context import Context, Flow
from handlers.routing import Command, Routes
from tests.handlers.harness import Harness, Person, buttons, command_update, make_staff, texts

LUCIA = Person(502, "Lucía", "es")
AMINA = Person(501, "Amina", "ar")
CARMEN = Person(601, "Carmen", "es")
PABLO = Person(602, "Pablo", "en")
ROOT = Path(__file__).resolve().parents[2]


def tr(bot: Harness, locale: str, message: str, **values: object) -> str:
    return bot.catalogs.translator(locale).gettext(message, **values)


def with_command(name: str, handler) -> Routes:  # type: ignore[no-untyped-def]
    """The real routes plus one test conversation (how a failing handler is staged without mocking ours)."""
    return Routes(
        commands={**ROUTES.commands, name: Command(handler, Action.SEE_HELP)},
        callbacks=ROUTES.callbacks,
        step_inputs=ROUTES.step_inputs,
    )


# ---------------------------------------------------------------- failures: retried, or skipped as poison


async def test_a_transient_database_error_rolls_back_and_the_update_is_applied_when_delivered_again(bot):
    await bot.register(LUCIA)
    calls = []

    async def flaky(ctx: Context) -> None:
        calls.append(1)
        await ctx.go(Flow.LEAVE, Flow.LEAVE)  # a write that must not survive the failure
        if len(calls) == 1:
            raise OperationalError("UPDATE conversation ...", {}, Exception("database is locked"))
        ctx.say("ok")

    bot.dispatcher = Dispatcher(bot.services, with_command("flaky", flaky))
    update = command_update(LUCIA, "/flaky", 7001)
    with pytest.raises(UpdateNotApplied) as raised:
        await bot.feed(update)
    assert raised.value.transient
    assert await bot.scalar("SELECT count(*) FROM processed_update WHERE update_id = 7001") == 0
    assert await bot.scalar("SELECT flow FROM conversation WHERE chat_id = 502") == ""
    # Telegram delivers it again (the batch was not confirmed): now it is applied, once.
    assert texts(await bot.feed(update)) == "ok"
    assert await bot.feed(update) == []
    assert await bot.rows("SELECT outcome FROM processed_update WHERE update_id = 7001") == [("applied",)]
    assert len(calls) == 2


async def test_a_poison_update_is_recorded_as_failed_with_an_apology_in_the_persons_language(bot):
    await bot.register(AMINA, locale="ar")
    calls = []

    async def broken(ctx: Context) -> None:
        calls.append(1)
        await ctx.go(Flow.LEAVE, Flow.LEAVE)
        raise ValueError("a bug")

    bot.dispatcher = Dispatcher(bot.services, with_command("broken", broken))
    update = command_update(AMINA, "/broken", 7002)
    replies = await bot.feed(update)
    assert texts(replies) == tr(
        bot,
        "ar",
        "😔 Something went wrong on our side with your last message, and I could not handle it. "
        "Please try again in a moment, or send /help.",
    )
    assert len(calls) == 3  # tried three times, failing the same way
    assert await bot.rows("SELECT outcome FROM processed_update WHERE update_id = 7002") == [("failed",)]
    assert await bot.scalar("SELECT flow FROM conversation WHERE chat_id = 501") == ""
    # Skipped for good: a redelivery changes nothing and sends nothing.
    assert await bot.feed(update) == []
    assert len(calls) == 3
    # The chat goes on.
    assert "/language" in texts(await bot.send(AMINA, "/help"))


async def test_an_update_failing_differently_each_time_is_left_for_redelivery(bot):
    await bot.register(LUCIA)
    calls = []

    async def erratic(ctx: Context) -> None:
        calls.append(1)
        raise RuntimeError(f"failure number {len(calls)}")

    bot.dispatcher = Dispatcher(bot.services, with_command("erratic", erratic))
    with pytest.raises(UpdateNotApplied) as raised:
        await bot.feed(command_update(LUCIA, "/erratic", 7003))
    assert not raised.value.transient
    assert await bot.scalar("SELECT count(*) FROM processed_update WHERE update_id = 7003") == 0


# ---------------------------------------------------------------- nobody decides on their own request


async def test_a_community_manager_never_approves_their_own_request(bot):
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    replies = await bot.send(PABLO, "/leave")
    await bot.tap(PABLO, next(d for _, d in buttons(replies) if d.startswith("leave:")))
    await bot.register(PABLO, locale="en")  # applies again, keeping the barrio grant
    membership = await bot.scalar(
        "SELECT m.id FROM membership m JOIN resident r ON r.id = m.resident_id "
        "WHERE r.telegram_user_id = 602 AND m.status = 'pending'"
    )
    # The request goes to the delegate, not to the applicant.
    assert await bot.outbox(PABLO.user_id) == []
    assert len(await bot.outbox(CARMEN.user_id)) == 1
    # /pending does not list it, and a tap on a (forged) button is refused.
    assert texts(await bot.send(PABLO, "/pending")) == tr(bot, "en", "There are no pending requests. 🎉")
    replies = await bot.tap(PABLO, f"ap:{membership}")
    assert [r.toast for r in replies if r.toast] == [
        bot.catalogs.translator("en").plain("You cannot decide on your own request.")
    ]
    assert await bot.scalar("SELECT status FROM membership WHERE id = :m", m=membership) == "pending"
    assert await bot.scalar("SELECT decided_by FROM membership WHERE id = :m", m=membership) is None
    # Another approver can.
    await bot.tap(CARMEN, f"ap:{membership}")
    assert await bot.scalar("SELECT status FROM membership WHERE id = :m", m=membership) == "verified"


# ---------------------------------------------------------------- one permission table for every route


@pytest.mark.parametrize("name", sorted(ROUTES.commands))
async def test_every_command_asks_the_permission_table(bot, name):
    """A resident without roles, and somebody not registered, reach a command's handler exactly when the table
    allows its action somewhere; otherwise they get a refusal and nothing changes."""
    await bot.register(LUCIA)
    route = ROUTES.commands[name]
    for who, grants in ((LUCIA, "resident"), (Person(777, "Nadie"), "nobody")):
        before = await bot.dump()
        replies = await bot.send(who, f"/{name}")
        registered = grants == "resident"
        from bot.domain.permissions import resident_grant

        actions = route.action if isinstance(route.action, tuple) else (route.action,)
        allowed = any(can_somewhere([resident_grant(None)] if registered else [], one) for one in actions)
        refusals = {
            tr(bot, "es", "You are not allowed to do that."),
            tr(bot, "es", "You are not registered yet. Send /start to join your circle."),
        }
        if route.refusal:
            refusals.add(tr(bot, "es", route.refusal))
        refused = texts(replies) in refusals
        assert refused is not allowed, f"/{name} for {grants}: {texts(replies)!r}"
        if refused:
            changed = set((await bot.dump()).splitlines()) ^ set(before.splitlines())
            assert all("processed" in row or '"' + str(who.user_id) + '"' in row for row in changed)


def test_handlers_state_intent_and_never_assign_to_stored_rows():
    """Handlers change rows only through intent-named storage methods: the only attributes they assign are
    their own context's."""
    offenders = []
    for path in sorted((ROOT / "handlers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                continue
            for target in targets:
                if isinstance(target, ast.Attribute) and not (
                    isinstance(target.value, ast.Name) and target.value.id in ("ctx", "self")
                ):
                    offenders.append(f"{path.name}:{node.lineno} {ast.unparse(target)}")
    assert offenders == []


# ---------------------------------------------------------------- escaping: once, everywhere


TRICKY = "Ana <b>\"Tía\"</b> & 'Co' <3º & 4º>"


def visible(html: str) -> str:
    """What Telegram shows for a message sent with parse_mode HTML (the fake server's parser)."""
    plain, _entities = parse_html(html, strict_ampersand=True)
    return plain


async def test_what_people_type_reaches_everyone_exactly_as_typed(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    tricky = Person(503, TRICKY, "es")
    await bot.send(tricky, "/start")
    await bot.tap(tricky, "lang:es")
    await bot.tap(tricky, "consent:yes")
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await bot.tap(tricky, f"barrio:{barrio}")
    await bot.tap(tricky, f"circle:{circle}")
    portal = 'Calle Amparo 5 <3º & 4º> "B"'
    await bot.send(tricky, portal)
    shown_to_staff = []
    for staff in (CARMEN, PABLO):
        shown_to_staff += [visible(m["text"]) for m in await bot.outbox(staff.user_id)]
        shown_to_staff += [visible(r.text) for r in await bot.send(staff, "/pending") if r.text]
    requests = [text for text in shown_to_staff if portal in text]
    assert len(requests) == 4, shown_to_staff  # request and /pending, to each approver
    assert all(TRICKY in text and "&amp;" not in text and "&lt;" not in text for text in requests)
    me = "\n".join(visible(r.text) for r in await bot.send(tricky, "/me"))
    assert TRICKY in me and portal in me
    # Approving shows the name to the approver, and updates the other approver's copy, escaped once.
    approve = next(d for _, d in buttons(await bot.send(CARMEN, "/pending")) if d.startswith("ap:"))
    replies = await bot.tap(CARMEN, approve)
    assert TRICKY in visible(texts(replies))


async def test_grant_arguments_are_echoed_escaped_once(bot):
    admin = Person(900, "Admin")
    await make_staff(bot, admin, "admin", None)
    replies = await bot.send(admin, "/grant 502 delegate <b>x&y</b>")
    assert visible(texts(replies)) == tr(
        bot, "es", "There is no circle with the code {code}.", code="<b>x&y</b>"
    ).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# ---------------------------------------------------------------- identifiers that do not fit


@pytest.mark.parametrize("user_id", ["12345678901234567890123", "-5", "0", "12ab", "٣٤٥"])
async def test_grant_refuses_a_user_id_that_cannot_be_one(bot, user_id):
    admin = Person(900, "Admin")
    await make_staff(bot, admin, "admin", None)
    replies = await bot.send(admin, f"/grant {user_id} delegate emb-plaza-lavapies")
    assert texts(replies) == tr(bot, "es", "{value} is not a Telegram user id (a positive number).", value=user_id)
    assert bot.dispatcher.failures == 0
