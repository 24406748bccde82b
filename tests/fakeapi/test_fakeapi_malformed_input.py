"""Text that is not valid UTF-8 (lone surrogates, broken bytes) and odd parameters get a 400, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot

from bot.fakeapi.client import FakeTelegramClient, FakeTelegramError
from bot.fakeapi.server import ControlError, FakeTelegram, _dumps

TOKEN = "123456:TEST-fakeapi"
NOT_UTF8 = "Bad Request: strings must be encoded in UTF-8"  # Telegram's wording
# What a 5,000-character Arabic paste cut in the middle of a character becomes after surrogateescape.
BROKEN = "مرحبا" + "\udcd8"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client."""
    async with aiohttp.ClientSession() as session:
        yield session


async def post(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """POSTs and returns (HTTP status, JSON body)."""
    async with http.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_bot_api_strings_with_lone_surrogates_are_refused_like_telegram(
    http: aiohttp.ClientSession, api_url: str, tg: FakeTelegramClient
) -> None:
    await tg.send_message(1, "hola")
    method = f"{api_url}/bot{TOKEN}"
    json_body = {"Content-Type": "application/json"}
    markup = {"inline_keyboard": [[{"text": BROKEN, "callback_data": "x"}]]}
    refused = [
        # JSON may carry "\udcd8" as an escape, which Python decodes to a lone surrogate.
        ("sendMessage", {"data": json.dumps({"chat_id": 1, "text": BROKEN}), "headers": json_body}),
        (
            "sendMessage",
            {"data": json.dumps({"chat_id": 1, "text": "ok", "reply_markup": markup}), "headers": json_body},
        ),
        # Form bodies, query strings and multipart parts with bytes that are not UTF-8.
        ("sendMessage", {"data": b"chat_id=1&text=%D8%A7%D8", "headers": {"Content-Type": "x"}}),
        ("sendMessage", {"data": b"chat_id=1&text=\xd8\xa7\xd8"}),
        ("sendMessage?chat_id=1&text=%FF", {}),
    ]
    # A multipart text field (as PTB sends captions) whose bytes are cut inside a character.
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n1\r\n'
        b'--b\r\nContent-Disposition: form-data; name="caption"\r\n\r\n\xd8\xa7\xd8\r\n'
        b'--b\r\nContent-Disposition: form-data; name="document"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ndata\r\n--b--\r\n"
    )
    refused.append(
        ("sendDocument", {"data": multipart, "headers": {"Content-Type": "multipart/form-data; boundary=b"}})
    )
    for path, kwargs in refused:
        status, body = await post(http, f"{method}/{path}", **kwargs)
        assert (status, body) == (400, {"ok": False, "error_code": 400, "description": NOT_UTF8}), path
    assert (await tg.state())["sent_count"] == 0
    status, body = await post(http, f"{method}/sendMessage", json={"chat_id": 1, "text": "مرحبا"})
    assert status == 200 and body["result"]["text"] == "مرحبا"


async def test_control_api_refuses_injected_text_with_lone_surrogates(
    tg: FakeTelegramClient, fake: FakeTelegram
) -> None:
    with pytest.raises(FakeTelegramError) as caught:
        await tg.send_message(1001, "x" * 100 + BROKEN)
    assert caught.value.status == 400
    assert "'text'" in caught.value.message and "lone surrogate (U+DCD8)" in caught.value.message
    with pytest.raises(FakeTelegramError) as caught:
        await tg.send_raw_update({"message": {"text": "a", "from": {"id": 5, "first_name": BROKEN}}})
    assert caught.value.status == 400 and "'message.from.first_name'" in caught.value.message
    with pytest.raises(ControlError):
        fake.inject_message(TOKEN, 1001, BROKEN)
    assert (await tg.state())["pending_updates"] == 0


def test_dumps_never_raises() -> None:
    assert json.loads(_dumps({"text": BROKEN})) == {"text": "مرحبا\ufffd"}
    assert json.loads(_dumps({"raw": b"x", "ids": {3}})) == {"raw": "b'x'", "ids": "{3}"}
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert json.loads(_dumps(loop))["error_code"] == 500


async def test_an_unencodable_update_still_reaches_the_bot(bot: Bot, fake: FakeTelegram) -> None:
    # A name registered in-process bypasses the control API's checks; the long poll must still answer.
    fake.register_user(TOKEN, 7, first_name="Ana" + "\udcd8")
    fake.inject_message(TOKEN, 7, "hola")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.from_user is not None
    assert update.message.from_user.first_name == "Ana\ufffd"


ODD_VALUES: list[Any] = [None, "", "abc", -1, 10**30, 1.5, True, [], {}, [1, "x"], {"message_id": "abc"}, "{", "["]
ODD_KEYS = [
    "chat_id",
    "text",
    "message_id",
    "parse_mode",
    "reply_markup",
    "reply_parameters",
    "entities",
    "caption",
    "photo",
    "document",
    "latitude",
    "callback_query_id",
    "offset",
    "limit",
    "allowed_updates",
    "commands",
    "scope",
    "language_code",
    "action",
    "file_id",
    "url",
]


async def test_odd_parameters_never_answer_500(http: aiohttp.ClientSession, api_url: str, fake: FakeTelegram) -> None:
    fake.inject_message(TOKEN, 1, "hola")
    methods = [name for name, _ in fake._methods.values()]
    failures = []
    for method in methods:
        for key in ODD_KEYS:
            for value in ODD_VALUES:
                params = {"chat_id": 1, "message_id": 1, "text": "t", "timeout": 0, key: value}
                async with http.post(f"{api_url}/bot{TOKEN}/{method}", json=params) as resp:
                    if resp.status >= 500:
                        failures.append((method, key, value, await resp.text()))
    for body in (b"--x\r\nbroken", b"\xff\xfe"):
        headers = {"Content-Type": "multipart/form-data; boundary=x"}
        async with http.post(f"{api_url}/bot{TOKEN}/sendMessage", data=body, headers=headers) as resp:
            if resp.status >= 500:
                failures.append(("sendMessage", "multipart", body, await resp.text()))
    assert failures == []
