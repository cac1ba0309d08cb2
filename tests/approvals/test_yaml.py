"""Approvals in workflow files: `approval`, `risk`, tool `effect` and the `policy` section."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from podium.exceptions import PlanValidationError
from podium.plan import load_workflow, load_workflow_text

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_task_approval_risk_and_policy_compile() -> None:
    text = textwrap.dedent(
        """
        name: w
        agents:
          a: {python: "approval_agents:work"}
        policy:
          approve_effects: [write, irreversible]
          approve_risks: [medium, high]
          min_confidence: 0.6
          approval_ttl_s: 600
        tasks:
          - {id: one, agent: a, approval: required}
          - {id: two, agent: a, risk: medium}
          - {id: three, agent: a}
        """
    )
    wf = load_workflow_text(text, path=str(DATA / "inline.yaml"))
    tasks = wf.plan.tasks
    assert (tasks["one"].approval, tasks["two"].risk, tasks["three"].risk) == (
        "required",
        "medium",
        None,
    )
    assert wf.policy is not None
    assert tuple(wf.policy.approve_effects) == ("write", "irreversible")
    assert tuple(wf.policy.approve_risks) == ("medium", "high")
    assert (wf.policy.min_confidence, wf.policy.approval_ttl_s) == (0.6, 600)
    assert wf.policy.task_reason(tasks["two"]) == "the task is medium risk"


def test_no_policy_section_means_the_orchestrator_decides() -> None:
    assert load_workflow(DATA / "gated.yaml").policy is None
    payment = load_workflow(DATA / "payment.yaml")
    assert payment.policy is not None
    assert payment.policy.approval_ttl_s == 3600
    [clerk] = payment.agents
    assert clerk.tools[0].effect == "irreversible"


def test_bad_approval_settings_are_reported_with_their_lines() -> None:
    text = textwrap.dedent(
        """\
        agents:
          a: {python: "approval_agents:work"}
        policy:
          min_confidence: 2
          approve_risks: [extreme]
          ttl: 5
        tasks:
          - {id: one, agent: a, approval: maybe}
          - {id: two, agent: a, risk: huge}
        """
    )
    with pytest.raises(PlanValidationError) as caught:
        load_workflow_text(text, path=str(DATA / "inline.yaml"))
    found = {(p.line, p.where) for p in caught.value.problems}
    assert (4, "policy.min_confidence") in found
    assert (5, "policy.approve_risks[0]") in found
    assert (6, "policy") in found
    messages = "\n".join(str(p) for p in caught.value.problems)
    assert "unknown key 'ttl'" in messages
    assert "'huge' is not one of 'low', 'medium' or 'high'" in messages
    assert (8, "tasks[0].approval") in found
    assert (9, "tasks[1].risk") in found
