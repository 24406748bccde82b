"""A bare python-telegram-bot echo bot: the baseline for Vecinos on the ptb engine."""

from __future__ import annotations

import argparse

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("tap", callback_data="tap")]])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo a text message, with an inline button."""
    assert update.message is not None
    await update.message.reply_text(update.message.text or "", reply_markup=KEYBOARD)


async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a tap and echo it into the message."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.message is not None:
        await query.edit_message_text(f"tapped {query.data}", reply_markup=query.message.reply_markup)


def main(token: str, api_url: str) -> None:
    """Poll with PTB's own Application, handling updates concurrently (as aiogram does by default), with the
    same 64-connection pool as Vecinos' PTB adapter."""
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .concurrent_updates(True)
        .connection_pool_size(64)
        .pool_timeout(10)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(tapped))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--api", required=True)
    args = parser.parse_args()
    main(args.token, args.api)
