"""Helpers of the approval tests: agents that count their calls, a clock the test moves."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from podium import Agent, TaskCall
from podium.events import AnyEvent


class Clock:
    """A clock the test sets; it advances a microsecond per reading so events stay ordered."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Worker:
    """A Python agent that returns ``done <task>`` and counts the calls per task."""

    def __init__(self, name: str = "w") -> None:
        self.calls: Counter[str] = Counter()
        self.agent = Agent(name=name, function=self)

    async def __call__(self, call: TaskCall) -> Any:
        self.calls[call.task_id] += 1
        return f"done {call.task_id}"


@pytest.fixture
def worker() -> Worker:
    return Worker()


def kinds(events: list[AnyEvent], task: str | None = None) -> list[str]:
    return [type(e).__name__ for e in events if task is None or getattr(e, "task", None) == task]


@pytest.fixture
def isolated(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run in `tmp_path` with a ledger of what the data agents did; undo sys.path changes."""
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.setenv("PODIUM_TEST_LEDGER", str(tmp_path / "ledger.txt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read_ledger(folder: Any) -> list[str]:
    path = folder / "ledger.txt"
    return path.read_text(encoding="utf-8").split() if path.exists() else []
