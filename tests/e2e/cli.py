"""The `vecinos` command run in this process (its real `main`, the real database): for the many refusal and
listing cases, where starting a process each time would cost seconds and prove nothing more. The journeys that
must show separate processes (an office's run, byte-identical counts) still use a subprocess."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main


@dataclass(frozen=True)
class Ran:
    """What a command returned and printed."""

    returncode: int
    stdout: str
    stderr: str


class InProcessCli:
    """`vecinos ARGS` against a database in `folder`, with no VECINOS_ setting but those given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], folder: Path) -> None:
        self.monkeypatch, self.capsys, self.folder = monkeypatch, capsys, folder
        for name in [n for n in os.environ if n.startswith("VECINOS_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("VECINOS_DATABASE_URL", f"sqlite:///{folder}/v.db")
        monkeypatch.setenv("VECINOS_HTTP_PORT", "0")
        monkeypatch.chdir(folder)

    def run(self, *args: str) -> Ran:
        """Run one command; its exit code and output."""
        self.capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusing an argument
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return Ran(code, out, err)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; its output."""
        ran = self.run(*args)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    def refused(self, *args: str) -> str:
        """Run a command that must be refused with one line and exit code 2; that line."""
        ran = self.run(*args)
        assert ran.returncode == 2, (ran.stdout, ran.stderr)
        lines = [line for line in ran.stderr.strip().splitlines() if " INFO " not in line]
        assert len(lines) == 1 and "Traceback" not in ran.stderr, ran.stderr
        return lines[0]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> InProcessCli:
    """`vecinos` in this process, on a fresh SQLite database in the test's folder."""
    return InProcessCli(monkeypatch, capsys, tmp_path)
