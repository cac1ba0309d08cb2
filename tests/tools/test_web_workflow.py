"""web_fetch and web_search in real runs: from a workflow file (`use:`) through `Orchestrator`."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from podium import Orchestrator, Workflow
from podium.events import ToolCalled
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow_text
from podium.testing import FunctionModel
from tests.tools.test_web_fetch import PAGE, Site, send
from tests.tools.test_web_search import searxng  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio


def calls_then_reports(calls: list[tuple[str, dict[str, Any]]]) -> FunctionModel:
    """A model that makes `calls` in its first round and then answers with the results."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            made = tuple(
                ToolCall(id=f"c{i}", name=n, arguments=a) for i, (n, a) in enumerate(calls)
            )
            return ModelResponse(tool_calls=made)
        return " || ".join(m.content for m in results)

    return FunctionModel(answer)


def with_model(workflow: Workflow, model: FunctionModel) -> Workflow:
    agents = tuple(dataclasses.replace(a, model=model) for a in workflow.agents)
    return dataclasses.replace(workflow, agents=agents)


def flow(tools: str) -> Callable[[str], Workflow]:
    def build(agent_tools: str) -> Workflow:
        entries = textwrap.indent(textwrap.dedent(tools), "  ")
        text = (
            f"name: research\ntools:\n{entries}\nagents:\n  reader:\n    model: test\n"
            f"    tools: {agent_tools}\ntasks:\n  - id: read\n    agent: reader\n"
            "    instruction: read the report\n"
        )
        return load_workflow_text(text, path="research.yaml")

    return build


async def test_a_workflow_fetches_a_page_and_search_results(searxng: Site) -> None:  # noqa: F811
    searxng.routes["/report"] = lambda h: send(h, 200, PAGE, "text/html")
    build = flow(
        f"""\
        fetch: {{use: web_fetch, with: {{allow_hosts: ["127.0.0.1"], max_chars: 5000}}}}
        find: {{use: web_search, with: {{provider: searxng, url: "{searxng.url}", max_results: 1}}}}
        """
    )
    workflow = build("[fetch, find]")
    tools = {t.name: t for t in workflow.agents[0].tools}
    assert {n: t.effect for n, t in tools.items()} == {"fetch": "read", "find": "read"}
    model = calls_then_reports(
        [("fetch", {"url": f"{searxng.url}/report"}), ("find", {"query": "tides moon"})]
    )
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(with_model(workflow, model))
        events = await orch.events(result.run_id)
    assert result.status == "succeeded"
    called = {e.tool: e for e in events if isinstance(e, ToolCalled)}
    page, found = called["fetch"].result, called["find"].result
    assert (page["trust"], page["source"], page["title"]) == (
        "untrusted",
        f"{searxng.url}/report",
        "Quarterly report",
    )
    assert found["trust"] == "untrusted"
    assert [r["url"] for r in found["results"]] == ["https://example.org/tides"]
    assert "Revenue rose by twelve percent" in result.output
    assert searxng.hits == {"/report": 1, "/search": 1}


async def test_a_refused_fetch_goes_back_to_the_model_as_an_error(searxng: Site) -> None:  # noqa: F811
    build = flow('fetch: {use: web_fetch, with: {allow_hosts: ["docs.example.com"]}}')
    model = calls_then_reports([("fetch", {"url": f"{searxng.url}/secret"})])
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(with_model(build("[fetch]"), model))
    assert result.status == "succeeded"  # the model read the error and answered
    [report] = [m for m in model.requests[-1].messages if isinstance(m, ToolResultMessage)]
    assert report.is_error
    assert "'127.0.0.1' is not in the tool's allow-list" in report.content
    assert searxng.hits["/secret"] == 0


def test_bad_web_fetch_options_name_the_field() -> None:
    from podium.exceptions import PlanValidationError

    build = flow("fetch: {use: web_fetch, with: {allow_hosts: [], max_bytes: -1, colour: red}}")
    with pytest.raises(PlanValidationError) as info:
        build("[fetch]")
    message = json.dumps([p.message for p in info.value.problems])
    for part in ("allow_hosts", "max_bytes", "colour: Extra inputs are not permitted"):
        assert part in message


def doc_blocks(page: str, language: str) -> list[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "tools" / page).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_examples_of_the_docs_page_load_and_run() -> None:
    [yaml_text] = doc_blocks("web.md", "yaml")
    workflow = load_workflow_text(yaml_text, path="research.yaml")
    tools = {t.name: t.effect for t in workflow.agents[0].tools}
    assert tools == {"search": "read", "fetch": "read"}
    [python] = doc_blocks("web.md", "python")
    scope: dict[str, Any] = {}
    exec(compile(python, "web.md", "exec"), scope)
    assert [t.name for t in scope["researcher"].tools] == ["web_search", "web_fetch"]
    assert scope["brave"].name == "brave_search"
