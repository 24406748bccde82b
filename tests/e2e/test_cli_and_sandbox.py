"""The command line as a newcomer meets it: clear configuration errors, seeding, and the local sandbox."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def vecinos(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VECINOS_BOT_TOKEN", "not-a-token"),
        ("VECINOS_DATABASE_URL", "mysql://nobody@nowhere/db"),
        ("VECINOS_DEFAULT_LANGUAGE", "xx"),
        ("VECINOS_TIMEZONE", "Mars/Olympus_Mons"),
        ("VECINOS_TELEGRAM_API_URL", "telegram"),
        ("VECINOS_SEND_RATE_PER_SECOND", "-3"),
    ],
)
def test_a_bad_setting_is_one_clear_line_and_exit_code_2(tmp_path, variable, value):
    result = vecinos("run", cwd=tmp_path, env={variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_seed_is_idempotent_and_commands_migrate_first(tmp_path):
    env = {"VECINOS_DATABASE_URL": f"sqlite:///{tmp_path}/v.db"}
    first = vecinos("seed", cwd=tmp_path, env=env)
    second = vecinos("seed", cwd=tmp_path, env=env)
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout == "territory loaded: 1 districts, 6 barrios, 34 circles, 7 buildings\n"


def test_invites_and_roles_explain_mistakes(tmp_path):
    env = {"VECINOS_DATABASE_URL": f"sqlite:///{tmp_path}/v.db"}
    made = vecinos("invites", "create", "--building", "emb-lavapies-7", "--unlimited", cwd=tmp_path, env=env)
    assert made.returncode == 0 and made.stdout.startswith("https://t.me/VecinosMCDBot?start=")
    wrong = vecinos("invites", "create", "--circle", "nowhere", cwd=tmp_path, env=env)
    assert wrong.returncode == 2 and "no circle with code 'nowhere'" in wrong.stderr
    admin_with_place = vecinos(
        "roles", "grant", "--user", "42", "--role", "admin", "--place", "embajadores", cwd=tmp_path, env=env
    )
    assert admin_with_place.returncode == 2
    assert admin_with_place.stderr == "vecinos: admin holds the whole district: leave out --place (or give district)\n"
    no_sector = vecinos(
        "roles", "grant", "--user", "42", "--role", "sectorial_manager", "--place", "sol", cwd=tmp_path, env=env
    )
    assert no_sector.returncode == 2 and no_sector.stderr == "vecinos: sectorial managers need --sector\n"
    bad_place = vecinos("roles", "grant", "--user", "42", "--role", "delegate", "--place", "sol", cwd=tmp_path, env=env)
    assert bad_place.returncode == 2 and "--place must be a circle code" in bad_place.stderr


def test_roles_can_be_granted_before_a_first_message_listed_and_revoked(tmp_path):
    env = {"VECINOS_DATABASE_URL": f"sqlite:///{tmp_path}/v.db"}
    # README's example, as written: user 123456789 has never written to the bot.
    readme = ("roles", "grant", "--user", "123456789", "--role", "community_manager", "--place", "embajadores")
    granted = vecinos(*readme, cwd=tmp_path, env=env)
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout == (
        "granted community_manager of Embajadores to user 123456789, who has not written to the bot yet: "
        "the role is theirs from their first /start\n"
    )
    again = vecinos(*readme, cwd=tmp_path, env=env)
    assert again.stdout == "user 123456789 already has the role community_manager of Embajadores\n"
    police = vecinos(
        "roles", "grant", "--user", "123456789", "--role", "sectorial_manager", "--place", "sol",
        "--sector", "community_police", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert police.returncode == 0, police.stderr
    listed = vecinos("roles", "list", cwd=tmp_path, env=env)
    assert listed.stdout.splitlines() == [
        "123456789\t(has not written to the bot yet)\tcommunity_manager\tembajadores",
        "123456789\t(has not written to the bot yet)\tsectorial_manager community_police\tsol",
    ]
    revoked = vecinos("roles", "revoke", *readme[2:], cwd=tmp_path, env=env)
    assert revoked.stdout == "revoked community_manager of Embajadores from user 123456789\n"
    gone = vecinos("roles", "revoke", *readme[2:], cwd=tmp_path, env=env)
    assert gone.stdout == "user 123456789 does not have the role community_manager of Embajadores\n"
    only_police = vecinos("roles", "list", "--role", "sectorial_manager", cwd=tmp_path, env=env)
    assert len(only_police.stdout.splitlines()) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_runs_the_fake_server_the_bot_and_a_terminal_chat(tmp_path):
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--no-chat", "--sandbox-port", str(port)],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        state = tmp_path / "var" / "sandbox.json"
        for _ in range(300):
            if state.exists():
                break
            time.sleep(0.1)
        assert json.loads(state.read_text())["api_url"] == f"http://127.0.0.1:{port}"
        chat = vecinos("chat", "--as", "amina", cwd=tmp_path, stdin="/start\n", timeout=60)
        assert chat.returncode == 0, chat.stderr
        assert "Vecinos" in chat.stdout and "العربية" in chat.stdout and "[1] Español" in chat.stdout
        manager = vecinos("chat", "--as", "manager", cwd=tmp_path, stdin="/pending\n", timeout=60)
        assert "No hay solicitudes pendientes" in manager.stdout or "pendiente" in manager.stdout, manager.stdout
    finally:
        sandbox.terminate()
        output = sandbox.communicate(timeout=20)[0]
    assert "Traceback" not in output, output
