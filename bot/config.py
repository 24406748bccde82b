"""Settings read from the environment or `.env`; a bad value ends the program with one clear line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import SUPPORTED_LOCALES

TELEGRAM_API_URL = "https://api.telegram.org"
TOKEN_PATTERN = re.compile(r"^\d+:[\w-]{2,}$")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it in one line."""


class Settings(BaseSettings):
    """Everything Vecinos reads from its environment (prefix VECINOS_)."""

    model_config = SettingsConfigDict(env_prefix="VECINOS_", env_file=".env", extra="ignore")

    bot_token: str | None = None
    bot_username: str = "VecinosMCDBot"
    telegram_api_url: str = TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///./var/vecinos.db"
    default_language: str = "es"
    timezone: str = "Europe/Madrid"
    engine: Literal["aiogram", "ptb"] = "aiogram"
    webhook: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=0, le=65535)
    webhook_path: str = "/telegram/webhook"
    leader_retry_seconds: float = Field(default=2.0, gt=0, le=60)
    send_rate_per_second: float = Field(default=25.0, gt=0, le=1000)
    per_chat_interval_seconds: float = Field(default=1.0, ge=0, le=60)
    pending_reminder_hours: float = Field(default=48.0, gt=0)
    scheduler_tick_seconds: float = Field(default=30.0, gt=0)
    seed_file: str | None = None

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not TOKEN_PATTERN.match(value):
            raise ValueError("must look like 123456:ABC-your-token (digits, a colon, then the secret)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value):
            raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9_/-]*", value):
            raise ValueError("must be a URL path such as /telegram/webhook")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be the public http(s) URL Telegram posts updates to")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Europe/Madrid") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")


def normalise_database_url(value: str) -> str:
    """Give a database URL the async driver SQLAlchemy needs, and create the SQLite folder."""
    if value.startswith(("postgres://", "postgresql://")):
        value = "postgresql+asyncpg://" + value.split("://", 1)[1]
    elif value.startswith("sqlite://") and not value.startswith("sqlite+"):
        value = "sqlite+aiosqlite://" + value.split("://", 1)[1]
    if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    if value.startswith("sqlite+aiosqlite:///") and ":memory:" not in value:
        Path(value.split(":///", 1)[1]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return value


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into a one-line ConfigError."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"VECINOS_{field.upper()}: {message}") from None
    if settings.webhook and settings.bot_token and not (settings.webhook_url and settings.webhook_secret):
        missing = "VECINOS_WEBHOOK_URL" if not settings.webhook_url else "VECINOS_WEBHOOK_SECRET"
        raise ConfigError(f"{missing}: webhook mode needs the public URL and a shared secret")
    return settings
