"""Helpers shared by tests in several folders."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

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
