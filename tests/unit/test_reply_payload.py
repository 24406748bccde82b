"""Replies survive the outbox and the reply journal: to_dict is JSON-safe and from_dict rebuilds the reply."""

from __future__ import annotations

import json

import pytest

from bot.channels.base import Button, Reply


@pytest.mark.parametrize(
    "reply",
    [
        Reply("hola"),
        Reply("<b>Resultados</b>", buttons=[[Button("Ver", "poll:3")]], photo_media="poll:3:chart"),
        Reply("Gráfico", photo_upload=b"\x89PNG\r\n\x1a\n\x00\xff", filename="resultados.png"),
        Reply("Foto", photo="AgACAgQ-file-id"),
        Reply("", document=b"id;calle\n", filename="informe.csv"),
        Reply("editado", edit_message_id=12, or_send=True, location=(40.4, -3.7)),
    ],
    ids=["text", "stored image", "photo upload", "photo by file id", "document", "edit and location"],
)
def test_a_reply_round_trips_through_json(reply: Reply) -> None:
    payload = json.loads(json.dumps(reply.to_dict()))
    assert Reply.from_dict(payload) == reply


def test_a_stored_image_is_named_by_its_key_only() -> None:
    payload = Reply("<b>Resultados</b>", photo_media="poll:3:chart").to_dict()
    assert payload == {"text": "<b>Resultados</b>", "photo_media": "poll:3:chart"}
