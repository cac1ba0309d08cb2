"""Fixtures of the CLI tests: an isolated working folder, a store, a ledger of agent calls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in `tmp_path`, with no PODIUM_STORE, and undo what the CLI adds to sys.path."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.setenv("PODIUM_TEST_LEDGER", str(tmp_path / "ledger.txt"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A SQLite store URL in the test's folder."""
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def ledger(tmp_path: Path) -> Callable[[], list[str]]:
    """The ids of the tasks the test agents ran, in order."""

    def read() -> list[str]:
        path = tmp_path / "ledger.txt"
        return path.read_text(encoding="utf-8").split() if path.exists() else []

    return read
