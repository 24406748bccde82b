"""The command line as a newcomer meets it: clear configuration errors, seeding, and the local sandbox."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def vecinos(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")} | {"VECINOS_HTTP_PORT": "0"}
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
        ("VECINOS_DATABASE_POOL_SIZE", "0"),
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
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")} | {"VECINOS_HTTP_PORT": "0"}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--no-chat", "--sandbox-port", str(port), "--web-port", "0"],
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
        addresses = json.loads(state.read_text())
        assert addresses["api_url"] == f"http://127.0.0.1:{port}"
        # The web chat listens on the free port it was given (--web-port 0) and says so.
        import urllib.request

        with urllib.request.urlopen(addresses["web_url"], timeout=30) as page:
            assert "Vecinos sandbox" in page.read().decode()
        with urllib.request.urlopen(addresses["web_url"] + "api/personas", timeout=30) as personas:
            assert {"resident", "amina", "delegate", "manager", "police"} <= {p["key"] for p in json.load(personas)}
        chat = vecinos("chat", "--as", "amina", cwd=tmp_path, stdin="/start\n", timeout=60)
        assert chat.returncode == 0, chat.stderr
        assert "Vecinos" in chat.stdout and "العربية" in chat.stdout and "[1] Español" in chat.stdout
        manager = vecinos("chat", "--as", "manager", cwd=tmp_path, stdin="/pending\n", timeout=60)
        assert "No hay solicitudes pendientes" in manager.stdout or "pendiente" in manager.stdout, manager.stdout
    finally:
        sandbox.terminate()
        output = sandbox.communicate(timeout=20)[0]
    assert "Traceback" not in output, output
    assert f"Web chat (several people side by side): open {addresses['web_url']} in a browser" in output, output


def wait_for_port(port: int, process: subprocess.Popen[str], within: float = 30.0) -> None:
    """Waits until something listens on 127.0.0.1:port (fails early if the process died)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {within} s")


def control(port: int, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One control-API call to a fake server on this port (GET without body, POST with one)."""
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/__control/{token}/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def test_fake_telegram_takes_a_send_latency_and_a_state_dir(tmp_path):
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")} | {"VECINOS_HTTP_PORT": "0"}
    args = ["fake-telegram", "--port", str(port), "--latency", "30-250", "--state-dir", "var"]
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, server)
        state = control(port, "1:x", "state")
        assert state["send_latency_ms"] == [30.0, 250.0]
        assert state["state_file"] == str(Path("var") / "fake-telegram.json")
        control(port, "1:x", "message", {"user_id": 5, "text": "hola"})
        assert (tmp_path / "var" / "fake-telegram.json").exists()
    finally:
        server.terminate()
        server.communicate(timeout=20)
    bad = vecinos("fake-telegram", "--latency", "fast", cwd=tmp_path)
    assert bad.returncode == 2 and "MIN-MAX" in bad.stderr


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command that failed with exit code 2, without a traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_chat_without_a_running_sandbox_is_one_line_and_exit_code_2(tmp_path):
    missing = one_line(vecinos("chat", "--as", "manager", cwd=tmp_path, stdin=""))
    assert missing.startswith("vecinos: no sandbox is running in this folder")
    assert "start one with `make run` in this folder (or pass --api and --token)" in missing

    # A sandbox that stopped leaves var/sandbox.json pointing at a port nobody listens on.
    port = free_port()
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "sandbox.json").write_text(json.dumps({"api_url": f"http://127.0.0.1:{port}", "token": "1:x"}))
    gone = one_line(vecinos("chat", "--as", "manager", cwd=tmp_path, stdin=""))
    assert gone == (
        f"vecinos: no sandbox is running at http://127.0.0.1:{port}: "
        "start one with `make run` in this folder (or pass --api and --token)"
    )


def test_a_busy_port_is_one_line_and_exit_code_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        sandbox = one_line(
            vecinos("run", "--no-chat", "--sandbox-port", str(port), "--web-port", "0", cwd=tmp_path, stdin="")
        )
        assert f"port {port} on 127.0.0.1 is already in use" in sandbox and "--sandbox-port" in sandbox
        web = one_line(
            vecinos("run", "--no-chat", "--sandbox-port", "0", "--web-port", str(port), cwd=tmp_path, stdin="")
        )
        assert f"port {port} on 127.0.0.1 is already in use" in web and "--web-port" in web
        # The sandbox that owns the port keeps its var/sandbox.json.
        assert not (tmp_path / "var" / "sandbox.json").exists()
        server = one_line(vecinos("fake-telegram", "--port", str(port), cwd=tmp_path))
        assert f"port {port} on 127.0.0.1 is already in use" in server and "--port N" in server


def test_command_error_lives_in_bot_errors():
    from bot.cli import CommandError as FromCli
    from bot.errors import CommandError

    assert FromCli is CommandError
    assert "from bot.cli" not in (ROOT / "bot" / "sandbox" / "local.py").read_text()


def start_headless_sandbox(folder: Path, port: int) -> subprocess.Popen[str]:
    """`vecinos run --no-chat` with no token in folder: fake Telegram, the bot, no terminal chat."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECINOS_")} | {"VECINOS_HTTP_PORT": "0"}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--no-chat", "--sandbox-port", str(port), "--web-port", "0"],
        cwd=folder,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, sandbox, within=60)
    return sandbox


def stop(sandbox: subprocess.Popen[str]) -> str:
    """Ctrl+C, as a person stops `make run`; returns everything it printed."""
    sandbox.send_signal(signal.SIGINT)
    output = sandbox.communicate(timeout=60)[0]
    assert sandbox.returncode == 0, output
    return output


def resident_says(port: int, text: str) -> tuple[int, list[dict[str, Any]]]:
    """John writes to the sandbox bot; returns the update id and the bot's first answer(s) after it."""
    token = "123456:SANDBOX-local"
    before = control(port, token, "chats/1003/messages?timeout=0")["messages"]
    seen = max((int(m["message_id"]) for m in before), default=0)
    sent = control(port, token, "message", {"user_id": 1003, "text": text, "first_name": "John", "language_code": "en"})
    answers = control(port, token, f"chats/1003/messages?since={seen}&wait=1&timeout=45")["messages"]
    return int(sent["update_id"]), answers


def test_a_returning_resident_is_answered_after_the_sandbox_restarts(tmp_path):
    port = free_port()
    first = start_headless_sandbox(tmp_path, port)
    try:
        update_before, answers = resident_says(port, "/start")
        assert answers and "Vecinos" in str(answers[0]["text"])
    finally:
        output = stop(first)
    assert "Traceback" not in output, output

    second = start_headless_sandbox(tmp_path, port)
    try:
        # The bot's database (var/vecinos.db) remembers the update ids of the first run; new ones must be above.
        update_after, answers = resident_says(port, "/start")
        assert update_after > update_before
        assert answers, "the returning resident got no answer: the bot took the update for one it had handled"
    finally:
        output = stop(second)
    assert "Traceback" not in output, output
    assert (tmp_path / "var" / "fake-telegram.json").exists() and (tmp_path / "var" / "vecinos.db").exists()


def test_make_clean_removes_data_but_keeps_the_virtualenv():
    clean = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    distclean = subprocess.run(["make", "-n", "distclean"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "var" in clean and ".venv" not in clean
    assert ".venv" in distclean.stdout
