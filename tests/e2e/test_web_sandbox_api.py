"""The web sandbox's JSON API over HTTP: what the page is given to draw, and what it injects as the user, on a
real fake Bot API server (the bot's side played with Bot API calls, so every kind of message appears)."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.fakeapi.server import FakeTelegram
from bot.fakeapi.state import Upload, image_size
from bot.sandbox.web import start_web_sandbox

TOKEN = "123456:SANDBOX-local"
AMINA = 1002


def tiny_png(width: int = 2, height: int = 3) -> bytes:
    """A valid PNG of this size (one colour), as a photo from a resident or a chart from the bot."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x40\x80\xc0" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = tiny_png()


@pytest.fixture
async def page() -> AsyncIterator[tuple[FakeTelegram, aiohttp.ClientSession, str]]:
    """The page's backend on a free port over an in-process fake server, and an HTTP session for it."""
    fake = FakeTelegram()
    _sandbox, runner, url = await start_web_sandbox(fake, TOKEN, None, "127.0.0.1", 0)
    async with aiohttp.ClientSession() as session:
        yield fake, session, url
    await runner.cleanup()
    await fake.aclose()


async def bot_calls(fake: FakeTelegram, method: str, uploads: dict[str, Upload] | None = None, **params: Any) -> Any:
    """The bot's side: one Bot API call, which must succeed."""
    status, body = await fake.call(TOKEN, method, params, uploads)
    assert status == 200, body
    return body["result"]


async def chat(session: aiohttp.ClientSession, url: str, user_id: int = AMINA) -> dict[str, Any]:
    async with session.get(f"{url}api/chats/{user_id}") as resp:
        assert resp.status == 200
        return dict(await resp.json())


async def test_the_page_gets_safe_html_buttons_edits_media_and_locations(page):
    fake, session, url = page
    card = await bot_calls(
        fake,
        "sendMessage",
        chat_id=AMINA,
        text='<b>مرحبا</b> &lt;script&gt;x()&lt;/script&gt; <a href="javascript:x()">no</a>',
        parse_mode="HTML",
        reply_markup=json.dumps(
            {
                "inline_keyboard": [
                    [{"text": "✅", "callback_data": "ap:1"}, {"text": "Web", "url": "https://example.org/"}]
                ]
            }
        ),
    )
    await bot_calls(
        fake,
        "sendPhoto",
        {"photo": Upload("chart.png", PNG, "image/png")},
        chat_id=AMINA,
        photo="attach://photo",
        caption="<i>chart</i>",
        parse_mode="HTML",
    )
    await bot_calls(
        fake,
        "sendDocument",
        {"document": Upload("mydata.json", b'{"a": 1}', "application/json")},
        chat_id=AMINA,
        document="attach://document",
    )
    await bot_calls(fake, "sendLocation", chat_id=AMINA, latitude=40.4086, longitude=-3.7004)
    await bot_calls(
        fake,
        "sendMessage",
        chat_id=AMINA,
        text="Where?",
        reply_markup=json.dumps({"keyboard": [[{"text": "📍", "request_location": True}]], "resize_keyboard": True}),
    )
    before = await chat(session, url)
    await bot_calls(
        fake, "editMessageText", chat_id=AMINA, message_id=card["message_id"], text="<b>done</b>", parse_mode="HTML"
    )
    after = await chat(session, url)

    assert after["version"] != before["version"]
    text, photo, document, location, question = after["messages"]
    assert [m["id"] for m in after["messages"]] == [m["id"] for m in before["messages"]], "an edit is not a new message"
    assert before["messages"][0]["html"] == "<b>مرحبا</b> &lt;script&gt;x()&lt;/script&gt; <a>no</a>"
    assert before["messages"][0]["keyboard"] == "inline"
    assert before["messages"][0]["buttons"] == [
        [{"text": "✅", "callback_data": "ap:1"}, {"text": "Web", "url": "https://example.org/"}]
    ]
    assert text["html"] == "<b>done</b>" and text["edits"] == 1 and text["buttons"] == []
    assert photo["html"] == "<i>chart</i>"
    async with session.get(url + photo["photo"]) as resp:
        assert resp.content_type == "image/png" and await resp.read() == PNG
    assert document["document"]["name"] == "mydata.json"
    async with session.get(url + document["document"]["url"]) as resp:
        assert "attachment" in resp.headers["Content-Disposition"] and await resp.read() == b'{"a": 1}'
    assert location["location"] == {"latitude": 40.4086, "longitude": -3.7004}
    assert question["keyboard"] == "reply" and question["buttons"] == [[{"text": "📍", "request_location": True}]]


async def test_what_the_page_sends_reaches_the_bot_as_the_persona(page):
    fake, session, url = page
    async with session.post(f"{url}api/chats/{AMINA}/message", json={"text": "/start"}) as resp:
        assert resp.status == 200
    async with session.post(f"{url}api/chats/{AMINA}/location", json={"latitude": 40.41, "longitude": -3.70}) as resp:
        assert resp.status == 200
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="door.png", content_type="image/png")
    form.add_field("caption", "the broken door")
    async with session.post(f"{url}api/chats/{AMINA}/photo", data=form) as resp:
        assert resp.status == 200
    form = aiohttp.FormData()
    form.add_field("file", b"hello", filename="notes.txt", content_type="text/plain")
    async with session.post(f"{url}api/chats/{AMINA}/photo", data=form) as resp:
        assert resp.status == 200
    async with session.post(f"{url}api/chats/{AMINA}/location", json={"latitude": 200, "longitude": 0}) as resp:
        assert resp.status == 400
    async with session.post(f"{url}api/chats/{AMINA}/callback", json={"message_id": 99, "data": "x"}) as resp:
        assert resp.status == 404
    async with session.post(f"{url}api/chats/777/message", json={"text": "hi"}) as resp:
        assert resp.status == 404, "only personas of the page can write"

    updates = await bot_calls(fake, "getUpdates", timeout=0)
    messages = [u["message"] for u in updates]
    assert all(m["from"]["first_name"] == "Amina" and m["from"]["language_code"] == "ar" for m in messages)
    assert messages[0]["text"] == "/start" and messages[0]["entities"][0]["type"] == "bot_command"
    assert messages[1]["location"] == {"latitude": 40.41, "longitude": -3.70}
    assert messages[2]["caption"] == "the broken door"
    uploaded = fake.file_bytes(TOKEN, messages[2]["photo"][-1]["file_id"])
    assert uploaded.data == PNG and image_size(PNG) == (2, 3)
    assert messages[3]["document"]["file_name"] == "notes.txt"
    shown = (await chat(session, url))["messages"]
    assert [m["from_bot"] for m in shown] == [False] * 4 and shown[2]["photo"].startswith("api/files/")


async def test_a_persona_added_from_the_page_has_a_column_and_an_open_chat(page):
    fake, session, url = page
    async with session.post(f"{url}api/personas", json={"name": "  Rahim <b>", "language": "bn"}) as resp:
        added = await resp.json()
    assert added["name"] == "Rahim <b>" and added["language"] == "bn" and not added["rtl"]
    async with session.post(f"{url}api/personas", json={"name": "Fatima", "language": "ar"}) as resp:
        assert (await resp.json())["rtl"]
    async with session.post(f"{url}api/personas", json={"name": ""}) as resp:
        assert resp.status == 400
    async with session.get(f"{url}api/personas") as resp:
        names = [p["name"] for p in await resp.json()]
    assert names[:5] == ["Lucía", "Amina", "Delegada Carmen", "Gestor Pablo", "Agente Ruiz"]
    assert names[5:] == ["Rahim <b>", "Fatima"]
    assert added["user_id"] in fake.state(TOKEN)["known_chats"] or added["user_id"] in fake.get_bot(TOKEN).users
