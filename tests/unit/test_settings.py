"""Settings: secrets stay secret, and webhook mode cannot start half-configured (even under python -O)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

TOKEN = "123456:ABC-very-secret-token"
ROOT = Path(__file__).resolve().parents[2]


def test_the_token_and_the_webhook_secret_never_appear_in_a_repr(tmp_path):
    settings = load_settings(
        bot_token=TOKEN,
        database_url=f"sqlite:///{tmp_path}/v.db",
        webhook_secret="s" * 20,
        webhook_url="https://example.org/hook",
    )
    assert settings.token == TOKEN
    assert TOKEN not in repr(settings) and "s" * 20 not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"webhook_url": "https://example.org/hook"}, "VECINOS_WEBHOOK_SECRET"),
        ({"webhook_secret": "s" * 20}, "VECINOS_WEBHOOK_URL"),
    ],
)
def test_webhook_mode_needs_its_url_and_secret(tmp_path, extra, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(bot_token=TOKEN, database_url=f"sqlite:///{tmp_path}/v.db", webhook=True, **extra)


def test_under_python_optimized_a_missing_secret_is_still_one_line_and_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")}
    env.update(
        VECINOS_BOT_TOKEN=TOKEN,
        VECINOS_DATABASE_URL=f"sqlite:///{tmp_path}/v.db",
        VECINOS_WEBHOOK_URL="https://example.org/hook",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-O", "-m", "bot", "run", "--webhook"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vecinos: configuration error: VECINOS_WEBHOOK_SECRET: webhook mode needs a shared secret"
    ]


@pytest.mark.parametrize(("reminder", "lapse"), [(7, 7), (10, 7)])
def test_an_invitation_is_reminded_before_it_lapses(tmp_path, reminder, lapse):
    with pytest.raises(ConfigError, match="VECINOS_COEXISTENCE_INVITE_REMINDER_DAYS"):
        load_settings(
            database_url=f"sqlite:///{tmp_path}/v.db",
            coexistence_invite_reminder_days=reminder,
            coexistence_invite_lapse_days=lapse,
        )


def test_the_pool_size_setting_reaches_the_postgresql_engine() -> None:
    from bot.app import Vecinos
    from bot.config import load_settings

    settings = load_settings(database_url="postgresql://nobody@127.0.0.1:1/none", database_pool_size=3)
    app = Vecinos.build(settings)
    assert app.db.engine.pool.size() == 3
