"""A polled update read as JSON means exactly what aiogram's validated Update means (the lean path)."""

from __future__ import annotations

import pytest
from aiogram.types import Update

from bot.channels.runtime import BotApiJson, incoming_from_update

USER = {"id": 42, "is_bot": False, "first_name": "Amina", "language_code": "ar"}
CHAT = {"id": 42, "type": "private", "first_name": "Amina"}


def message(**fields: object) -> dict:
    return {"message_id": 7, "date": 1764600000, "chat": CHAT, "from": USER, **fields}


UPDATES = [
    {"update_id": 1, "message": message(text="hola")},
    {
        "update_id": 2,
        "message": message(text="/start abc123", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    },
    {"update_id": 3, "edited_message": message(text="corregido", edit_date=1764600100)},
    {"update_id": 4, "message": message(location={"latitude": 40.4089, "longitude": -3.7009})},
    {
        "update_id": 5,
        "message": message(
            photo=[
                {"file_id": "s", "file_unique_id": "s", "width": 90, "height": 90},
                {"file_id": "L", "file_unique_id": "L", "width": 800, "height": 800},
            ],
            caption="el contenedor",
        ),
    },
    {"update_id": 6, "message": message(document={"file_id": "d", "file_unique_id": "d", "file_name": "acta.pdf"})},
    {
        "update_id": 7,
        "callback_query": {
            "id": "cb1",
            "from": USER,
            "chat_instance": "x",
            "data": "lang:ar",
            "message": message(text="¿Idioma?"),
        },
    },
    {
        "update_id": 8,
        "callback_query": {
            "id": "cb2",
            "from": USER,
            "chat_instance": "x",
            "data": "pv:1:0",
            "message": {"message_id": 9, "date": 0, "chat": CHAT},
        },
    },
    {
        "update_id": 9,
        "message": message(
            sticker={
                "file_id": "st",
                "file_unique_id": "st",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        ),
    },
    {
        "update_id": 10,
        "my_chat_member": {
            "chat": CHAT,
            "from": USER,
            "date": 1,
            "old_chat_member": {"status": "member", "user": USER},
            "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
        },
    },
]


@pytest.mark.parametrize("raw", UPDATES, ids=lambda raw: str(raw["update_id"]))
def test_json_and_aiogram_models_give_the_same_incoming(raw):
    assert incoming_from_update(BotApiJson(raw), "VecinosBot") == incoming_from_update(
        Update.model_validate(raw), "VecinosBot"
    )


def test_a_missing_field_reads_as_none_and_from_as_from_user():
    view = BotApiJson({"update_id": 3, "message": message(text="x")})
    assert view.callback_query is None and view.message.from_user.first_name == "Amina"
