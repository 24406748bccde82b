"""The import directions of DESIGN.md, enforced by walking every module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = {"aiogram", "telegram", "sqlalchemy", "alembic", "aiohttp", "asyncpg", "aiosqlite"}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports (absolute or relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", files("bot/domain"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_imports_only_the_standard_library(path: Path) -> None:
    allowed_own = {"bot.domain"}
    for name in imported_modules(path):
        top = name.split(".")[0]
        if name.startswith(tuple(allowed_own)) or name == "__future__":
            continue
        assert top in sys.stdlib_module_names, f"{path.name} imports {name}, outside the standard library"


@pytest.mark.parametrize("path", files("handlers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_handlers_import_no_framework_and_no_sql(path: Path) -> None:
    for name in imported_modules(path):
        top = name.split(".")[0]
        assert top not in FRAMEWORKS, f"{path.name} imports {name}"
        assert not name.startswith("bot.channels.") or name == "bot.channels.base", f"{path.name} imports {name}"


@pytest.mark.parametrize("package", ["handlers", "storage", "bot/domain"])
def test_no_package_below_the_channels_imports_a_chat_framework(package: str) -> None:
    for path in files(package):
        for name in imported_modules(path):
            assert name.split(".")[0] not in {"aiogram", "telegram"}, f"{path} imports {name}"


def test_sql_lives_only_in_storage() -> None:
    for package in ("bot", "handlers"):
        for path in files(package):
            for name in imported_modules(path):
                assert name.split(".")[0] != "sqlalchemy", f"{path} imports {name}: SQL belongs in storage/"


def test_checker_catches_a_breach(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import aiogram\nfrom sqlalchemy import select\n")
    assert {"aiogram", "sqlalchemy"} <= imported_modules(bad)
