"""The live event stream (Server-Sent Events) over a real socket."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import DATA, Served, StartServer, sse_events


def read_stream(server: Served, run_id: str, **kwargs: Any) -> list[dict[str, str]]:
    with server.client().stream("GET", f"/api/runs/{run_id}/stream", **kwargs) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response.iter_lines()))


def test_a_finished_run_streams_whole_and_the_stream_ends(server: Served) -> None:
    run_id = server.submit("hello")["run_id"]
    server.wait(run_id)
    messages = read_stream(server, run_id)
    assert [int(m["id"]) for m in messages] == list(range(len(messages)))
    assert messages[0]["event"] == "RunSubmitted"
    assert messages[-1]["event"] == "RunSucceeded"
    assert '"kind":"RunSucceeded"' in messages[-1]["data"]


def test_the_stream_resumes_from_after_or_last_event_id(server: Served) -> None:
    run_id = server.submit("hello")["run_id"]
    server.wait(run_id)
    whole = read_stream(server, run_id)
    from_param = read_stream(server, run_id, params={"after": 3})
    assert from_param == whole[4:]
    from_header = read_stream(server, run_id, headers={"Last-Event-ID": "5"})
    assert from_header == whole[6:]
    last = whole[-1]["id"]
    assert read_stream(server, run_id, params={"after": last}) == []


def test_a_parked_run_streams_live_through_approval(server: Served) -> None:
    run_id = server.park()
    got: list[dict[str, str]] = []
    opened = threading.Event()

    def listen() -> None:
        with server.client().stream("GET", f"/api/runs/{run_id}/stream") as response:
            for message in sse_events(response.iter_lines()):
                got.append(message)
                if message["event"] == "RunWaiting":
                    opened.set()

    reader = threading.Thread(target=listen)
    reader.start()
    assert opened.wait(60)
    decided = server.client().post(f"/api/runs/{run_id}/approvals/send/approve", json={})
    assert decided.status_code == 200
    reader.join(60)
    assert not reader.is_alive()
    kinds = [m["event"] for m in got]
    assert kinds[-1] == "RunSucceeded"
    assert "ApprovalGranted" in kinds
    assert [int(m["id"]) for m in got] == list(range(len(got)))


@pytest.mark.slow
def test_a_run_driven_by_another_process_streams_by_polling(server: Served, tmp_path: Path) -> None:
    cli = [sys.executable, "-c", "from podium.cli import main; main()"]
    parked = subprocess.run(
        [*cli, "run", str(DATA / "gated.yaml"), "--store", server.store_url, "--run-id", "p1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert parked.returncode == 1, parked.stderr
    got: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with server.client().stream("GET", "/api/runs/p1/stream") as response:
            for message in sse_events(response.iter_lines()):
                got.append(message["event"])
                if message["event"] == "RunWaiting":
                    opened.set()

    reader = threading.Thread(target=listen)
    reader.start()
    assert opened.wait(60)
    approved = subprocess.run(
        [*cli, "approve", "p1", "send", "--as", "carol", "--store", server.store_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert approved.returncode == 0, approved.stderr
    reader.join(60)
    assert not reader.is_alive()
    assert got[-1] == "RunSucceeded"
    events = server.client().get("/api/runs/p1").json()
    assert events["decisions"][0]["by"] == "carol"


def test_a_client_that_leaves_frees_its_stream(server: Served) -> None:
    run_id = server.park()
    notifier = server.app.state.podium.notifier
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", f"/api/runs/{run_id}/stream") as response,
    ):
        for message in sse_events(response.iter_lines()):
            if message["event"] == "RunWaiting":
                break
        assert notifier.streams <= 1
    for _ in range(2000):
        if notifier.streams == 0:
            break
        threading.Event().wait(0.01)
    assert notifier.streams == 0


def test_stream_of_an_unknown_run_is_a_404(server: Served) -> None:
    response = server.client().get("/api/runs/nope/stream")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    bad = server.client().get("/api/runs/nope/stream", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 422


def test_stopping_the_server_ends_open_streams(start_server: StartServer) -> None:
    server = start_server()
    run_id = server.park()
    got: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=server.url, timeout=60) as client,
            client.stream("GET", f"/api/runs/{run_id}/stream") as response,
        ):
            for message in sse_events(response.iter_lines()):
                got.append(message["id"])
                if message["event"] == "RunWaiting":
                    opened.set()

    reader = threading.Thread(target=listen)
    reader.start()
    assert opened.wait(60)
    server.stop()
    reader.join(60)
    assert not reader.is_alive()
    assert got == [str(i) for i in range(len(got))]
