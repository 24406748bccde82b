"""The fake server against the real python-telegram-bot client (a hard dependency: never skipped)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import telegram
import telegram.ext as telegram_ext

from bot.fakeapi.client import FakeTelegramClient

TOKEN = "123456:TEST-fakeapi"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d494844520000000400000005080200000000000000")


def ptb_bot(api_url: str) -> telegram.Bot:
    """A PTB Bot whose calls go to the fake server."""
    return telegram.Bot(TOKEN, base_url=f"{api_url}/bot", base_file_url=f"{api_url}/file/bot")


# PTB 22.2+ warns that retry_after will become a timedelta; both forms are handled below.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_ptb_bot_calls(api_url: str, tg: FakeTelegramClient) -> None:
    await tg.send_message(21, "hola", first_name="John", language_code="en")
    async with ptb_bot(api_url) as bot:
        assert bot.username == "vecinos_123456_bot"  # getMe ran in initialize()
        [update] = await bot.get_updates(timeout=1)
        assert update.message.text == "hola"
        assert update.effective_user.language_code == "en"
        markup = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Yes", callback_data="yes")]])
        sent = await bot.send_message(21, "<i>Ready?</i>", parse_mode="HTML", reply_markup=markup)
        assert sent.text == "Ready?"
        assert sent.reply_markup.inline_keyboard[0][0].callback_data == "yes"
        photo = await bot.send_photo(21, PNG, caption="plan")
        assert photo.caption == "plan"
        [request] = await tg.requests("sendPhoto")
        assert request["params"]["photo"]["size"] == len(PNG)  # PTB puts the file part under "photo"
        largest = photo.photo[-1]
        assert (largest.width, largest.height) == (4, 5)
        file = await bot.get_file(largest.file_id)
        assert bytes(await file.download_as_bytearray()) == PNG
        await tg.fail("sendMessage", 429, retry_after=2)
        with pytest.raises(telegram.error.RetryAfter) as excinfo:
            await bot.send_message(21, "flood")
        retry_after = excinfo.value.retry_after
        seconds = retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after
        assert seconds == 2
        await tg.block(21)
        with pytest.raises(telegram.error.Forbidden):
            await bot.send_message(21, "blocked")
        with pytest.raises(telegram.error.BadRequest, match=r"[Cc]hat not found"):
            await bot.send_message(99, "nobody")


async def test_ptb_application_polling(api_url: str, tg: FakeTelegramClient) -> None:
    async def start(update: telegram.Update, context: telegram_ext.ContextTypes.DEFAULT_TYPE) -> None:
        markup = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("OK", callback_data="ok")]])
        await update.effective_message.reply_text("Bienvenida", reply_markup=markup)

    async def pressed(update: telegram.Update, context: telegram_ext.ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("¡Gracias!")
        await update.callback_query.edit_message_text("Hecho")

    app = (
        telegram_ext.ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .build()
    )
    app.add_handler(telegram_ext.CommandHandler("start", start))
    app.add_handler(telegram_ext.CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=1))
        try:
            await tg.send_message(22, "/start", first_name="Lucía", language_code="es")
            [welcome] = await tg.messages(22, wait=1)
            assert welcome["text"] == "Bienvenida"
            await tg.tap(22, welcome["message_id"], "ok")
            [edited] = await tg.messages(22, wait=1, changed_after=welcome["seq"])
            assert edited["text"] == "Hecho"
            assert (await tg.callback_answers(22))[0]["text"] == "¡Gracias!"
        finally:
            await app.updater.stop()
            await app.stop()
    methods = [r["method"] for r in await tg.requests()]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
