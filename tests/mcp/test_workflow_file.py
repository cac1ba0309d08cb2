"""The ``mcp_servers`` section of workflow files, and record/replay of MCP tool calls."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from podium import Agent, Orchestrator, Plan, Task
from podium.events import ToolCalled
from podium.exceptions import PlanValidationError
from podium.mcp import McpServer
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow, load_workflow_text
from podium.testing import FunctionModel
from tests.mcp.conftest import TOOLBOX, start_toolbox_http, stop

pytestmark = pytest.mark.anyio

WORKFLOW = f"""\
name: sums
mcp_servers:
  box:
    command: python
    args: [{TOOLBOX.name}]
    tools: [add, echo]
    effects: {{echo: write}}
agents:
  adder:
    model: test
    tools: [add]
tasks:
  - id: total
    agent: adder
    instruction: add some numbers
"""


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    """The workflow beside a copy of the toolbox, which its `args` name relatively."""
    shutil.copy(TOOLBOX, tmp_path / TOOLBOX.name)
    path = tmp_path / "sums.yaml"
    path.write_text(WORKFLOW, encoding="utf-8")
    return path


async def test_a_workflow_gives_its_agents_the_allowed_mcp_tools(workflow_file: Path) -> None:
    workflow = load_workflow(workflow_file)
    (agent,) = workflow.agents
    assert [(t.name, t.effect) for t in agent.tools] == [("add", "read")]
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(workflow)
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    assert [(c.tool, c.result) for c in calls] == [("add", {"result": 0})]  # TestModel: a=b=0


def test_checking_a_file_contacts_no_server(tmp_path: Path) -> None:
    text = WORKFLOW.replace("command: python", "command: /nonexistent/server")
    workflow = load_workflow_text(text, path=str(tmp_path / "wf.yaml"), import_code=False)
    (agent,) = workflow.agents
    assert [t.name for t in agent.tools] == ["add"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  box: {command: /nonexistent/server}", "cannot list the tools of MCP server 'box'"),
        ("  box: {url: 'http://127.0.0.1:9/mcp', connect_timeout_s: 5}", "cannot open a session"),
        ("  box: {}", "exactly one of `command` and `url`"),
        ("  box: {command: python, colour: red}", "unknown key 'colour'"),
        ("  box: {command: python, effect: delete}", "delete"),
        (
            f"  box: {{command: python, args: [{TOOLBOX}], tools: [add, nope]}}",
            r"has no tool(s) ['nope']",
        ),
    ],
)
def test_problems_of_the_section_point_at_its_line(
    tmp_path: Path, section: str, message: str
) -> None:
    text = f"mcp_servers:\n{section}\ntasks:\n  - {{id: a, agent: x, instruction: go}}\n"
    path = tmp_path / "wf.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(path)
    found = [p for p in caught.value.problems if message in p.message]
    assert found, [str(p) for p in caught.value.problems]
    assert found[0].line == 2


def test_an_mcp_tool_named_like_a_python_tool_is_reported(tmp_path: Path) -> None:
    text = (
        f"tools:\n  add: {{python: 'operator:add'}}\n"
        f"mcp_servers:\n  box: {{command: python, args: [{TOOLBOX}], tools: [add]}}\n"
        "tasks:\n  - {id: a, agent: x, instruction: go}\n"
    )
    path = tmp_path / "wf.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanValidationError, match="'add' is defined twice"):
        load_workflow(path)


async def test_a_cassette_records_mcp_calls_and_replays_them_without_the_server(
    tmp_path: Path,
) -> None:
    process, url = start_toolbox_http()
    tools = tuple(await McpServer(name="box", url=url, tools=("add", "echo")).list_tools())

    def model_answer(request: ModelRequest) -> ModelResponse | str:
        seen = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not seen:
            return ModelResponse(
                tool_calls=(
                    ToolCall(id="1", name="add", arguments={"a": 20, "b": 22}),
                    ToolCall(id="2", name="echo", arguments={"text": "hello"}),
                )
            )
        return " + ".join(m.content for m in seen)

    def team() -> list[Agent]:
        return [Agent(name="user", model=FunctionModel(model_answer), tools=tools)]

    plan = Plan([Task(id="t", agent="user", instruction="go")])
    cassette = tmp_path / "run.jsonl"
    try:
        async with Orchestrator(agents=team(), store="memory://", record=cassette) as orch:
            recorded = await orch.run(plan, run_id="r1")
    finally:
        stop(process)  # the server is gone for the replay
    async with Orchestrator(agents=team(), store="memory://", replay=cassette) as orch:
        replayed = await orch.run(plan, run_id="r1")
        journal = await orch.events("r1")
    assert recorded.output == replayed.output == '{"result": 42} + {"result": "hello"}'
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    # the only server process was stopped: a call that reached it would have failed
    assert [(c.tool, c.result, c.error) for c in calls] == [
        ("add", {"result": 42}, None),
        ("echo", {"result": "hello"}, None),
    ]


def test_egress_in_the_section_marks_the_tools_that_send(tmp_path: Path) -> None:
    shutil.copy(TOOLBOX, tmp_path / TOOLBOX.name)
    body = f"mcp_servers:\n  box:\n    command: python\n    args: [{TOOLBOX.name}]\n"
    tail = "agents:\n  a: {model: test, tools: [echo]}\ntasks:\n  - {id: t, agent: a}\n"
    path = tmp_path / "wf.yaml"
    path.write_text(body + "    egress: {echo: text}\n" + tail, encoding="utf-8")
    (agent,) = load_workflow(path).agents
    (echo,) = agent.tools
    assert echo.egress is not None
    assert echo.egress({"text": "https://x.example/?d=1"}) == "https://x.example/?d=1"
    path.write_text(body + "    egress: {echo: url}\n" + tail, encoding="utf-8")
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(path)
    [problem] = [p for p in caught.value.problems if "egress" in p.message]
    assert problem.line == 2
    assert "names argument 'url' of tool 'echo'" in problem.message
