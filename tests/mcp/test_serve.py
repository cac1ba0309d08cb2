"""`podium mcp serve`, driven by the MCP SDK's own client over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import Implementation

from podium import Agent, Plan, Task
from podium.cli._mcp import endpoint_url, parse_bind
from podium.cli._mcp_runs import BackgroundRuns
from podium.cli._mcp_server import build_server
from podium.events import ApprovalGranted, RunSubmitted
from podium.exceptions import ConfigError
from podium.models import ModelRequest
from podium.plan import Workflow, load_workflow_text
from podium.runtime import Orchestrator
from podium.testing import FunctionModel
from tests.mcp.conftest import free_port, stop, wait_for_port

pytestmark = pytest.mark.anyio

PODIUM = str(Path(sys.executable).with_name("podium"))
FLOW = """\
name: notes
inputs:
  topic: {type: string, default: tides}
agents:
  writer:
    model: test
    description: writes short notes
tasks:
  - id: draft
    agent: writer
    instruction: "Write a note on {{ inputs.topic }}"
  - id: publish
    agent: writer
    needs: draft
    approval: required
    instruction: "Publish the note"
"""
HOST = Implementation(name="test-host", version="1.0")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    flow = tmp_path / "notes.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    return flow, tmp_path / "runs.db"


def serve_args(flow: Path, store: Path) -> list[str]:
    return ["mcp", "serve", str(flow), "--store", str(store)]


@pytest.fixture
async def stdio_client(files: tuple[Path, Path]) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=PODIUM, args=serve_args(*files))
    async with Client(params, client_info=HOST, read_timeout_seconds=60) as client:
        yield client


@pytest.fixture
def http_url(files: tuple[Path, Path]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [PODIUM, *serve_args(*files), "--http", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)
        assert process.stderr is not None
        process.stderr.close()


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content = result.structured_content
    assert content is not None
    return content.get("result", content) if set(content) == {"result"} else content


async def wait_until_ended(client: Client, run_id: str) -> dict[str, Any]:
    for _ in range(200):
        run: dict[str, Any] = await call(client, "get_run", run_id=run_id)
        if run["status"] not in {"running", "waiting"}:
            return run
        await anyio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {run['status']}")


async def test_a_workflow_runs_parks_and_is_approved_over_stdio(
    stdio_client: Client, files: tuple[Path, Path]
) -> None:
    client = stdio_client
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"run_workflow", "get_run", "list_approvals", "approve", "reject", "ask_writer"}
    notified: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notified.append((progress, total, message))

    result = await client.call_tool(
        "run_workflow",
        {"inputs": {"topic": "moon"}, "wait": True},
        progress_callback=on_progress,
    )
    run = result.structured_content
    assert run is not None
    assert run["status"] == "waiting"
    assert run["reason"] == "approval"
    assert notified == [(1, 2, "task draft succeeded")]
    pending = await call(client, "list_approvals")
    assert [(a["run_id"], a["task"]) for a in pending] == [(run["run_id"], "publish")]
    decided = await call(client, "approve", run_id=run["run_id"], comment="fine")
    assert decided == {"run_id": run["run_id"], "decision": "approved", "by": "mcp:test-host"}
    ended = await wait_until_ended(client, run["run_id"])
    assert ended["status"] == "succeeded"
    journal = await client.read_resource(f"podium://runs/{run['run_id']}/journal")
    assert '"ApprovalGranted"' in journal.contents[0].text  # type: ignore[union-attr]
    async with Orchestrator(store=str(files[1])) as orch:  # the store has it, by the caller
        events = await orch.events(run["run_id"])
    (decision,) = [e for e in events if isinstance(e, ApprovalGranted)]
    assert (decision.by, decision.comment) == ("mcp:test-host", "fine")


async def test_agents_are_tools_and_errors_are_tool_errors_over_stdio(
    stdio_client: Client,
) -> None:
    client = stdio_client
    answer = await client.call_tool("ask_writer", {"instruction": "a note with {braces}"})
    assert not answer.is_error
    assert answer.content
    missing = await client.call_tool("get_run", {"run_id": "nope"})
    assert missing.is_error
    assert "nope" in str(missing.content)
    bad = await client.call_tool("run_workflow", {"inputs": {"colour": "red"}})
    assert bad.is_error
    assert "colour" in str(bad.content)
    wrong = await client.call_tool("approve", {"run_id": "nope"})
    assert wrong.is_error


async def test_runs_start_in_the_background_and_are_rejected_over_http(http_url: str) -> None:
    async with Client(http_url, client_info=HOST, read_timeout_seconds=60) as client:
        started = await call(client, "run_workflow")
        assert started["status"] == "running"
        run_id = started["run_id"]
        for _ in range(200):
            run = await call(client, "get_run", run_id=run_id)
            if run["status"] == "waiting":
                break
            await anyio.sleep(0.05)
        decided = await call(client, "reject", run_id=run_id, comment="not now")
        assert decided["decision"] == "rejected"
        ended = await wait_until_ended(client, run_id)
        assert ended["status"] in {"failed", "partially_succeeded"}
        listed = await client.read_resource("podium://runs")
        assert run_id in listed.contents[0].text  # type: ignore[union-attr]
        result = await client.read_resource(f"podium://runs/{run_id}")
        assert ended["status"] in result.contents[0].text  # type: ignore[union-attr]


def test_the_http_endpoint_listens_on_loopback_only() -> None:
    assert parse_bind("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert parse_bind("[::1]:9") == ("::1", 9)
    assert parse_bind("localhost:1") == ("localhost", 1)
    for bad in ("0.0.0.0:80", "example.com:80", "127.0.0.1:port", "127.0.0.1:70000"):
        with pytest.raises(ConfigError):
            parse_bind(bad)


# -- in process: the same server, on the SDK's in-memory transport ----------------------------


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Client, BackgroundRuns, Orchestrator]]:
    """The notes workflow's server, in this process."""
    workflow = load_workflow_text(FLOW, path=str(tmp_path / "notes.yaml"))
    orch = Orchestrator(agents=workflow.agents, store="memory://")
    async with orch, asyncio.TaskGroup() as group:
        runs = BackgroundRuns(orch, group)
        server = build_server(orch, workflow, runs, team=False)
        async with Client(server, client_info=HOST) as client:
            yield client, runs, orch
        runs.shutdown()


async def test_in_process_a_background_run_is_rejected_and_read_as_resources(
    served: tuple[Client, BackgroundRuns, Orchestrator],
) -> None:
    client, _, _ = served
    run_id = (await call(client, "run_workflow", inputs={"topic": "sand"}))["run_id"]
    for _ in range(200):
        if (await call(client, "get_run", run_id=run_id))["status"] == "waiting":
            break
        await anyio.sleep(0.01)
    assert (await call(client, "reject", run_id=run_id))["by"] == "mcp:test-host"
    ended = await wait_until_ended(client, run_id)
    assert ended["tasks"]["publish"]["status"] == "failed"
    runs = json.loads((await client.read_resource("podium://runs")).contents[0].text)  # type: ignore[union-attr]
    assert [r["run_id"] for r in runs] == [run_id]
    events = json.loads(
        (await client.read_resource(f"podium://runs/{run_id}/journal")).contents[0].text  # type: ignore[union-attr]
    )
    assert events[0]["kind"] == "RunSubmitted"
    assert events[-1]["kind"] == ended_kind(ended)
    bad = await client.call_tool("get_run", {"run_id": "missing"})
    assert bad.is_error


def ended_kind(run: dict[str, Any]) -> str:
    return {"failed": "RunFailed", "partially_succeeded": "RunPartiallySucceeded"}[run["status"]]


async def test_stopping_the_server_interrupts_the_runs_it_drives(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def slow(request: ModelRequest) -> str:
        await release.wait()  # never set: the run is in flight when the server stops
        return "late"

    agent = Agent(name="sloth", model=FunctionModel(slow))
    workflow = Workflow(name="slow", plan=Plan([Task(id="t", agent="sloth", instruction="go")]))
    orch = Orchestrator(agents=[agent], store=f"sqlite:///{tmp_path / 'runs.db'}")
    async with orch:
        async with asyncio.TaskGroup() as group:
            runs = BackgroundRuns(orch, group)
            server = build_server(orch, workflow, runs, team=False)
            async with Client(server) as client:
                run_id = (await call(client, "run_workflow"))["run_id"]
                assert runs.running(run_id)
            runs.shutdown()
        assert (await orch.result(run_id)).status == "interrupted"


TOKENS = {"alice-token-0123": "alice", "vic-token-4567": "vic"}
PUBLIC_URL = "https://mcp.example.org/podium/"


@pytest.fixture
def authed_url(files: tuple[Path, Path], tmp_path: Path) -> Iterator[str]:
    """``podium mcp serve --http --auth``: alice operates and approves, vic only views."""
    import hashlib

    alice, vic = (hashlib.sha256(t.encode()).hexdigest() for t in TOKENS)
    (tmp_path / "tokens.yaml").write_text(
        "tokens:\n"
        f"  - {{user: alice, roles: [operator, approver], token_sha256: {alice}}}\n"
        f"  - {{user: vic, roles: [viewer], token_sha256: {vic}}}\n",
        encoding="utf-8",
    )
    port = free_port()
    args = ["--http", f"127.0.0.1:{port}", "--auth", str(tmp_path / "tokens.yaml")]
    args += ["--public-url", PUBLIC_URL]
    process = subprocess.Popen(
        [PODIUM, *serve_args(*files), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)
        assert process.stderr is not None
        process.stderr.close()


@asynccontextmanager
async def bearer_client(url: str, token: str) -> AsyncIterator[Client]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, client_info=HOST, read_timeout_seconds=60) as client:
            yield client


async def test_with_auth_a_token_is_a_user_with_roles(
    authed_url: str, files: tuple[Path, Path]
) -> None:
    import httpx2

    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with httpx2.AsyncClient(timeout=30) as http:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            refused = await http.post(authed_url, json=hello, headers=headers)
            assert refused.status_code == 401, refused.text
            # the refusal says where to learn about the resource: at the public URL (RFC 9728)
            metadata = "https://mcp.example.org/.well-known/oauth-protected-resource/podium/mcp"
            assert f'resource_metadata="{metadata}"' in refused.headers["www-authenticate"]
        about = await http.get(metadata.replace("https://mcp.example.org", authed_url[:-4]))
        assert about.json()["resource"] == "https://mcp.example.org/podium/mcp"
    async with bearer_client(authed_url, "vic-token-4567") as vic:
        assert await call(vic, "list_approvals") == []
        denied = await vic.call_tool("run_workflow", {})
        assert denied.is_error
        assert "'vic' may not operate here: it needs the operator role" in str(denied.content)
    async with bearer_client(authed_url, "alice-token-0123") as alice:
        run = await call(alice, "run_workflow", wait=True)
        assert run["status"] == "waiting"
        decided = await call(alice, "approve", run_id=run["run_id"])
        assert decided["by"] == "mcp:alice"
        assert (await wait_until_ended(alice, run["run_id"]))["status"] == "succeeded"
    async with Orchestrator(store=str(files[1])) as orch:
        events = await orch.events(run["run_id"])
    submitted = events[0]
    assert isinstance(submitted, RunSubmitted)
    assert submitted.by == "mcp:alice"
    (granted,) = [e for e in events if isinstance(e, ApprovalGranted)]
    assert granted.by == "mcp:alice"


def test_with_auth_the_endpoint_may_listen_beyond_loopback() -> None:
    assert parse_bind("0.0.0.0:8000", authenticated=True) == ("0.0.0.0", 8000)
    with pytest.raises(ConfigError, match="give --auth FILE"):
        parse_bind("0.0.0.0:8000")


def test_the_endpoint_is_named_as_hosts_reach_it() -> None:
    assert endpoint_url(("127.0.0.1", 80)) == "http://127.0.0.1:80"
    assert endpoint_url(("::1", 80)) == "http://[::1]:80"
    assert endpoint_url(("0.0.0.0", 80)) == f"http://{socket.getfqdn()}:80"  # not 0.0.0.0
    assert endpoint_url(("0.0.0.0", 80), "https://a.example/x/") == "https://a.example/x"
    for bad in (
        "ftp://a.example",
        "https://",
        "https://a.example/?q=1",
        "https://u:p@a.example",
        "https://a.example:port",
        "a.example",
    ):
        with pytest.raises(ConfigError, match="--public-url"):
            endpoint_url(("0.0.0.0", 80), bad)
