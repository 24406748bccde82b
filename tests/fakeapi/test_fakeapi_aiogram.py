"""The fake Bot API server against the real aiogram 3 client, over HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.fakeapi.client import FakeTelegramClient
from bot.fakeapi.server import FakeTelegram
from bot.fakeapi.testing import aiogram_bot

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000030802000000"
    "0000000000000000000000000000000000000000000000000000000000"
)


def keyboard(*labels_and_data: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    row = [InlineKeyboardButton(text=label, callback_data=data) for label, data in labels_and_data]
    return InlineKeyboardMarkup(inline_keyboard=[row])


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "vecinos_123456_bot"
    assert me.first_name == "Vecinos"


async def test_long_poll_wakes_on_injection(bot: Bot, tg: FakeTelegramClient) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await tg.send_message(42, "/start", first_name="Ana", language_code="es")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1.5
    [update] = updates
    assert update.message is not None
    assert update.message.text == "/start"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "es"
    assert update.message.chat.type == "private"
    assert update.message.entities is not None
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start")


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 < time.monotonic() - started < 2.0


async def test_offset_confirms_and_unconfirmed_updates_come_back(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(1, "one")
    await tg.send_message(1, "two")
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    # Not confirmed yet, e.g. the bot crashed: Telegram delivers them again.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [u.update_id for u in first]
    await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    assert (await tg.state())["pending_updates"] == 1
    assert await bot.get_updates(offset=first[-1].update_id + 1, timeout=0) == []
    state = await tg.state()
    assert state["pending_updates"] == 0
    assert state["confirmed_offset"] == first[-1].update_id + 1


async def test_limit(bot: Bot, tg: FakeTelegramClient) -> None:
    for i in range(5):
        await tg.send_message(1, f"m{i}")
    assert len(await bot.get_updates(limit=2, timeout=0)) == 2
    assert len(await bot.get_updates(timeout=0)) == 5


async def test_allowed_updates_are_sticky(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(7, "hi")
    # Updates of types the bot did not ask for are never delivered, even if queued before.
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == []
    assert (await tg.state())["pending_updates"] == 0
    sent = await bot.send_message(7, "pick", reply_markup=keyboard(("A", "a")))
    ignored = await tg.send_message(7, "ignored")
    assert ignored["queued"] is False
    await tg.tap(7, sent.message_id, "a")
    updates = await bot.get_updates(timeout=0)  # allowed_updates omitted: the previous setting is reused
    assert [u.callback_query.data for u in updates if u.callback_query] == ["a"]
    assert all(u.message is None for u in updates)
    assert (await tg.state())["allowed_updates"] == ["callback_query"]
    # An empty list restores the default: everything except chat_member and reactions.
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0, allowed_updates=[])
    await tg.send_raw_update(
        {
            "chat_member": {
                "chat": {"id": -100, "type": "supergroup", "title": "G"},
                "from": {"id": 7, "is_bot": False, "first_name": "A"},
                "date": 1,
                "old_chat_member": {"status": "left", "user": {"id": 8, "is_bot": False, "first_name": "B"}},
                "new_chat_member": {"status": "member", "user": {"id": 8, "is_bot": False, "first_name": "B"}},
            }
        }
    )
    await tg.send_message(7, "back")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["back"]
    assert all(u.chat_member is None for u in updates)


async def test_send_message_with_keyboard_and_callback_flow(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "/start", first_name="Lucía", language_code="es")
    sent = await bot.send_message(
        5, "<b>Hola</b>, elige idioma", parse_mode="HTML", reply_markup=keyboard(("Español", "lang:es"))
    )
    assert sent.message_id == 2  # shares the per-chat counter with the user's /start
    assert sent.text == "Hola, elige idioma"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "lang:es"
    assert sent.from_user is not None and sent.from_user.id == 123456
    [view] = await tg.messages(5)
    assert view["text"] == "<b>Hola</b>, elige idioma"
    assert view["plain_text"] == "Hola, elige idioma"
    assert view["parse_mode"] == "HTML"
    assert view["reply_markup"]["inline_keyboard"][0][0]["text"] == "Español"

    tap = await tg.tap(5, sent.message_id, "lang:es")
    updates = await bot.get_updates(timeout=0)
    query = updates[-1].callback_query
    assert query is not None
    assert query.id == tap["callback_query_id"]
    assert query.data == "lang:es"
    assert query.from_user.language_code == "es"
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.chat_instance
    assert await bot.answer_callback_query(query.id, text="¡Hecho!", show_alert=True)
    [answer] = await tg.callback_answers(5)
    assert answer["callback_query_id"] == query.id
    assert answer["text"] == "¡Hecho!"
    assert answer["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)  # a query can be answered once


async def test_callback_query_too_old_or_unknown(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    sent = await bot.send_message(5, "x", reply_markup=keyboard(("A", "a")))
    await tg.configure(callback_timeout=0.05)
    tap = await tg.tap(5, sent.message_id, "a")
    await asyncio.sleep(0.1)
    with pytest.raises(TelegramBadRequest, match="query is too old and response timeout expired"):
        await bot.answer_callback_query(tap["callback_query_id"])
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_send_photo_upload_and_by_file_id(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    sent = await bot.send_photo(5, BufferedInputFile(PNG, filename="map.png"), caption="El mapa")
    assert sent.caption == "El mapa"
    assert sent.photo is not None
    photo = sent.photo[-1]
    assert (photo.width, photo.height) == (2, 3)
    [request] = await tg.requests("sendPhoto")
    assert request["content_type"] == "multipart/form-data"
    assert str(request["params"]["photo"]).startswith("attach://")  # aiogram's upload style
    again = await bot.send_photo(5, photo.file_id)
    assert again.photo is not None and again.photo[-1].file_id == photo.file_id
    file = await bot.get_file(photo.file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == PNG
    assert await tg.file_bytes(photo.file_id) == PNG
    views = await tg.messages(5)
    assert [v["kind"] for v in views] == ["photo", "photo"]
    assert views[0]["caption"] == "El mapa"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(5, "AgACunknown")
    by_url = await bot.send_photo(5, "https://example.org/pic.jpg")
    assert by_url.photo


async def test_send_document_and_download(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    data = b"barrio,reports\nLavapies,3\n"
    sent = await bot.send_document(5, BufferedInputFile(data, filename="report.csv"), caption="Informe")
    assert sent.document is not None
    assert sent.document.file_name == "report.csv"
    assert sent.document.mime_type == "text/csv"
    assert sent.document.file_size == len(data)
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == data
    [view] = await tg.messages(5)
    assert (view["kind"], view["file_name"], view["file_size"], view["caption"]) == (
        "document",
        "report.csv",
        len(data),
        "Informe",
    )
    assert await tg.file_bytes(view["file_id"]) == data
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await bot.send_photo(5, sent.document.file_id)


async def test_user_photo_can_be_downloaded(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_photo(9, "pintada en la pared")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.photo is not None
    assert len(update.message.photo) == 3
    largest = update.message.photo[-1]
    assert (largest.width, largest.height) == (800, 600)
    assert update.message.caption == "pintada en la pared"
    file = await bot.get_file(largest.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read().startswith(b"\x89PNG")


async def test_commands_per_scope_and_language(bot: Bot, tg: FakeTelegramClient) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="start", description="Empezar")], language_code="es")
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand(command="report", description="Informar")], scope=private, language_code="es")
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert [c.description for c in await bot.get_my_commands(language_code="es")] == ["Empezar"]
    assert [c.command for c in await bot.get_my_commands(scope=private, language_code="es")] == ["report"]
    assert await bot.get_my_commands(language_code="ar") == []
    state = await tg.state()
    assert state["commands"]["default"][""][0]["description"] == "Start"
    assert state["commands"]["all_private_chats"]["es"][0]["command"] == "report"
    await bot.delete_my_commands(language_code="es")
    assert await bot.get_my_commands(language_code="es") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_edit_message_text(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    markup = keyboard(("Sí", "yes"), ("No", "no"))
    sent = await bot.send_message(5, "¿Confirmas?", reply_markup=markup)
    edited = await bot.edit_message_text(
        "¿Confirmas? (2/2)", chat_id=5, message_id=sent.message_id, reply_markup=markup
    )
    assert isinstance(edited, Message)
    assert edited.text == "¿Confirmas? (2/2)"
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("¿Confirmas? (2/2)", chat_id=5, message_id=sent.message_id, reply_markup=markup)
    # Same text without reply_markup removes the keyboard, which is a modification.
    plain = await bot.edit_message_text("¿Confirmas? (2/2)", chat_id=5, message_id=sent.message_id)
    assert isinstance(plain, Message) and plain.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=5, message_id=999)
    await bot.edit_message_reply_markup(chat_id=5, message_id=sent.message_id, reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=5, message_id=sent.message_id, reply_markup=markup)
    [view] = await tg.messages(5)
    assert view["text"] == "¿Confirmas? (2/2)"
    assert view["edits"] == 3
    assert view["history"] == ["¿Confirmas?", "¿Confirmas? (2/2)"]
    assert view["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "no"


async def test_delete_message_and_chat_action(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    assert await bot.send_chat_action(5, "typing")
    sent = await bot.send_message(5, "temporal")
    assert await bot.delete_message(5, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(5, sent.message_id)
    [view] = await tg.messages(5)
    assert view["deleted"] is True


async def test_validation_errors(bot: Bot, tg: FakeTelegramClient) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(77, "nobody wrote to me")
    await tg.send_message(5, "hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(5, "   ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(5, "x" * 4097)
    assert await bot.send_message(5, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # length after parsing
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(5, BufferedInputFile(PNG, "a.png"), caption="x" * 1025)
    for bad_html in ("<b>unclosed", "<b>x</i>", "<blink>x</blink>", "1 < 2", "Tom & Jerry"):
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(5, bad_html, parse_mode="HTML")
    assert await bot.send_message(5, "1 &lt; 2 &amp; <a href='https://x.org'>link</a> &#39;", parse_mode="HTML")


async def test_callback_data_limit_is_64_bytes(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    assert await bot.send_message(5, "ok", reply_markup=keyboard(("A", "x" * 64)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(5, "too long", reply_markup=keyboard(("A", "x" * 65)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(5, "bytes, not chars", reply_markup=keyboard(("A", "ñ" * 33)))


async def test_blocked_user_is_forbidden(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    await tg.block(5)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(5, "hello?")
    await tg.block(5, blocked=False)
    assert await bot.send_message(5, "welcome back")


async def test_rate_limits_return_429_with_int_retry_after(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    await tg.send_message(6, "hi")
    await tg.set_rate_limit(per_chat_per_second=2)
    await bot.send_message(5, "1")
    await bot.send_message(5, "2")
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(5, "3")
    assert isinstance(excinfo.value.retry_after, int) and excinfo.value.retry_after >= 1
    assert await bot.send_message(6, "other chat is fine")
    await tg.set_rate_limit(global_per_second=1)
    await bot.send_message(5, "a")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(6, "b")
    await tg.set_rate_limit()
    assert await bot.send_message(6, "limits off")


async def test_injected_failures(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    await tg.fail("sendMessage", 500, "Internal Server Error")
    await tg.fail("sendMessage", 429, retry_after=3)
    await tg.fail("getMe", 404)
    with pytest.raises(TelegramServerError):
        await bot.send_message(5, "x")
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(5, "x")
    assert excinfo.value.retry_after == 3
    assert await bot.send_message(5, "x")
    with pytest.raises(TelegramNotFound):
        await bot.get_me()


async def test_webhook_blocks_get_updates(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(5, "hi")
    assert await bot.set_webhook("https://bot.example.invalid/hook", secret_token="s3cret", drop_pending_updates=True)
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    info = await bot.get_webhook_info()
    assert info.url == "https://bot.example.invalid/hook"
    assert info.pending_update_count == 0
    assert info.has_custom_certificate is False
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []


async def test_second_poller_terminates_the_first(api_url: str, bot: Bot) -> None:
    other = aiogram_bot(api_url, bot.token)
    try:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        assert await other.get_updates(timeout=0) == []
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 2)
    finally:
        await other.session.close()


async def test_bots_are_isolated(api_url: str, bot: Bot, tg: FakeTelegramClient) -> None:
    other = aiogram_bot(api_url, "777:OTHER")
    try:
        await tg.send_message(5, "for the first bot")
        assert await other.get_updates(timeout=0) == []
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await other.send_message(5, "x")
        assert (await other.get_me()).username == "vecinos_777_bot"
    finally:
        await other.session.close()


async def test_duplicate_delivery_of_a_raw_update(bot: Bot, tg: FakeTelegramClient) -> None:
    first = await tg.send_message(5, "once")
    [update] = await bot.get_updates(timeout=0)
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
    replay = await tg.send_raw_update({"update_id": first["update_id"]})
    assert replay["replay"] is True
    [again] = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert again.update_id == update.update_id
    assert again.message is not None and again.message.text == "once"
    assert await bot.get_updates(offset=again.update_id + 1, timeout=0) == []


async def test_raw_update_sticker_fills_defaults(bot: Bot, tg: FakeTelegramClient) -> None:
    sticker = {
        "file_id": "CAACsticker",
        "file_unique_id": "u1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    await tg.send_raw_update(
        {"message": {"from": {"id": 11, "is_bot": False, "first_name": "Eva"}, "sticker": sticker}}
    )
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.sticker is not None
    assert update.message.chat.id == 11
    assert await bot.send_message(11, "nice sticker")  # the raw update made the chat known


async def test_dispatcher_polling_end_to_end(bot: Bot, tg: FakeTelegramClient, fake: FakeTelegram) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Bienvenida", reply_markup=keyboard(("Español", "lang:es"), ("English", "lang:en")))

    @dp.callback_query(F.data.startswith("lang:"))
    async def choose(query: CallbackQuery) -> None:
        await query.answer("OK")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"Idioma: {query.data}")

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    try:
        await tg.send_message(31, "/start", first_name="Lucía", language_code="es")
        [welcome] = await tg.messages(31, wait=1)
        assert welcome["text"] == "Bienvenida"
        await tg.tap(31, welcome["message_id"], "lang:en")
        [edited] = await tg.messages(31, wait=1, changed_after=welcome["seq"])
        assert edited["text"] == "Idioma: lang:en"
        assert (await tg.callback_answers(31))[0]["text"] == "OK"
        # aiogram derives allowed_updates from the registered handlers and sends it as a JSON string.
        requests = await tg.requests("getUpdates")
        assert set(requests[0]["params"]["allowed_updates"]) == {"message", "callback_query"}
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
