"""End to end: ``podium run --trace otlp`` into a real Arize Phoenix, and the spans read back.

Phoenix runs from its own venv (``.venv-phoenix``, made by ``make install-dev``): it pins many
packages and registers a pytest plugin, so it stays out of the project's ``.venv``. The test
starts ``phoenix serve`` on free ports in a temporary working folder, runs a workflow through
the CLI in a subprocess with a test model, and reads the spans over Phoenix's REST API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.telemetry._ids import run_span_id, run_trace_id

ROOT = Path(__file__).parents[2]
PHOENIX = ROOT / ".venv-phoenix" / "bin" / "phoenix"
FLOW = Path(__file__).parent / "data" / "traced.yaml"
PODIUM = Path(sys.executable).parent / "podium"
POLLS = 240
"""Polls of a quarter second: Phoenix takes 20 s or so to start on a busy 2-core machine."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment less any OpenTelemetry or Podium tracing setting, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "PODIUM_TRACE", "PHOENIX_"))
    }
    return env | extra


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Phoenix server's base URL (it also takes OTLP/HTTP at ``/v1/traces``)."""
    if not PHOENIX.exists():
        pytest.fail(
            f"{PHOENIX} is missing: the tracing end-to-end test needs Arize Phoenix in its own"
            " venv; run `make install-dev` (it makes .venv-phoenix)"
        )
    workdir = tmp_path_factory.mktemp("phoenix")
    port, grpc = free_port(), free_port()
    env = clean_env(
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(grpc),
        PHOENIX_HOST="127.0.0.1",
    )
    with (workdir / "phoenix.log").open("wb") as log:
        server = subprocess.Popen(
            [str(PHOENIX), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, url, workdir / "phoenix.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    for _ in range(POLLS):
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"Phoenix exited ({server.returncode}):\n{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"Phoenix did not answer at {url}: see {log}")


def spans_of(url: str, trace_id: str, count: int) -> list[dict[str, Any]]:
    """The spans of trace `trace_id` in Phoenix's default project, once `count` have arrived."""
    found: list[dict[str, Any]] = []
    for _ in range(POLLS):
        answer = httpx.get(f"{url}/v1/projects/default/spans", params={"limit": 1000}, timeout=5)
        answer.raise_for_status()
        found = [s for s in answer.json()["data"] if s["context"]["trace_id"] == trace_id]
        if len(found) >= count:
            return found
        time.sleep(0.25)
    pytest.fail(f"Phoenix holds {len(found)} spans of trace {trace_id}, not {count}: {found}")


def test_a_traced_run_reaches_phoenix_whole(phoenix: str, tmp_path: Path) -> None:
    run_id = "phoenix-round-trip"
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=phoenix, PODIUM_TRACE_CONTENT="1")
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    command = [str(PODIUM), "run", str(FLOW), "--store", store, "--run-id", run_id]
    done = subprocess.run(
        [*command, "--json", "--trace", "otlp"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"

    trace_id = f"{run_trace_id(run_id):032x}"
    spans = spans_of(phoenix, trace_id, 6)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    assert sorted((name, len(found)) for name, found in by_name.items()) == [
        ("chat test", 2),
        ("execute_tool lookup", 1),
        ("invoke_agent researcher", 1),
        ("invoke_agent writer", 1),
        ("invoke_workflow traced", 1),
    ]
    (run,) = by_name["invoke_workflow traced"]
    (researcher,) = by_name["invoke_agent researcher"]
    (writer,) = by_name["invoke_agent writer"]
    assert run["parent_id"] is None
    assert run["context"]["span_id"] == f"{run_span_id(run_id):016x}"
    assert researcher["parent_id"] == writer["parent_id"] == run["context"]["span_id"]
    calls = [*by_name["chat test"], *by_name["execute_tool lookup"]]
    assert {s["parent_id"] for s in calls} == {researcher["context"]["span_id"]}
    assert run["status_code"] == "OK"
    assert researcher["span_kind"] == "AGENT"  # Phoenix reads the GenAI conventions
    assert {s["span_kind"] for s in by_name["chat test"]} == {"LLM"}

    check_attributes(run["attributes"], by_name, run_id)


def check_attributes(run: dict[str, Any], by_name: dict[str, Any], run_id: str) -> None:
    assert run["podium.run_id"] == run_id
    assert run["podium.run.status"] == "succeeded"
    assert run["gen_ai.workflow.name"] == "traced"
    chat = by_name["chat test"][0]["attributes"]
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == "test"
    assert chat["gen_ai.request.model"] == "test"
    assert chat["gen_ai.usage.input_tokens"] > 0
    assert chat["podium.task"] == "research"
    assert "Research the tides" in chat["gen_ai.input.messages"]  # content was switched on
    tool = by_name["execute_tool lookup"][0]["attributes"]
    assert tool["gen_ai.tool.name"] == "lookup"
    assert json.loads(tool["gen_ai.tool.call.result"]).startswith("notes on")
    tokens = sum(s["attributes"]["gen_ai.usage.input_tokens"] for s in by_name["chat test"])
    assert run["gen_ai.usage.input_tokens"] == tokens
