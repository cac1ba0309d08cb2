"""Helpers shared by tests in several folders."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn

import pytest

PODIUM = str(Path(sys.executable).parent / "podium")
"""The `podium` console script of the environment running the tests."""


def journal(db: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's events in a SQLite store as JSON objects, read-only; empty until it exists."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute(
                "SELECT data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    return [json.loads(r[0]) for r in rows]


class ProcessDeath:
    """Stands for the driving process dying at a point of the test's choosing.

    `run` drives a coroutine (an ``orch.run(...)``) as a task; `now`, called from inside an
    agent, a model or a tool, cancels that task there, so nothing after that point is decided or
    journaled. (An exception raised by an agent cannot stand for a crash: it is the agent's
    failure, which the run records and handles.)
    """

    def __init__(self) -> None:
        self._victim: asyncio.Future[Any] | None = None

    async def run(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._victim = asyncio.ensure_future(coro)
        with pytest.raises(asyncio.CancelledError):
            await self._victim

    def now(self) -> NoReturn:
        assert self._victim is not None, "ProcessDeath.now() outside ProcessDeath.run()"
        self._victim.cancel()
        raise asyncio.CancelledError
