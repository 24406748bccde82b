"""Small helpers for tests that run a bot against the fake Telegram server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


class LocalAiohttpSession(AiohttpSession):
    """aiogram's session minus the 250 ms grace sleep on close, which only matters for TLS connections."""

    async def close(self) -> None:
        """Closes the underlying aiohttp session at once (plain HTTP to the fake server)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()


def aiogram_bot(api_url: str, token: str) -> Bot:
    """An aiogram Bot whose HTTP calls go to the fake server at api_url."""
    return Bot(token, session=LocalAiohttpSession(api=TelegramAPIServer.from_base(api_url)))


async def wait_until(predicate: Callable[[], bool], within: float = 5.0, interval: float = 0.02) -> None:
    """Polls predicate until it is true; raises AssertionError after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
