"""What the hostile-input tests share: stores on every durable backend, a proxy that cuts the
database off, agents that count what they did."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from podium import Agent, TaskCall
from podium.store import Store
from podium.store._postgres import PostgresStore
from podium.store._sqlite import SQLiteStore

DURABLE = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh Postgres schema, dropped afterwards."""
    schema = f"podium_hostile_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=DURABLE)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Makes stores (not opened) on one durable storage: a SQLite file or a Postgres schema."""
    if request.param == "sqlite":
        path = str(tmp_path / "podium.db")
        return lambda: SQLiteStore(path)
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("pg_schema")
    return lambda: PostgresStore(url, schema=schema)


class Counted:
    """A Python agent that returns ``done <task>`` after `delay_s` and counts its calls."""

    def __init__(self, name: str = "w", delay_s: float = 0.0) -> None:
        self.calls: Counter[str] = Counter()
        self.delay_s = delay_s
        self.started = asyncio.Event()
        self.agent = Agent(name=name, function=self)

    async def __call__(self, call: TaskCall) -> Any:
        self.calls[call.task_id] += 1
        self.started.set()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return f"done {call.task_id}"


class Proxy:
    """A TCP proxy in front of the Postgres server that the test can cut and restore: a server
    that goes away (every connection dropped, new ones refused) and comes back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.up = True
        self._swallow = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer),
            self._pipe(up_reader, writer, replies=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, replies: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if replies and self._swallow:
                    self._swallow = False
                    self.cut()
                    self.restore()
                    return
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._links.discard(writer)

    def lose_next_reply(self) -> None:
        """The server's next answer never arrives: the connection drops just before it."""
        self._swallow = True

    def cut(self) -> None:
        """The server goes away: every connection drops, new ones are refused."""
        self.up = False
        for writer in list(self._links):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def pg_proxy(postgres_url: str) -> AsyncIterator[tuple[Proxy, str]]:
    """A proxy to the test server and the URL that goes through it."""
    parts = urlsplit(postgres_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    await proxy.start()
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else ""
    url = urlunsplit(parts._replace(netloc=netloc or f"127.0.0.1:{proxy.port}"))
    yield proxy, url
    await proxy.close()
