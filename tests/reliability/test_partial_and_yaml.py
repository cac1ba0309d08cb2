"""Graceful degradation says exactly what is missing; workflow files configure reliability."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podium import Agent, Plan, Task, TaskCall, load_workflow
from podium.events import RunPartiallySucceeded, TaskRetrying
from podium.exceptions import PlanValidationError, TaskError
from podium.plan import load_workflow_text
from podium.reliability import RetryPolicy

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


async def test_partial_success_names_each_missing_task_and_its_error() -> None:
    async def work(call: TaskCall) -> str:
        if call.task_id in ("extra", "more[1]"):
            raise TaskError(f"{call.task_id} broke", kind="broken", retryable=False)
        return "ok"

    plan = Plan(
        [
            Task(id="main", agent="w"),
            Task(id="extra", agent="w", optional=True),
            Task(id="more", agent="w", optional=True, map="inputs.xs"),
            Task(id="after", agent="w", needs=("extra",), optional=True),
        ]
    )
    result, journal = await run_plan(
        plan, Agent(name="w", function=work), run_kw={"inputs": {"xs": [1, 2]}}
    )
    assert result.status == "partially_succeeded"
    [event] = of(journal, RunPartiallySucceeded)
    assert event.missing == ["extra", "more"]
    assert {k: v.type for k, v in event.errors.items()} == {
        "extra": "broken",
        "more": "map_item_failed",
        "more[1]": "broken",
    }
    assert event.reason == (
        "optional tasks did not succeed: extra (broken: extra broke); "
        "more (map_item_failed: mapped items failed: more[1])"
    )
    assert result.missing == ["extra", "more"]
    assert result.tasks["after"]["status"] == "succeeded"  # a failed optional need is null


WORKFLOW = """\
name: sturdy
agents:
  primary:
    python: rel_agents:flaky
    retry: {attempts: 2, backoff_s: 0, on: [broken]}
    backups: [spare]
  spare:
    python: rel_agents:steady
tasks:
  - id: a
    agent: primary
    retry: {attempts: 3, backoff_s: 0.5, max_backoff_s: 2, jitter: 0}
    backups: spare
    budget: {tokens: 1000, usd: 0.5, steps: 10, fallback_model: "test:cheap"}
  - id: b
    agent: primary
    needs: a
    retries: 1
"""

AGENTS = """\
from podium import TaskCall
from podium.exceptions import TaskError

def flaky(call: TaskCall) -> str:
    raise TaskError("flaky", kind="broken")

def steady(call: TaskCall) -> str:
    return "steady " + call.task_id
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "rel_agents.py").write_text(AGENTS)
    path = tmp_path / "sturdy.yaml"
    path.write_text(WORKFLOW)
    return path


async def test_workflow_files_set_retry_backups_and_budgets(files: Path) -> None:
    wf = load_workflow(files)
    a, b = wf.plan.tasks["a"], wf.plan.tasks["b"]
    assert a.retry == RetryPolicy(attempts=3, backoff_s=0.5, max_backoff_s=2, jitter=0)
    assert a.backups == ("spare",)
    assert a.budget is not None
    assert (a.budget.tokens, a.budget.usd, a.budget.fallback_model) == (1000, 0.5, "test:cheap")
    assert (b.retries, b.retry) == (1, None)
    primary = next(x for x in wf.agents if x.name == "primary")
    assert primary.retry == RetryPolicy(attempts=2, backoff_s=0, on=("broken",))
    assert primary.backups == ("spare",)

    result, journal = await run_plan(wf)
    assert result.status == "succeeded"
    assert result.output == "steady b"
    assert [r.delay_s for r in of(journal, TaskRetrying, "a")][:2] == [0.5, 1.0]


@pytest.mark.parametrize(
    ("snippet", "line", "message"),
    [
        ("    retries: 2\n    retry: {attempts: 2}\n", 7, "give `retries: N` or `retry: {...}`"),
        ("    retry: {attempts: 0}\n", 6, "retry.attempts: should be greater than or equal to 1"),
        ("    backups: [nobody]\n", 6, "unknown backup agent 'nobody'"),
        ("    budget: {tokens: -5}\n", 6, "budget.tokens: should be greater than or equal to 0"),
    ],
)
def test_workflow_file_mistakes_point_at_their_line(snippet: str, line: int, message: str) -> None:
    text = (
        textwrap.dedent("""\
        agents:
          w: {model: "test:x"}
        tasks:
          - id: a
            agent: w
        """)
        + snippet
    )
    with pytest.raises(PlanValidationError) as caught:
        load_workflow_text(text, path="wf.yaml")
    assert any(p.line == line and message in str(p) for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]


def test_unknown_agent_backups_in_a_file() -> None:
    text = 'agents:\n  w: {model: "test:x", backups: [w2]}\ntasks:\n  - {id: a, agent: w}\n'
    with pytest.raises(PlanValidationError, match="unknown backup agent 'w2'"):
        load_workflow_text(text)
