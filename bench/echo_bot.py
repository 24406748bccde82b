"""A bare aiogram echo bot: the baseline Vecinos' throughput is compared with."""

from __future__ import annotations

import argparse
import asyncio

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message


async def main(token: str, api_url: str) -> None:
    """Echo every text message (with an inline button); answer every tap and echo it into the message."""
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    dp = Dispatcher()

    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="tap", callback_data="tap")]])

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "", reply_markup=keyboard)

    @dp.callback_query()
    async def tapped(query: CallbackQuery) -> None:
        await query.answer()
        if query.message is not None:
            await query.message.edit_text(f"tapped {query.data}", reply_markup=query.message.reply_markup)

    await dp.start_polling(bot, handle_signals=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--api", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.token, args.api))
