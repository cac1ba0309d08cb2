"""Stores: the `Store` protocol and its backends (memory, SQLite, Postgres)."""

from __future__ import annotations

import os

from podium.exceptions import ConfigError
from podium.store._memory import MemoryStore
from podium.store._outcomes import Outcome, OutcomeStats
from podium.store._protocol import RunInfo, Store, status_after

DEFAULT_STORE = "sqlite:///podium.db"


def open_store(url: str | None = None) -> Store:
    """A store for a URL (not yet opened).

    ``memory://``; ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain ``*.db``
    path; ``postgresql://…`` (needs the ``postgres`` extra). ``None`` reads ``PODIUM_STORE`` and
    falls back to ``podium.db`` in the working directory.
    """
    url = url or os.environ.get("PODIUM_STORE") or DEFAULT_STORE
    if url in {"memory://", "memory"}:
        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        from podium.store._postgres import PostgresStore

        return PostgresStore(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path
        from podium.store._sqlite import SQLiteStore

        return SQLiteStore(path or "podium.db")
    if "://" not in url:
        from podium.store._sqlite import SQLiteStore

        return SQLiteStore(url)
    raise ConfigError(
        f"unknown store URL {url!r}: use memory://, sqlite:///FILE.db or postgresql://…"
    )


__all__ = [
    "DEFAULT_STORE",
    "MemoryStore",
    "Outcome",
    "OutcomeStats",
    "RunInfo",
    "Store",
    "open_store",
    "status_after",
]
