"""The fake server at the HTTP level: PTB-style requests, the control API, webhooks and the HTML parser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.fakeapi.client import FakeTelegramClient, FakeTelegramError
from bot.fakeapi.entities import EntityParseError, parse_html
from bot.fakeapi.server import FakeTelegram

TOKEN = "123456:TEST-fakeapi"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client."""
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, api_url: str, method: str, token: str = TOKEN, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """POSTs one Bot API call; returns (HTTP status, JSON body)."""
    async with http.post(f"{api_url}/bot{token}/{method}", **kwargs) as resp:
        return resp.status, await resp.json()


async def test_get_me_with_empty_body_and_no_content_type(http: aiohttp.ClientSession, api_url: str) -> None:
    # PTB sends parameterless calls as an empty POST without Content-Type.
    async with http.post(f"{api_url}/bot{TOKEN}/getMe", skip_auto_headers=["Content-Type"]) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["ok"] is True
    assert body["result"]["id"] == 123456
    status, body = await call(http, api_url, "deleteWebhook", skip_auto_headers=["Content-Type"])
    assert (status, body) == (200, {"ok": True, "result": True})


async def test_errors_carry_matching_http_status(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    status, body = await call(http, api_url, "getMe", token="not-a-token")
    assert status == 401 and body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    status, body = await call(http, api_url, "sendTelepathy")
    assert status == 404 and body["description"] == "Not Found: method not found"
    status, body = await call(http, api_url, "sendMessage", data={"chat_id": "1", "text": "x"})
    assert status == 400 and body["error_code"] == 400 and body["description"] == "Bad Request: chat not found"
    await tg.send_message(1, "hi")
    await tg.block(1)
    status, body = await call(http, api_url, "sendMessage", data={"chat_id": "1", "text": "x"})
    assert status == 403 and body["error_code"] == 403
    await tg.fail("sendMessage", 429, retry_after=2)
    status, body = await call(http, api_url, "sendMessage", data={"chat_id": "1", "text": "x"})
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }
    await tg.fail("getMe", 502, "Bad Gateway")
    status, body = await call(http, api_url, "getMe")
    assert status == 502 and body["description"] == "Bad Gateway"


async def test_urlencoded_json_fields_and_case_insensitive_method(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    await tg.send_message(3, "hi")
    markup = {"inline_keyboard": [[{"text": "Sí", "callback_data": "yes"}]]}
    form = {
        "chat_id": "3",
        "text": "¿Vienes?",
        "reply_markup": json.dumps(markup),
        "reply_parameters": json.dumps({"message_id": 1}),
        "link_preview_options": json.dumps({"is_disabled": True}),
    }
    status, body = await call(http, api_url, "SENDMESSAGE", data=form)
    assert status == 200, body
    result = body["result"]
    assert result["reply_markup"] == markup
    assert result["reply_to_message"]["text"] == "hi"
    [request] = await tg.requests("sendmessage")
    assert request["method"] == "sendMessage"
    assert request["params"]["reply_markup"] == markup  # decoded from the JSON string
    assert request["params"]["chat_id"] == 3
    assert request["content_type"] == "application/x-www-form-urlencoded"
    status, body = await call(http, api_url, "sendMessage", json={"chat_id": 3, "text": "json body"})
    assert status == 200 and body["result"]["text"] == "json body"
    status, body = await call(http, api_url, "sendMessage", data={"chat_id": "3", "text": "x", "reply_markup": "{"})
    assert status == 400


async def test_get_is_accepted(http: aiohttp.ClientSession, api_url: str) -> None:
    async with http.get(f"{api_url}/bot{TOKEN}/getUpdates?timeout=0&limit=5") as resp:
        assert resp.status == 200
        assert (await resp.json())["result"] == []


async def test_ptb_style_multipart_upload(http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient) -> None:
    await tg.send_message(3, "hi")
    form = aiohttp.FormData()
    form.add_field("chat_id", "3")
    form.add_field("caption", "Foto")
    form.add_field("photo", b"\xff\xd8\xff\xe0fakejpeg", filename="photo.jpg", content_type="image/jpeg")
    status, body = await call(http, api_url, "sendPhoto", data=form)
    assert status == 200, body
    photo = body["result"]["photo"][-1]
    assert body["result"]["caption"] == "Foto"
    status, body = await call(http, api_url, "getFile", data={"file_id": photo["file_id"]})
    assert status == 200
    async with http.get(f"{api_url}/file/bot{TOKEN}/{body['result']['file_path']}") as resp:
        assert resp.status == 200
        assert await resp.read() == b"\xff\xd8\xff\xe0fakejpeg"
    async with http.get(f"{api_url}/file/bot{TOKEN}/photos/nope.jpg") as resp:
        assert resp.status == 404
    form = aiohttp.FormData()
    form.add_field("chat_id", "3")
    form.add_field("document", b"a,b\n1,2\n", filename="data.csv")
    status, body = await call(http, api_url, "sendDocument", data=form)
    assert status == 200, body
    assert body["result"]["document"]["file_name"] == "data.csv"
    form = aiohttp.FormData()
    form.add_field("chat_id", "3")
    form.add_field("photo", "attach://missing")
    form.add_field("other", b"x", filename="x.jpg")
    status, body = await call(http, api_url, "sendPhoto", data=form)
    assert status == 400 and "there is no photo" in body["description"]


async def test_control_messages_long_poll(http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient) -> None:
    await tg.send_message(4, "hi")
    waiter = asyncio.create_task(tg.messages(4, wait=2, timeout=3))
    await asyncio.sleep(0.05)
    for text in ("uno", "dos"):
        await call(http, api_url, "sendMessage", data={"chat_id": "4", "text": text})
    messages = await asyncio.wait_for(waiter, 2)
    assert [m["text"] for m in messages] == ["uno", "dos"]
    assert [m["text"] for m in await tg.messages(4, since=messages[0]["message_id"])] == ["dos"]
    assert await tg.messages(4, since=messages[-1]["message_id"], wait=1, timeout=0.1) == []
    assert await tg.messages(999) == []


async def test_control_injections(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient, fake: FakeTelegram
) -> None:
    sent = await tg.send_message(8, "hola", first_name="Amina", last_name="B", username="amina", language_code="ar")
    await tg.send_message(8, "hola de nuevo")  # the profile is remembered
    edited = await tg.edit_message(8, "hola (editado)", message_id=sent["message_id"])
    location = await tg.send_location(8, 40.4086, -3.7004)
    group = await tg.send_message(8, "en el grupo", chat_id=-100123, chat_type="supergroup", title="Vecinos Lavapiés")
    doc = await tg.send_document(8, "acta.txt", b"acta", caption="Acta")
    status, body = await call(http, api_url, "getUpdates", data={"timeout": "0"})
    updates = body["result"]
    assert [u["update_id"] for u in updates] == sorted(u["update_id"] for u in updates)
    first, second, edit, loc, grp, document = updates
    assert first["message"]["from"] == {
        "id": 8,
        "is_bot": False,
        "first_name": "Amina",
        "last_name": "B",
        "username": "amina",
        "language_code": "ar",
    }
    assert second["message"]["from"]["language_code"] == "ar"
    assert second["message"]["message_id"] == first["message"]["message_id"] + 1
    assert edit["edited_message"]["text"] == "hola (editado)"
    assert edit["edited_message"]["message_id"] == edited["message_id"] == sent["message_id"]
    assert edit["edited_message"]["edit_date"] >= edit["edited_message"]["date"] > 0
    assert loc["update_id"] == location["update_id"]
    assert loc["message"]["location"] == {"latitude": 40.4086, "longitude": -3.7004}
    assert grp["message"]["chat"] == {"id": -100123, "type": "supergroup", "title": "Vecinos Lavapiés"}
    assert grp["update_id"] == group["update_id"]
    assert document["message"]["document"]["file_id"] == doc["file_id"]
    assert await tg.file_bytes(doc["file_id"]) == b"acta"
    # The group became known, so the bot can post there; the user's private chat is known too.
    status, _ = await call(http, api_url, "sendMessage", data={"chat_id": "-100123", "text": "hola grupo"})
    assert status == 200
    status, _ = await call(http, api_url, "sendMessage", data={"chat_id": "@amina", "text": "by username"})
    assert status == 200
    with pytest.raises(FakeTelegramError) as excinfo:
        await tg.tap(8, 999, "x")
    assert excinfo.value.status == 404
    with pytest.raises(FakeTelegramError):
        await tg.send_message(8, "bad", chat_id=-5, chat_type="private")
    assert fake.state(TOKEN)["known_chats"] == [-100123, 8]


async def test_block_with_notification_and_register_user(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    user = await tg.register_user(12, first_name="Pablo", language_code="es")
    assert user["first_name"] == "Pablo"
    status, _ = await call(http, api_url, "sendMessage", data={"chat_id": "12", "text": "notice"})
    assert status == 200
    result = await tg.block(12, notify=True)
    assert result["queued"] is True
    status, body = await call(http, api_url, "getUpdates", data={"timeout": "0"})
    [update] = body["result"]
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert (await tg.state())["blocked"] == [12]


async def test_state_requests_and_reset(http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient) -> None:
    await tg.send_message(3, "hi")
    await call(http, api_url, "getMe")
    await call(http, api_url, "sendMessage", data={"chat_id": "3", "text": "x"})
    state = await tg.state()
    assert state["pending_updates"] == 1
    assert state["sent_count"] == 1
    assert state["requests"] == {"getMe": 1, "sendMessage": 1}
    assert state["webhook"]["url"] == ""
    assert len(await tg.requests()) == 2
    await tg.reset()
    state = await tg.state()
    assert (state["pending_updates"], state["sent_count"], state["requests"]) == (0, 0, {})
    status, _ = await call(http, api_url, "sendMessage", data={"chat_id": "3", "text": "x"})
    assert status == 400  # the chat is forgotten too
    async with http.get(f"{api_url}/__control/bad-token/state") as resp:
        assert resp.status == 401


async def test_negative_offset_keeps_the_latest(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    for i in range(3):
        await tg.send_message(3, f"m{i}")
    status, body = await call(http, api_url, "getUpdates", data={"offset": "-1", "timeout": "0"})
    assert status == 200
    assert [u["message"]["text"] for u in body["result"]] == ["m2"]
    assert (await tg.state())["pending_updates"] == 1


async def test_webhook_delivery_with_secret_and_reply_method(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    received: list[tuple[dict[str, Any], str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((update, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if "message" in update:
            # Bots may answer a webhook with a method call in the response body.
            chat_id = update["message"]["chat"]["id"]
            return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "pong"})
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        data = {"url": f"http://127.0.0.1:{port}/hook", "secret_token": "s3cret"}
        status, _ = await call(http, api_url, "setWebhook", data=data)
        assert status == 200
        await tg.send_message(3, "ping")
        [pong] = await tg.messages(3, wait=1, timeout=3)
        assert pong["text"] == "pong"
        assert received[0][0]["message"]["text"] == "ping"
        assert received[0][1] == "s3cret"
        assert (await tg.state())["webhook"]["pending_update_count"] == 0
        status, body = await call(http, api_url, "getUpdates")
        assert status == 409 and "webhook is active" in body["description"]
    finally:
        await call(http, api_url, "deleteWebhook")
        await runner.cleanup()


async def test_webhook_failure_is_reported_and_retried(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    status, _ = await call(http, api_url, "setWebhook", data={"url": "http://127.0.0.1:9/unreachable"})
    assert status == 200
    await tg.send_message(3, "lost?")
    for _ in range(50):
        info = (await tg.state())["webhook"]
        if "last_error_message" in info:
            break
        await asyncio.sleep(0.02)
    assert info["pending_update_count"] == 1
    assert info["last_error_message"]
    status, _ = await call(http, api_url, "deleteWebhook", data={"drop_pending_updates": "true"})
    assert (await tg.state())["pending_updates"] == 0


# ---------------------------------------------------------------------- HTML parser


@pytest.mark.parametrize(
    ("html", "plain", "types"),
    [
        ("plain text", "plain text", []),
        ("<b>bold</b> and <i>it</i>", "bold and it", ["bold", "italic"]),
        ("<strong>s</strong><em>e</em><ins>u</ins><strike>x</strike><del>d</del>", "seuxd", None),
        ('<a href="https://example.org?a=1&amp;b=2">link</a>', "link", ["text_link"]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", ["pre"]),
        ('<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>', "s t", ["spoiler", "spoiler"]),
        ("<blockquote expandable>q</blockquote>", "q", ["expandable_blockquote"]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", ["custom_emoji"]),
        ("1 &lt; 2 &gt; 0 &amp; &quot;q&quot; &#39;a&#x27;", "1 < 2 > 0 & \"q\" 'a'", []),
        ("  <b>trimmed</b>  ", "trimmed", ["bold"]),
    ],
)
def test_parse_html_valid(html: str, plain: str, types: list[str] | None) -> None:
    text, entities = parse_html(html)
    assert text == plain
    if types is not None:
        assert [e["type"] for e in entities] == types


def test_parse_html_offsets_are_utf16() -> None:
    text, entities = parse_html("👍 <b>sí</b>")
    assert text == "👍 sí"
    assert entities == [{"offset": 3, "length": 2, "type": "bold"}]  # the emoji is 2 UTF-16 units
    _, [link] = parse_html('<a href="https://x.org">x</a>')
    assert link["url"] == "https://x.org"
    _, [pre] = parse_html('<pre><code class="language-sql">select</code></pre>')
    assert pre["language"] == "sql"


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("<blink>x</blink>", 'Unsupported start tag "blink"'),
        ("a < b", "Unsupported start tag at byte offset 2"),
        ("<b", "Unclosed start tag"),
        ('<a href="x>y</a>', "Unclosed start tag"),
        ("Tom & Jerry", "unescaped '&' at byte offset 4"),
        ("&nbsp;", "unescaped '&'"),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
    ],
)
def test_parse_html_errors(html: str, message: str) -> None:
    with pytest.raises(EntityParseError, match=message.replace("(", r"\(")):
        parse_html(html)


def test_parse_html_lenient_ampersand() -> None:
    assert parse_html("Tom & Jerry", strict_ampersand=False) == ("Tom & Jerry", [])
