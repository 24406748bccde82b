"""Settings read from the environment or `.env`; a bad value ends the program with one clear line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import SUPPORTED_LOCALES

TELEGRAM_API_URL = "https://api.telegram.org"
TOKEN_PATTERN = re.compile(r"^\d+:[\w-]{2,}$")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it in one line."""


class Settings(BaseSettings):
    """Everything Vecinos reads from its environment (prefix VECINOS_)."""

    model_config = SettingsConfigDict(env_prefix="VECINOS_", env_file=".env", extra="ignore")

    bot_token: SecretStr | None = None
    bot_username: str = "VecinosMCDBot"
    telegram_api_url: str = TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///./var/vecinos.db"
    # PostgreSQL connections this process keeps (no overflow: a connection opened for a burst would prepare every
    # statement again); several processes share the server's max_connections.
    database_pool_size: int = Field(default=20, ge=1, le=500)
    default_language: str = "es"
    timezone: str = "Europe/Madrid"
    engine: Literal["aiogram", "ptb"] = "aiogram"
    # The event loop `vecinos run` uses: uvloop (faster) or Python's own asyncio loop.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    webhook: bool = False
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # The bot's own HTTP server (every mode): /healthz, Open311, and in webhook mode Telegram's updates.
    # VECINOS_WEBHOOK_HOST/PORT, their names before Open311, still work.
    http_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("VECINOS_HTTP_HOST", "VECINOS_WEBHOOK_HOST", "http_host")
    )
    http_port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("VECINOS_HTTP_PORT", "VECINOS_WEBHOOK_PORT", "http_port"),
    )
    webhook_path: str = "/telegram/webhook"
    # Keys city systems use to file cases through Open311 (comma-separated); none: POST is refused.
    open311_api_keys: str = ""
    # A LibreTranslate-compatible server (self-hosted) for notices with no version in a reader's language;
    # unset: no machine translation, the original goes out marked with its language.
    translate_url: str | None = None
    translate_api_key: str | None = None
    # How long a notice waits for its machine translations before the original goes out instead.
    translate_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Days after "resolved" the reporter is asked whether it is fixed.
    report_follow_up_days: float = Field(default=3.0, gt=0, le=60)
    leader_retry_seconds: float = Field(default=2.0, gt=0, le=60)
    # Telegram's limit to different chats: about 30 messages a second (1000 with paid broadcasts).
    send_rate_per_second: float = Field(default=30.0, gt=0, le=1000)
    per_chat_interval_seconds: float = Field(default=1.0, ge=0, le=60)
    pending_reminder_hours: float = Field(default=48.0, gt=0)
    scheduler_tick_seconds: float = Field(default=30.0, gt=0)
    # Polls: hours before closing to remind those who have not voted (0: no reminder).
    poll_reminder_hours: float = Field(default=24.0, ge=0, le=24 * 30)
    # Proposals: the share of a circle's or barrio's members whose support turns a proposal into a poll (at
    # least proposal_min_support people), within proposal_days; the poll then runs proposal_poll_days.
    proposal_support_circle_percent: int = Field(default=10, ge=1, le=100)
    proposal_support_barrio_percent: int = Field(default=5, ge=1, le=100)
    proposal_min_support: int = Field(default=3, ge=1, le=10000)
    proposal_days: float = Field(default=30.0, gt=0, le=365)
    proposal_poll_days: float = Field(default=7.0, gt=0, le=90)
    # Elections: seats per circle, the delegates' term, and how long nominations and voting last.
    delegate_seats: int = Field(default=2, ge=1, le=10)
    delegate_term_days: float = Field(default=730.0, gt=0, le=3650)
    election_nomination_days: float = Field(default=7.0, gt=0, le=90)
    election_voting_days: float = Field(default=5.0, gt=0, le=90)
    forum_seats: int = Field(default=1, ge=1, le=5)
    # Notices: a delegate's broadcasts per local day, and when normal notices wait (local time; "off": never).
    delegate_broadcasts_per_day: int = Field(default=3, ge=0, le=100)
    quiet_hours: str = "22:00-08:00"
    # Coexistence: when an unanswered invitation is reminded once and then handed back to the mediator, when
    # a mediation's agreement is checked, and how long a closed case's content is kept.
    coexistence_invite_reminder_days: float = Field(default=3.0, gt=0, le=60)
    coexistence_invite_lapse_days: float = Field(default=7.0, gt=0, le=120)
    mediation_check_days: float = Field(default=30.0, gt=0, le=365)
    # The Monday-morning digest for community managers and Governance Commission members.
    weekly_digests: bool = True
    # "json": log lines as JSON objects (read by `vecinos` before the other settings); otherwise text.
    log_format: Literal["text", "json"] = "text"
    coexistence_retention_days: float = Field(default=180.0, gt=0, le=3650)
    seed_file: str | None = None

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw in (None, ""):
            return None
        if not isinstance(raw, str) or not TOKEN_PATTERN.match(raw):
            raise ValueError("must look like 123456:ABC-your-token (digits, a colon, then the secret)")
        return raw

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _webhook_secret(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw in (None, ""):
            return None
        if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", raw):
            raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return raw

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> Settings:
        if self.webhook and self.bot_token is not None:
            if not self.webhook_url:
                raise ValueError("VECINOS_WEBHOOK_URL: webhook mode needs the public URL Telegram posts to")
            if self.webhook_secret is None:
                raise ValueError("VECINOS_WEBHOOK_SECRET: webhook mode needs a shared secret")
        return self

    @model_validator(mode="after")
    def _invitation_reminded_before_it_lapses(self) -> Settings:
        if self.coexistence_invite_reminder_days >= self.coexistence_invite_lapse_days:
            raise ValueError(
                "VECINOS_COEXISTENCE_INVITE_REMINDER_DAYS: the reminder must come before the invitation lapses "
                "(VECINOS_COEXISTENCE_INVITE_LAPSE_DAYS)"
            )
        return self

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        from bot.domain.notices import parse_quiet_hours

        if value.strip().lower() in ("off", "none", ""):
            return "00:00-00:00"
        if parse_quiet_hours(value) is None:
            raise ValueError("must be a range of local times such as 22:00-08:00 (or off)")
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
    def open311_keys(self) -> frozenset[str]:
        """The accepted Open311 api_keys."""
        return frozenset(key.strip() for key in self.open311_api_keys.split(",") if key.strip())

    @property
    def token(self) -> str | None:
        """The bot token in clear, for the one place that needs it (the Bot API client)."""
        return self.bot_token.get_secret_value() if self.bot_token is not None else None

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
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:
            raise ConfigError(message) from None  # a rule over several settings names them itself
        name = str(first["loc"][0]).upper()
        raise ConfigError(f"{name if name.startswith('VECINOS_') else 'VECINOS_' + name}: {message}") from None
    return settings
