"""``python_sandbox`` in runs: an agent writes code, runs it, and reads the output."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Orchestrator
from podium.events import ToolCalled
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import Plan, Task, Workflow, load_workflow, load_workflow_text
from podium.testing import FunctionModel
from podium.tools.sandbox import python_sandbox_tool

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PROGRAM = """\
import csv
rows = list(csv.DictReader(open("sales.csv")))
total = sum(int(r["amount"]) for r in rows)
open("summary.txt", "w").write(f"{len(rows)} sales")
print(total)
"""


def coder(tool: str) -> FunctionModel:
    """Writes a program over an input file, runs it, then answers with what it printed."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            files = {"sales.csv": "item,amount\nlamp,30\ndesk,120\n"}
            call = ToolCall(id="c1", name=tool, arguments={"code": PROGRAM, "files": files})
            return ModelResponse(tool_calls=(call,))
        ran = json.loads(results[0].content)
        return f"total {ran['stdout'].strip()}; {ran['files'][0]['text']}"

    return FunctionModel(answer)


async def test_an_agent_writes_code_runs_it_and_reads_the_output() -> None:
    agent = Agent(name="coder", model=coder("run"), tools=(python_sandbox_tool(wall_time=5),))
    agent = dataclasses.replace(agent, tools=(dataclasses.replace(agent.tools[0], name="run"),))
    plan = Plan([Task(id="t", agent="coder", instruction="sum the sales")])
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(plan)
        events = await orch.events(result.run_id)
    assert result.status == "succeeded"
    assert result.output == "total 150; 2 sales"
    [call] = [e for e in events if isinstance(e, ToolCalled)]
    assert (call.tool, call.effect, call.error) == ("run", "write", None)
    assert call.result["exit_code"] == 0
    assert call.result["limit"] is None


async def test_a_workflow_file_uses_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        """\
name: crunch
tools:
  py:
    use: python_sandbox
    with: {wall_time: 5, memory_mb: 128, output_kb: 16}
agents:
  coder:
    model: test
    tools: [py]
tasks:
  - id: crunch
    agent: coder
    instruction: sum the sales
""",
        encoding="utf-8",
    )
    loaded = load_workflow(path)
    [agent] = loaded.agents
    [tool] = agent.tools
    assert (tool.name, tool.effect) == ("py", "write")
    assert "16 KiB of output" in tool.description
    wf: Workflow = dataclasses.replace(
        loaded, agents=(dataclasses.replace(agent, model=coder("py")),)
    )
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(wf)
    assert result.status == "succeeded"
    assert result.output == "total 150; 2 sales"


def doc_blocks(language: str) -> list[str]:
    text = (Path(__file__).parents[2] / "docs" / "tools" / "sandbox.md").read_text("utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_examples_of_the_docs_page_load_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    [yaml_text] = doc_blocks("yaml")
    workflow = load_workflow_text(yaml_text, path="crunch.yaml")
    assert [(t.name, t.effect) for t in workflow.agents[0].tools] == [("py", "write")]
    [python] = doc_blocks("python")
    scope: dict[str, Any] = {}
    exec(compile(python, "sandbox.md", "exec"), scope)
    assert [t.name for t in scope["analyst"].tools] == ["python_sandbox"]
    assert capsys.readouterr().out == "0 None [('shout.txt', 'HELLO')]\n"
