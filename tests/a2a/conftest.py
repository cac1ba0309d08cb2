"""A real A2A server for tests: uvicorn in a thread on a free port, a SQLite file store.

`a2a_server(name)` serves ``tests/a2a/data/NAME.yaml`` and returns an `A2AServed`: its URL, its
store URL and a `stop()`; a second call with the same store plays a restarted server.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from podium.a2a import A2ASettings, create_app
from podium.plan import load_workflow
from podium.server import AuthConfig

DATA = Path(__file__).parent / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class A2AServed:
    url: str
    store_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "the server did not stop"


Serve = Callable[..., A2AServed]


@pytest.fixture
def a2a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    monkeypatch.syspath_prepend(str(DATA))
    monkeypatch.setenv("PODIUM_A2A_GATE", str(tmp_path / "gate"))
    started: list[A2AServed] = []

    def serve(name: str, *, store: str | None = None, auth: AuthConfig | None = None) -> A2AServed:
        store_url = store or f"sqlite:///{tmp_path / 'a2a.db'}"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        workflow = load_workflow(str(DATA / f"{name}.yaml"), require_tasks=name != "team")
        settings = A2ASettings(store=store_url, url=url, auth=auth, poll_s=0.05)
        app = create_app(workflow, settings)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(4000):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.005)
        assert server.started, "the A2A server did not start"
        served = A2AServed(url, store_url, server, thread)
        started.append(served)
        return served

    yield serve
    for served in started:
        if served.thread.is_alive():
            served.stop()
    sys.modules.pop("a2a_test_agents", None)
