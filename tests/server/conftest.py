"""A real `podium serve` for tests: uvicorn in a thread on a free port, a SQLite file store.

The `server` fixture gives a `Served`: its URL, its store, and helpers to submit a registered
workflow and to park a run on an approval. Registered workflows (``tests/server/data``):
``hello`` (a Python agent, then a test model), ``gated`` (task ``send`` waits for approval),
``slow`` (a task that sleeps ``seconds``, default 30) and ``failing``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from podium.server import AuthConfig, ServerSettings, create_app
from podium.server._app import stop_streams

DATA = Path(__file__).parent / "data"
FINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}


class ServerThread:
    """uvicorn serving `app` in a background thread (its own event loop), on a free port."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        config = uvicorn.Config(
            app, host=host, port=0, log_level="warning", lifespan="on", ws="none", http="h11"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def start(self) -> str:
        self.thread.start()
        for _ in range(2000):
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.005)
        assert self.server.started, "the server did not start"
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_streams(self.server.config.app)
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "the server did not stop"


@dataclass
class Served:
    """A running server: where it listens, its store, and helpers."""

    url: str
    store_url: str
    store_path: Path
    app: FastAPI
    token: str | None = None
    thread: ServerThread | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the server now (the runs it drives are interrupted, resumable)."""
        self.close()
        if self.thread is not None and self.thread.thread.is_alive():
            self.thread.stop()

    def client(self, token: str | None = None) -> httpx.Client:
        """A client of the server (with the fixture's token, or `token`)."""
        bearer = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60)
        self._clients.append(client)
        return client

    def submit(
        self, workflow: str, inputs: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"workflow": workflow, "inputs": inputs or {}}
        if run_id is not None:
            body["run_id"] = run_id
        response = self.client().post("/api/runs", json=body)
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()
        return data

    def wait(self, run_id: str, statuses: set[str] = FINAL, tries: int = 3000) -> dict[str, Any]:
        """The run's detail once its status is one of `statuses` (polled)."""
        client = self.client()
        for _ in range(tries):
            data: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
            if data.get("status") in statuses:
                return data
            time.sleep(0.01)
        raise AssertionError(f"run {run_id} stayed {data.get('status')!r}")

    def park(self, inputs: dict[str, Any] | None = None) -> str:
        """Submit ``gated`` and return its run id once it waits for approval of ``send``."""
        run = self.submit("gated", inputs)
        self.wait(run["run_id"], {"waiting"})
        return str(run["run_id"])

    def close(self) -> None:
        for client in self._clients:
            client.close()


StartServer = Callable[..., Served]


@pytest.fixture
def start_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartServer]:
    """Start servers on one store (stopped at the end of the test)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    started: list[Served] = []

    def start(
        *, store_url: str | None = None, auth: AuthConfig | None = None, token: str | None = None
    ) -> Served:
        path = tmp_path / "runs.db"
        url = store_url or f"sqlite:///{path}"
        settings = ServerSettings(store=url, workflows=(DATA,), auth=auth, poll_s=0.05)
        app = create_app(settings)
        thread = ServerThread(app)
        served = Served(thread.start(), url, path, app, token, thread)
        started.append(served)
        return served

    yield start
    for served in reversed(started):
        served.stop()


@pytest.fixture
def server(start_server: StartServer) -> Served:
    """A running server without auth on a SQLite file (see the module docstring)."""
    return start_server()


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Parse a text/event-stream into its messages (``id``, ``event``, ``data``)."""
    message: dict[str, str] = {}
    for line in lines:
        if not line:
            if message:
                yield message
                message = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        message[name] = value.removeprefix(" ")
