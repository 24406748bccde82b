"""A fake Telegram Bot API server and its control-API client, for tests, benchmarks and the sandbox."""

from bot.fakeapi.client import FakeTelegramClient, FakeTelegramError
from bot.fakeapi.server import FakeTelegram, create_app, run_fake_server, start_fake_server

__all__ = [
    "FakeTelegram",
    "FakeTelegramClient",
    "FakeTelegramError",
    "create_app",
    "run_fake_server",
    "start_fake_server",
]
