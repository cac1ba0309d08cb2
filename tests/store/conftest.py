"""The store backends every contract test runs against: memory, SQLite and Postgres."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from podium.store import MemoryStore, Store
from podium.store._postgres import PostgresStore
from podium.store._sqlite import SQLiteStore

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
DURABLE_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class Backend:
    """Makes stores of one kind that share their storage (a file, a Postgres schema)."""

    name: str
    factory: Callable[[], Store]
    opened: list[Store] = field(default_factory=list)

    async def new_store(self) -> Store:
        """A new, opened store on the backend's storage; closed at the end of the test."""
        store = self.factory()
        await store.open()
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh Postgres schema for one test, dropped afterwards."""
    schema = f"podium_test_{uuid.uuid4().hex[:16]}"
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if name == "memory":
        memory = MemoryStore()
        return Backend(name, lambda: memory)
    if name == "sqlite":
        path = str(tmp_path / "podium.db")
        return Backend(name, lambda: SQLiteStore(path))
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("postgres_schema")
    return Backend(name, lambda: PostgresStore(url, schema=schema))


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = _make_backend(request.param, request, tmp_path)
    yield made
    await made.close_all()


@pytest.fixture(params=DURABLE_BACKENDS)
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = _make_backend(request.param, request, tmp_path)
    yield made
    await made.close_all()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.new_store()
