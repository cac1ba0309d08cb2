"""What a run's model calls cost: per call on `ModelCalled`, summed on the run, priced from the
built-in table, the orchestrator's `prices`, ``PODIUM_PRICES``, ``--prices`` and a workflow's own
``prices:`` section."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium import Agent, Orchestrator, Plan, Task, load_workflow
from podium.cli import app
from podium.cli._render import details
from podium.events import ModelCalled
from podium.exceptions import PlanValidationError
from podium.models import (
    DEFAULT_PRICES,
    ModelRequest,
    ModelResponse,
    Price,
    PriceTable,
    TokenUsage,
    cost_usd,
)
from podium.plan import Workflow

USAGE = TokenUsage(input_tokens=1_000, output_tokens=200)


class Named:
    """A fake model under any ``provider:model`` name, answering with fixed usage."""

    def __init__(self, name: str, answer: str = "done") -> None:
        self._name = name
        self.answer = answer

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return self._name.partition(":")[0]

    async def request(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(text=self.answer, usage=USAGE, model=self._name)


async def run_plan(
    agents: list[Agent], tasks: list[Task], **options: Any
) -> tuple[Any, list[ModelCalled]]:
    async with Orchestrator(agents=agents, store="memory://", **options) as orch:
        result = await orch.run(Plan(tasks))
        events = await orch.events(result.run_id)
    return result, [e for e in events if isinstance(e, ModelCalled)]


@pytest.mark.anyio
async def test_every_model_call_carries_its_cost_and_the_run_sums_them() -> None:
    agents = [
        Agent(name="a", model=Named("openai:gpt-5.4")),
        Agent(name="b", model=Named("anthropic:claude-sonnet-4-6")),
    ]
    tasks = [Task(id="x", agent="a"), Task(id="y", agent="b", needs=("x",))]
    result, calls = await run_plan(agents, tasks)
    assert [c.model for c in calls] == ["openai:gpt-5.4", "anthropic:claude-sonnet-4-6"]
    assert calls[0].cost_usd == pytest.approx(1_000 * 2.5e-6 + 200 * 15e-6)
    assert calls[1].cost_usd == pytest.approx(1_000 * 3e-6 + 200 * 15e-6)
    assert result.usage.cost_usd == pytest.approx(calls[0].cost_usd + calls[1].cost_usd)
    assert result.to_json()["usage"]["cost_usd"] == round(result.usage.cost_usd, 6)


@pytest.mark.anyio
async def test_local_models_cost_nothing_but_their_tokens_count() -> None:
    result, calls = await run_plan(
        [Agent(name="a", model=Named("local:smollm2"))], [Task(id="x", agent="a")]
    )
    assert calls[0].cost_usd == 0.0
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1_000, 200)
    assert result.usage.cost_usd == 0.0


@pytest.mark.anyio
async def test_the_orchestrators_prices_extend_and_override_the_table() -> None:
    prices = DEFAULT_PRICES.with_overrides(
        {"openai:gpt-5.4": Price(1.0, 1.0), "acme:house-model": Price(10.0, 0.0)}
    )
    agents = [
        Agent(name="a", model=Named("openai:gpt-5.4")),
        Agent(name="b", model=Named("acme:house-model")),
    ]
    tasks = [Task(id="x", agent="a"), Task(id="y", agent="b", needs=("x",))]
    result, calls = await run_plan(agents, tasks, prices=prices)
    assert [c.cost_usd for c in calls] == pytest.approx([1_200e-6, 10_000e-6])
    assert result.usage.cost_usd == pytest.approx(11_200e-6)


@pytest.mark.anyio
async def test_the_default_table_takes_podium_prices_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("acme:house-model: {input_per_mtok: 2, output_per_mtok: 5}\n")
    monkeypatch.setenv("PODIUM_PRICES", str(prices))
    _, calls = await run_plan(
        [Agent(name="a", model=Named("acme:house-model"))], [Task(id="x", agent="a")]
    )
    assert calls[0].cost_usd == pytest.approx(1_000 * 2e-6 + 200 * 5e-6)


WORKFLOW = """
name: priced
agents:
  writer:
    model: test
prices:
  test:test: {input_per_mtok: 1000, output_per_mtok: 2000}
tasks:
  - id: write
    agent: writer
    instruction: Write it
"""


@pytest.mark.anyio
async def test_a_workflows_prices_go_on_top_of_the_orchestrators(tmp_path: Path) -> None:
    path = tmp_path / "priced.yaml"
    path.write_text(WORKFLOW)
    workflow = load_workflow(path)
    assert workflow.prices == {"test:test": Price(1000.0, 2000.0)}
    cheap = PriceTable({"test:*": Price(0.0, 0.0)})
    async with Orchestrator(store="memory://", prices=cheap) as orch:
        result = await orch.run(workflow)
        calls = [e for e in await orch.events(result.run_id) if isinstance(e, ModelCalled)]
    usage = TokenUsage(input_tokens=calls[0].input_tokens, output_tokens=calls[0].output_tokens)
    expected = cost_usd("test:test", usage, PriceTable({"test:test": Price(1000.0, 2000.0)}))
    assert expected > 0
    assert calls[0].cost_usd == pytest.approx(expected)
    assert result.usage.cost_usd == pytest.approx(expected)


def test_bad_prices_in_a_workflow_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""\
            agents:
              w: {model: test}
            prices:
              test:a: [1, 2]
              test:b: {input: 1}
            tasks:
              - {id: t, agent: w}
        """)
    )
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(path)
    [problem] = caught.value.problems
    assert (problem.line, problem.where) == (5, "prices.test:b")
    assert "price for 'test:b' must be" in problem.message


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the CLI in `tmp_path`, undoing what it adds to sys.path."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.chdir(tmp_path)


def test_podium_run_takes_a_prices_file(cli: None, tmp_path: Path) -> None:
    workflow = tmp_path / "flow.yaml"
    workflow.write_text(
        WORKFLOW.replace(
            "prices:\n  test:test: {input_per_mtok: 1000, output_per_mtok: 2000}\n", ""
        )
    )
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"test:test": {"input_per_mtok": 1e6, "output_per_mtok": 0}}))
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    runner = CliRunner()
    free = runner.invoke(app, ["run", str(workflow), "--store", store, "--json"])
    priced = runner.invoke(
        app, ["run", str(workflow), "--store", store, "--json", "--prices", str(prices)]
    )
    assert (free.exit_code, priced.exit_code) == (0, 0), priced.output
    assert json.loads(free.stdout)["usage"]["cost_usd"] == 0
    usage = json.loads(priced.stdout)["usage"]
    assert usage["cost_usd"] == pytest.approx(usage["input_tokens"])  # $1 a token


def test_a_bad_prices_file_is_a_usage_error(cli: None, tmp_path: Path) -> None:
    workflow = tmp_path / "flow.yaml"
    workflow.write_text(WORKFLOW)
    prices = tmp_path / "prices.yaml"
    prices.write_text("test:test: cheap\n")
    result = CliRunner().invoke(app, ["run", str(workflow), "--prices", str(prices)])
    assert result.exit_code == 2
    assert "price for 'test:test' must be" in result.output


def test_a_workflow_built_in_python_has_no_prices_of_its_own() -> None:
    assert Workflow(name="w", plan=Plan([Task(id="t", agent="a")])).prices == {}


def test_podium_show_prints_what_a_call_cost() -> None:
    call = ModelCalled(
        run_id="r", seq=1, ts=0, task="t", agent="a", model="openai:gpt-5.4",
        input_tokens=1000, output_tokens=200, latency_s=0.5, cost_usd=0.0055,
    )  # fmt: skip
    assert details(call) == "openai:gpt-5.4 1000+200 tokens 0.50s $0.0055"
