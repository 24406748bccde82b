"""The terminal chat, driven through a pipe while the test plays the bot with aiogram."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.fakeapi.client import FakeTelegramClient
from bot.fakeapi.server import start_fake_server
from bot.fakeapi.testing import aiogram_bot, wait_until
from bot.sandbox.terminal_chat import persona, run_terminal_chat

TOKEN = "123456:TEST-fakeapi"


def test_persona() -> None:
    assert persona("resident") == (1001, "Lucía", "es")
    assert persona("amina") == (1002, "Amina", "ar")
    assert persona("john") == (1003, "John", "en")
    assert persona("delegate") == (2001, "Delegada Carmen", "es")
    assert persona("manager") == (3001, "Gestor Pablo", "es")
    assert persona("admin") == (9001, "Admin", "es")
    assert persona("3001") == (3001, "Gestor Pablo", "es")
    assert persona("4242") == (4242, "User4242", None)
    user_id = persona("Rosa")[0]
    assert persona("Rosa") == (user_id, "Rosa", None)
    assert 100000 <= user_id < 1000000
    assert persona("Rosa")[0] != persona("Pepe")[0]


class Pipe:
    """A real OS pipe as stdin, so the chat reads it exactly as it would read a terminal or `cmd | vecinos`."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "r", encoding="utf-8")

    def type(self, line: str) -> None:
        """Sends one line to the chat."""
        os.write(self._write_fd, (line + "\n").encode())

    def close(self) -> None:
        """End of input."""
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    """stdin for the chat."""
    p = Pipe()
    yield p
    p.close()
    p.reader.close()


async def next_update(bot: Bot, offset: int | None) -> Update:
    """The bot side: long-polls one update."""
    [update] = await bot.get_updates(offset=offset, timeout=3)
    return update


async def test_terminal_chat_round_trip(api_url: str, bot: Bot, tg: FakeTelegramClient, pipe: Pipe) -> None:
    out = io.StringIO()
    chat = asyncio.create_task(run_terminal_chat(api_url, TOKEN, 1001, "Lucía", "es", stdin=pipe.reader, stdout=out))
    await wait_until(lambda: "Chatting with @vecinos_123456_bot as Lucía" in out.getvalue())

    pipe.type("/start")
    start = await next_update(bot, None)
    assert start.message is not None and start.message.text == "/start"
    assert start.message.from_user is not None
    assert (start.message.from_user.first_name, start.message.from_user.language_code) == ("Lucía", "es")
    assert start.message.entities is not None and start.message.entities[0].type == "bot_command"

    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Español", callback_data="lang:es"),
                InlineKeyboardButton(text="English", callback_data="lang:en"),
            ],
            [InlineKeyboardButton(text="Web", url="https://example.org")],
        ]
    )
    sent = await bot.send_message(1001, "<b>Elige</b> idioma", parse_mode="HTML", reply_markup=markup)
    await wait_until(lambda: "[1] Español  [2] English" in out.getvalue())
    assert "Bot: Elige idioma\n  [1] Español  [2] English\n  [3] Web <https://example.org>\n" in out.getvalue()

    pipe.type("2")
    tap = await next_update(bot, start.update_id + 1)
    assert tap.callback_query is not None
    assert tap.callback_query.data == "lang:en"
    assert tap.callback_query.message is not None
    assert tap.callback_query.message.message_id == sent.message_id
    await bot.answer_callback_query(tap.callback_query.id, text="Language saved")
    await bot.edit_message_text("Idioma: English", chat_id=1001, message_id=sent.message_id)
    await wait_until(lambda: "Bot (toast): Language saved" in out.getvalue())
    await wait_until(lambda: "Bot (edited): Idioma: English" in out.getvalue())
    assert "(you tapped [English])" in out.getvalue()

    # With the keyboard gone, a number is just text.
    pipe.type("3")
    number = await next_update(bot, tap.update_id + 1)
    assert number.message is not None and number.message.text == "3"

    pipe.type("/loc 40.4086 -3.7004")
    loc = await next_update(bot, number.update_id + 1)
    assert loc.message is not None and loc.message.location is not None
    assert (loc.message.location.latitude, loc.message.location.longitude) == (40.4086, -3.7004)

    pipe.type("/photo pintada en Embajadores")
    photo = await next_update(bot, loc.update_id + 1)
    assert photo.message is not None and photo.message.photo and photo.message.caption == "pintada en Embajadores"

    # A message nobody asked for (e.g. an approval notice) shows up without typing.
    await bot.send_message(1001, "Tu solicitud ha sido aprobada")
    await wait_until(lambda: "Bot: Tu solicitud ha sido aprobada" in out.getvalue())

    pipe.type("/quit")
    await asyncio.wait_for(chat, 3)
    await bot.get_updates(offset=photo.update_id + 1, timeout=0)
    assert (await tg.state())["pending_updates"] == 0  # /quit itself is not sent to the bot


async def test_terminal_chat_reaches_a_user_before_they_write(api_url: str, bot: Bot, pipe: Pipe) -> None:
    # Staff personas open a chat and must receive notices without having typed anything.
    out = io.StringIO()
    chat = asyncio.create_task(
        run_terminal_chat(api_url, TOKEN, 3001, "Gestor Pablo", "es", stdin=pipe.reader, stdout=out, eof_grace=0.1)
    )
    await wait_until(lambda: "Chatting with" in out.getvalue())
    await bot.send_message(3001, "Nueva solicitud de Lucía", reply_markup=None)
    await wait_until(lambda: "Bot: Nueva solicitud de Lucía" in out.getvalue())
    pipe.close()
    await asyncio.wait_for(chat, 3)


async def test_terminal_chat_with_stringio_input_shows_replies_after_eof(api_url: str, bot: Bot) -> None:
    out = io.StringIO()

    async def reply_to_start() -> None:
        [update] = await bot.get_updates(timeout=3)
        assert update.message is not None
        await bot.send_message(update.message.chat.id, f"eco: {update.message.text}")

    replier = asyncio.create_task(reply_to_start())
    await run_terminal_chat(api_url, TOKEN, 1003, "John", "en", stdin=io.StringIO("hello\n"), stdout=out, eof_grace=0.5)
    await replier
    assert "Bot: eco: hello" in out.getvalue()


class ChunkedBytes(io.RawIOBase):
    """A byte stream that hands out its data in the given pieces, as a terminal or a pipe does."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """The next piece (or what fits of it); 0 at the end."""
        if not self.chunks:
            return 0
        chunk = self.chunks.pop(0)
        size = min(len(chunk), len(buffer))
        buffer[:size] = chunk[:size]
        if size < len(chunk):
            self.chunks.insert(0, chunk[size:])
        return size


def terminal_stdin(data: bytes, piece: int) -> io.TextIOWrapper:
    """stdin as Python opens it in a C/POSIX locale: bytes that are not UTF-8 become lone surrogates."""
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)]
    return io.TextIOWrapper(io.BufferedReader(ChunkedBytes(chunks)), encoding="utf-8", errors="surrogateescape")


async def texts_received(bot: Bot, count: int) -> list[str]:
    """The bot side: the texts of the next `count` messages."""
    texts: list[str] = []
    offset = None
    while len(texts) < count:
        updates = await bot.get_updates(offset=offset, timeout=3)
        assert updates, f"only {texts!r} arrived"
        texts += [u.message.text or "" for u in updates if u.message is not None]
        offset = updates[-1].update_id + 1
    return texts


async def test_terminal_chat_reads_a_long_arabic_paste_and_broken_bytes(api_url: str, bot: Bot) -> None:
    paste = ("مرحبا بالجيران " * 400)[:5000]
    data = (
        paste.encode()
        + b"\n"
        # A character cut in half (a terminal's line buffer was full), then bytes that are never UTF-8.
        + "سلام".encode()
        + b"\xd8\n"
        + b"hola \xff\xfe mundo\n"
    )
    out = io.StringIO()
    # 4095-byte reads split two-byte Arabic characters between reads.
    stdin = terminal_stdin(data, 4095)
    chat = asyncio.create_task(run_terminal_chat(api_url, TOKEN, 1002, "Amina", "ar", stdin, out, eof_grace=0.1))
    texts = await texts_received(bot, 3)
    await asyncio.wait_for(chat, 10)
    assert len(texts[0]) == 5000 and texts[0] == paste
    assert texts[1:] == ["سلام\ufffd", "hola \ufffd\ufffd mundo"]
    assert "could not deliver" not in out.getvalue() and "lost contact" not in out.getvalue()


async def test_terminal_chat_strips_lone_surrogates_from_text_input(api_url: str, bot: Bot) -> None:
    out = io.StringIO()
    stdin = io.StringIO("مرحبا\udcd8\n\ud800hola\n")
    await run_terminal_chat(api_url, TOKEN, 1002, "Amina", "ar", stdin, out, eof_grace=0.1)
    assert await texts_received(bot, 2) == ["مرحبا", "hola"]
    assert "could not deliver" not in out.getvalue()


async def test_terminal_chat_prints_an_edited_message_once(api_url: str, bot: Bot, pipe: Pipe) -> None:
    out = io.StringIO()
    chat = asyncio.create_task(run_terminal_chat(api_url, TOKEN, 1001, "Lucía", "es", pipe.reader, out))
    await wait_until(lambda: "Chatting with" in out.getvalue())
    pipe.type("/forget")
    forget = await next_update(bot, None)
    buttons = [[InlineKeyboardButton(text="Sí, borrar", callback_data="forget:yes")]]
    ask = await bot.send_message(1001, "¿Lo borramos todo?", reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))
    await wait_until(lambda: "[1] Sí, borrar" in out.getvalue())
    pipe.type("1")
    tap = await next_update(bot, forget.update_id + 1)
    assert tap.callback_query is not None
    await bot.answer_callback_query(tap.callback_query.id)
    # The bot edits the text, then drops the keyboard, then repeats the edit with markup that looks the same.
    await bot.edit_message_text(
        "Tus datos han sido borrados.", chat_id=1001, message_id=ask.message_id, reply_markup=ask.reply_markup
    )
    await bot.edit_message_reply_markup(chat_id=1001, message_id=ask.message_id, reply_markup=None)
    await bot.edit_message_text(
        "<b>Tus datos</b> han sido borrados.", chat_id=1001, message_id=ask.message_id, parse_mode="HTML"
    )
    await bot.send_message(1001, "fin")
    await wait_until(lambda: "Bot: fin" in out.getvalue())
    assert out.getvalue().count("han sido borrados") == 1
    # A real change is still shown, and so are new buttons on the same text.
    await bot.edit_message_text("Borrado.", chat_id=1001, message_id=ask.message_id)
    await wait_until(lambda: "Bot (edited): Borrado." in out.getvalue())
    await bot.edit_message_reply_markup(chat_id=1001, message_id=ask.message_id, reply_markup=ask.reply_markup)
    await wait_until(lambda: out.getvalue().count("Bot (edited): Borrado.") == 2)
    assert out.getvalue().endswith("Bot (edited): Borrado.\n  [1] Sí, borrar\n")
    pipe.type("/quit")
    await asyncio.wait_for(chat, 3)


async def test_terminal_chat_saves_documents_under_var_downloads(
    api_url: str, bot: Bot, pipe: Pipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    chat = asyncio.create_task(run_terminal_chat(api_url, TOKEN, 1001, "Lucía", "es", pipe.reader, out))
    await wait_until(lambda: "Chatting with" in out.getvalue())
    mydata = b'{"name": "Luc\xc3\xada", "circle": "emb-plaza-lavapies"}'
    await bot.send_document(1001, BufferedInputFile(mydata, "vecinos-mydata.json"), caption="Tus datos")
    line = f"Bot: [document vecinos-mydata.json, {len(mydata)} bytes, saved to var/downloads/vecinos-mydata.json]"
    await wait_until(lambda: f"{line} Tus datos\n" in out.getvalue())
    assert (tmp_path / "var" / "downloads" / "vecinos-mydata.json").read_bytes() == mydata
    # Another file of the same name gets a name of its own; a name can not leave the folder.
    await bot.send_document(1001, BufferedInputFile(b"{}", "vecinos-mydata.json"))
    await wait_until(lambda: "saved to var/downloads/vecinos-mydata-2.json]" in out.getvalue())
    await bot.send_document(1001, BufferedInputFile(b"x", "../../escape.txt"))
    await wait_until(lambda: "saved to var/downloads/escape.txt]" in out.getvalue())
    assert (tmp_path / "var" / "downloads" / "vecinos-mydata-2.json").read_bytes() == b"{}"
    assert not (tmp_path / "escape.txt").exists()
    pipe.type("/quit")
    await asyncio.wait_for(chat, 3)

    # Reopening the chat replays the newest messages without saving the same files again.
    again = io.StringIO()
    await run_terminal_chat(api_url, TOKEN, 1001, "Lucía", "es", io.StringIO(""), again, eof_grace=0)
    assert f"{line} Tus datos\n" in again.getvalue()
    assert sorted(p.name for p in (tmp_path / "var" / "downloads").iterdir()) == [
        "escape.txt",
        "vecinos-mydata-2.json",
        "vecinos-mydata.json",
    ]


async def test_terminal_chat_survives_a_server_restart(pipe: Pipe) -> None:
    _fake, runner, api_url = await start_fake_server()
    port = int(api_url.rsplit(":", 1)[1])
    out = io.StringIO()
    chat = asyncio.create_task(run_terminal_chat(api_url, TOKEN, 3001, "Gestor Pablo", "es", pipe.reader, out))
    bot = aiogram_bot(api_url, TOKEN)
    try:
        await wait_until(lambda: "Chatting with" in out.getvalue())
        await bot.send_message(3001, "antes del reinicio")
        await wait_until(lambda: "Bot: antes del reinicio" in out.getvalue())
        await bot.session.close()
        await runner.cleanup()
        await wait_until(lambda: "(lost contact" in out.getvalue(), within=30)

        # A new server on the same port knows nothing: no open chat, message ids and seq numbers from 1.
        fake, runner, _ = await start_fake_server("127.0.0.1", port)
        await wait_until(lambda: "(reconnected to the sandbox)" in out.getvalue(), within=30)
        assert 3001 in fake.state(TOKEN)["known_chats"]
        bot = aiogram_bot(api_url, TOKEN)
        sent = await bot.send_message(3001, "después del reinicio")
        assert sent.message_id == 1
        await wait_until(lambda: "Bot: después del reinicio" in out.getvalue(), within=30)
        assert out.getvalue().count("(reconnected to the sandbox)") == 1
        pipe.type("/pending")
        update = await next_update(bot, None)
        assert update.message is not None and update.message.text == "/pending"
        pipe.type("/quit")
        await asyncio.wait_for(chat, 5)
    finally:
        chat.cancel()
        await bot.session.close()
        await runner.cleanup()


async def test_a_poll_from_another_server_instance_is_answered_at_once(tg: FakeTelegramClient, bot: Bot) -> None:
    await tg.send_message(1001, "hola")
    await bot.send_message(1001, "uno")
    instance = (await tg.state())["instance_id"]
    same = await tg.poll_messages(1001, changed_after=1, instance_id=instance, timeout=0)
    assert same == {"messages": [], "instance_id": instance}
    # seq 50 means nothing to this server: a long poll for it must not wait, or a chat would hang after a restart.
    other = await asyncio.wait_for(tg.poll_messages(1001, changed_after=0, wait=5, timeout=60, instance_id="x"), 20)
    assert other["instance_id"] == instance and [m["text"] for m in other["messages"]] == ["uno"]
