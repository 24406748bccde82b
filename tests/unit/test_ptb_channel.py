"""The PTB adapter: the same Incoming as aiogram for the same JSON, and its primitives over real HTTP."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiogram.types
import pytest
import telegram
from telegram import error as tg_error
from telegram.warnings import PTBDeprecationWarning

from bot.channels import aiogram_channel
from bot.channels.base import Button, IncomingKind, Rejected, RetryLater, TransientFailure, Unreachable
from bot.channels.ptb_channel import PtbChannel, _call, make_ptb_bot, to_incoming
from bot.channels.runtime import parse_command
from bot.fakeapi.server import FakeTelegram, start_fake_server
from bot.i18n import Catalogs

USERNAME = "vecinos_bot"
TOKEN = "424242:TEST-ptb-channel"
USER = 501
DATE = 1_700_000_000  # a date of 0 would make the message "inaccessible" in both frameworks

# Only for Update.de_json: building a Bot makes no request.
OFFLINE_BOT = telegram.Bot("123:ABC")


def _user(user_id: int = USER, **extra: Any) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Lucía", **extra}


def _private(user_id: int = USER) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Lucía"}


def _message(content: dict[str, Any], *, sender: bool = True, chat: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": 7, "date": DATE, "chat": chat or _private(), **content}
    if sender:
        message["from"] = _user(language_code="es")
    return message


GROUP = {"id": -1001, "type": "supergroup", "title": "Vecinos de Lavapiés"}
PHOTO_SIZES = [
    {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
    {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853},
]

UPDATES: dict[str, dict[str, Any]] = {
    "text": {"update_id": 1, "message": _message({"text": "hola, vecinos"})},
    "command with args": {"update_id": 2, "message": _message({"text": "/Report  calle Mayor 3 "})},
    "command for us by name": {"update_id": 3, "message": _message({"text": f"/help@{USERNAME.upper()}"})},
    "command for another bot": {"update_id": 4, "message": _message({"text": "/START@OtherBot"})},
    "not a command name": {"update_id": 5, "message": _message({"text": "/ñandú"})},
    "lone slash": {"update_id": 6, "message": _message({"text": "/"})},
    "callback with message": {
        "update_id": 7,
        "callback_query": {
            "id": "cb-1",
            "from": _user(language_code="ar"),
            "chat_instance": "ci",
            "data": "report:12",
            "message": {"message_id": 33, "date": DATE, "chat": _private(), "text": "¿Confirmas?"},
        },
    },
    "callback on an inaccessible message": {
        "update_id": 8,
        "callback_query": {
            "id": "cb-2",
            "from": _user(),
            "chat_instance": "ci",
            "data": "x",
            "message": {"message_id": 34, "date": 0, "chat": GROUP},
        },
    },
    "callback without message": {
        "update_id": 9,
        "callback_query": {"id": "cb-3", "from": _user(), "chat_instance": "ci", "data": "inline"},
    },
    "edited message": {"update_id": 10, "edited_message": _message({"text": "hola (editado)", "edit_date": DATE})},
    "edited caption": {"update_id": 11, "edited_message": _message({"photo": PHOTO_SIZES, "edit_date": DATE})},
    "location": {"update_id": 12, "message": _message({"location": {"latitude": 40.4086, "longitude": -3.7016}})},
    "photo with caption": {"update_id": 13, "message": _message({"photo": PHOTO_SIZES, "caption": "farola rota"})},
    "photo without caption": {"update_id": 14, "message": _message({"photo": PHOTO_SIZES})},
    "document with caption": {
        "update_id": 24,
        "message": _message(
            {"document": {"file_id": "doc-1", "file_unique_id": "d1", "file_name": "bando.pdf"}, "caption": "bando"}
        ),
    },
    "sticker": {
        "update_id": 15,
        "message": _message(
            {
                "sticker": {
                    "file_id": "st",
                    "file_unique_id": "stu",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                }
            }
        ),
    },
    "voice": {
        "update_id": 16,
        "message": _message({"voice": {"file_id": "v", "file_unique_id": "vu", "duration": 3}}),
    },
    "group message": {"update_id": 17, "message": _message({"text": "/start@vecinos_bot hola"}, chat=GROUP)},
    "message without from": {"update_id": 18, "message": _message({"text": "anónimo"}, sender=False, chat=GROUP)},
    "chat_member update": {
        "update_id": 19,
        "chat_member": {
            "chat": GROUP,
            "from": _user(),
            "date": DATE,
            "old_chat_member": {"status": "left", "user": _user(502)},
            "new_chat_member": {"status": "member", "user": _user(502)},
        },
    },
    "channel post": {"update_id": 20, "channel_post": _message({"text": "aviso"}, sender=False, chat=GROUP)},
}


@pytest.mark.parametrize("raw", list(UPDATES.values()), ids=list(UPDATES))
@pytest.mark.parametrize("username", [USERNAME, None], ids=["named", "unnamed"])
def test_to_incoming_matches_aiogram(raw: dict[str, Any], username: str | None) -> None:
    ptb = to_incoming(telegram.Update.de_json(raw, OFFLINE_BOT), username)
    reference = aiogram_channel.to_incoming(aiogram.types.Update.model_validate(raw), username)
    assert ptb == reference
    if ptb is not None:
        # Equality alone would accept PTB's ChatType enum (a str subclass); Incoming must hold plain values.
        assert type(ptb.chat_type) is str
        assert type(ptb.kind) is IncomingKind


def test_the_table_covers_every_kind() -> None:
    kinds = {
        incoming.kind
        for raw in UPDATES.values()
        if (incoming := to_incoming(telegram.Update.de_json(raw, OFFLINE_BOT), USERNAME)) is not None
    }
    assert kinds == set(IncomingKind)


def test_a_few_conversions_in_detail() -> None:
    def convert(name: str) -> Any:
        return to_incoming(telegram.Update.de_json(UPDATES[name], OFFLINE_BOT), USERNAME)

    command = convert("command with args")
    assert (command.kind, command.command, command.args) == (IncomingKind.COMMAND, "report", "calle Mayor 3")
    assert convert("command for another bot").kind is IncomingKind.TEXT
    photo = convert("photo with caption")
    assert (photo.photo_file_id, photo.text) == ("large", "farola rota")
    document = convert("document with caption")
    assert (document.kind, document.document_file_id, document.document_name) == (
        IncomingKind.DOCUMENT,
        "doc-1",
        "bando.pdf",
    )
    orphan = convert("callback without message")
    assert (orphan.chat_id, orphan.message_id, orphan.chat_type) == (USER, None, "private")
    assert convert("message without from").user_id == 0
    assert convert("chat_member update") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ("start", "")),
        ("/START@Vecinos_Bot  a b ", ("start", "a b")),
        ("/start@OtherBot", (None, "")),
        ("/", (None, "")),
        ("hola", (None, "")),
        ("/año", (None, "")),
        (None, (None, "")),
    ],
)
def test_parse_command(text: str | None, expected: tuple[str | None, str]) -> None:
    assert parse_command(text, USERNAME) == expected


# ---------------------------------------------------------------------- error mapping, without a server


async def _raising(exc: Exception) -> None:
    raise exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (tg_error.Forbidden("Forbidden: bot was blocked by the user"), Unreachable),
        (tg_error.BadRequest("Bad Request: chat not found"), Rejected),
        (tg_error.ChatMigrated(-1002), Rejected),
        (tg_error.TimedOut(), TransientFailure),
        (tg_error.NetworkError("Bad Gateway"), TransientFailure),
        (tg_error.Conflict("Conflict: terminated by other getUpdates request"), TransientFailure),
        (tg_error.InvalidToken(), TransientFailure),
        (tg_error.TelegramError("Invalid server response"), TransientFailure),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
async def test_call_maps_errors(exc: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught:
        await _call(_raising(exc))
    assert type(caught.value) is expected
    assert caught.value.__cause__ is exc


def _retry_after(seconds: int | timedelta) -> tg_error.RetryAfter:
    # RetryAfter.__init__ reads its own deprecated property, so PTB warns whenever it builds one (in its
    # request layer, before the adapter sees the error); only the adapter's own read is asserted quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return tg_error.RetryAfter(seconds)


@pytest.mark.parametrize("retry_after", [3, timedelta(seconds=1.5)], ids=["int", "timedelta"])
async def test_retry_after_is_seconds_without_a_warning(retry_after: int | timedelta) -> None:
    exc = _retry_after(retry_after)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RetryLater) as caught:
            await _call(_raising(exc))
    expected = retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
    assert caught.value.retry_after == expected


async def test_retry_after_as_timedelta_when_ptb_timedelta_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    with pytest.raises(RetryLater) as caught:
        await _call(_raising(_retry_after(4)))
    assert caught.value.retry_after == 4.0


# ---------------------------------------------------------------------- primitives against the fake server


@dataclass
class Env:
    fake: FakeTelegram
    channel: PtbChannel


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    fake, runner, url = await start_fake_server()
    channel = PtbChannel(make_ptb_bot(TOKEN, url), None, Catalogs())
    try:
        yield Env(fake, channel)
    finally:
        await channel.close()
        await runner.cleanup()


async def test_fetch_me_and_webhooks(env: Env) -> None:
    assert await env.channel.fetch_me() == "vecinos_424242_bot"
    assert await env.channel.fetch_me() == "vecinos_424242_bot"  # a second call runs getMe again
    await env.channel.install_webhook("https://example.org/hook", "s3cret")
    state = env.fake.state(TOKEN)
    assert state["webhook"]["url"] == "https://example.org/hook"
    assert state["allowed_updates"] == ["message", "edited_message", "callback_query"]
    [request] = env.fake.requests(TOKEN, "setWebhook")
    assert request["params"]["secret_token"] == "s3cret"
    await env.channel.remove_webhook()
    assert env.fake.state(TOKEN)["webhook"]["url"] == ""


async def test_send_with_buttons_then_edit(env: Env) -> None:
    env.fake.register_user(TOKEN, USER, open_chat=True, first_name="X")
    await env.channel.send_text(USER, "<b>¿Confirmas?</b>", [[Button("Sí", "yes"), Button("No", "no")]])
    [sent] = env.fake.bot_messages(TOKEN, USER)
    assert sent["plain_text"] == "¿Confirmas?"  # HTML was parsed
    assert sent["parse_mode"] == "HTML"
    buttons = sent["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in buttons] == [["yes", "no"]]

    await env.channel.edit_text(USER, sent["message_id"], "<i>Hecho</i>", [])
    [edited] = env.fake.bot_messages(TOKEN, USER)
    assert (edited["plain_text"], edited["edits"], edited["reply_markup"]) == ("Hecho", 1, None)

    with pytest.raises(Rejected) as caught:
        await env.channel.edit_text(USER, sent["message_id"], "<i>Hecho</i>", [])
    assert "not modified" in str(caught.value)


async def test_send_document(env: Env) -> None:
    env.fake.register_user(TOKEN, USER, open_chat=True, first_name="X")
    await env.channel.send_document(USER, b"id;calle\n1;Mayor\n", "informe.csv", "<b>Informe</b>")
    [sent] = env.fake.bot_messages(TOKEN, USER)
    assert sent["plain_text"] == "Informe"
    [request] = env.fake.requests(TOKEN, "sendDocument")
    assert request["params"]["document"] == {"filename": "informe.csv", "size": 17}
    assert request["params"]["parse_mode"] == "HTML"


async def test_unknown_callback_is_rejected(env: Env) -> None:
    # PTB drops "Bad Request: " and capitalize()s the rest: "Query is too old and ... query id is invalid".
    with pytest.raises(Rejected, match=r"(?i)query is too old"):
        await env.channel.answer_callback("no-such-query", "gracias")


async def test_blocked_user_is_unreachable(env: Env) -> None:
    env.fake.register_user(TOKEN, USER, open_chat=True, first_name="X")
    env.fake.set_blocked(TOKEN, USER)
    with pytest.raises(Unreachable, match="blocked"):
        await env.channel.send_text(USER, "hola", [])


# PTB warns from RetryAfter.__init__ (see _retry_after above), inside its request layer.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_is_retry_later(env: Env) -> None:
    env.fake.register_user(TOKEN, USER, open_chat=True, first_name="X")
    env.fake.add_failure(TOKEN, "sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryLater) as caught:
        await env.channel.send_text(USER, "hola", [])
    assert caught.value.retry_after == 3.0
    await env.channel.send_text(USER, "hola", [])  # the failure was one-off
    assert len(env.fake.bot_messages(TOKEN, USER)) == 1


async def test_server_error_is_transient(env: Env) -> None:
    env.fake.register_user(TOKEN, USER, open_chat=True, first_name="X")
    env.fake.add_failure(TOKEN, "sendMessage", 502)
    with pytest.raises(TransientFailure, match="Bad Gateway"):
        await env.channel.send_text(USER, "hola", [])


async def test_rejected_token_is_not_logged(env: Env) -> None:
    env.fake.add_failure(TOKEN, "getMe", 401, "Unauthorized")
    with pytest.raises(TransientFailure) as caught:
        await env.channel.fetch_me()
    assert "Unauthorized" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.__cause__)
    assert await env.channel.fetch_me() == "vecinos_424242_bot"  # initializing is retried


async def test_fetch_updates_and_confirm(env: Env) -> None:
    first = env.fake.inject_message(TOKEN, USER, "hola", first_name="X")
    second = env.fake.inject_message(TOKEN, USER, "/start", first_name="X")
    env.channel.username = await env.channel.fetch_me()
    updates = await env.channel.fetch_updates(None, 0)
    assert isinstance(updates, list)
    assert [env.channel.update_id(u) for u in updates] == [first["update_id"], second["update_id"]]
    incoming = [env.channel.to_incoming(u) for u in updates]
    assert [(i.kind, i.text, i.chat_id, i.first_name) for i in incoming] == [
        (IncomingKind.TEXT, "hola", USER, "X"),
        (IncomingKind.COMMAND, "/start", USER, "X"),
    ]
    assert env.fake.state(TOKEN)["allowed_updates"] == ["message", "edited_message", "callback_query"]

    assert await env.channel.fetch_updates(second["update_id"] + 1, 0) == []
    state = env.fake.state(TOKEN)
    assert (state["confirmed_offset"], state["pending_updates"]) == (second["update_id"] + 1, 0)


async def test_parse_update_from_webhook_json(env: Env) -> None:
    update = env.channel.parse_update(UPDATES["callback with message"])
    assert env.channel.update_id(update) == 7
    assert env.channel.to_incoming(update).callback_data == "report:12"


async def test_set_commands_per_language(env: Env) -> None:
    await env.channel.set_commands([("start", "Empezar"), ("help", "Ayuda")], None)
    await env.channel.set_commands([("start", "Start")], "en")
    commands = env.fake.state(TOKEN)["commands"]["default"]
    assert commands[""] == [{"command": "start", "description": "Empezar"}, {"command": "help", "description": "Ayuda"}]
    assert commands["en"] == [{"command": "start", "description": "Start"}]


async def test_prepare_registers_every_menu(env: Env) -> None:
    await env.channel.install_webhook("https://example.org/hook", "s3cret")
    await env.channel.prepare(polling=True)
    assert env.channel.username == "vecinos_424242_bot"
    state = env.fake.state(TOKEN)
    assert state["webhook"]["url"] == ""  # polling and a webhook exclude each other
    languages = set(state["commands"]["default"])
    assert "" in languages
    assert len(languages) > 1
