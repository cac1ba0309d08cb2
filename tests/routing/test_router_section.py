"""The ``router`` section and agents' ``examples`` in workflow files, and runs where no agent
fits a task: it fails with the router's reason, or a person decides."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pytest

from podium import Agent, Orchestrator, Plan, Workflow
from podium.events import TaskAssigned, TaskFailed
from podium.exceptions import ConfigError, PlanValidationError
from podium.plan import RouterSpec, Task, load_workflow_text
from podium.routing import HybridRelevance, ScoringRouter

from .helpers import agent

TEAM = """\
agents:
  translator:
    description: Translates documents into French.
    model: test
    examples:
      - Put the invoice into French
  coder:
    description: Fixes Python code.
    model: test
"""


def load(text: str) -> Workflow:
    return load_workflow_text(textwrap.dedent(text), path="wf.yaml", require_tasks=False)


def problems(text: str) -> str:
    with pytest.raises(PlanValidationError) as caught:
        load(text)
    return str(caught.value)


def test_the_router_section_and_examples_compile() -> None:
    wf = load(
        TEAM + "router: {relevance: hybrid, min_score: 0.2, on_no_fit: ask,"
        " tie_break_model: 'test:x', tie_break_margin: 0.1}\n"
    )
    assert wf.router == RouterSpec(
        relevance="hybrid",
        min_score=0.2,
        on_no_fit="ask",
        tie_break_model="test:x",
        tie_break_margin=0.1,
    )
    [translator, coder] = wf.agents
    assert translator.examples == ("Put the invoice into French",)
    assert coder.examples == ()
    assert load(TEAM + "router: {}\n").router == RouterSpec()  # every default: relevance auto
    assert load(TEAM).router is None  # no section: the orchestrator's router as it is


def test_router_section_errors_name_file_line_and_field() -> None:
    text = TEAM + textwrap.dedent(
        """\
        router:
          relevance: magic
          min_score: -1
          colour: blue
        """
    )
    found = problems(text)
    assert "wf.yaml:11: router.relevance: 'magic' is not one of" in found
    assert "wf.yaml:12: router.min_score:" in found
    assert "wf.yaml:13: router: unknown key 'colour'" in found
    bad_model = problems(TEAM + "router:\n  tie_break_model: gpt4\n")
    assert "wf.yaml:11: router.tie_break_model: a model is named provider:model" in bad_model
    assert "wf.yaml:10: router:" in problems(TEAM + "router: [hybrid]\n")
    assert "unknown key 'routr'" in problems(TEAM + "routr: {}\n")


def test_examples_errors_name_file_line_and_field() -> None:
    text = TEAM.replace("      - Put the invoice into French", "      - '   '")
    assert "wf.yaml:6: agents.translator.examples[0]: String should match" in problems(text)
    as_text = TEAM.replace(
        "    examples:\n      - Put the invoice into French", "    examples: Put it into French"
    )
    assert "wf.yaml:5: agents.translator.examples:" in problems(as_text)


def test_agents_reject_blank_examples_in_python() -> None:
    with pytest.raises(ConfigError, match="examples must be non-empty strings"):
        Agent(name="a", model="test", examples=("",))
    with pytest.raises(ConfigError, match="examples must be non-empty strings"):
        Agent(name="a", model="test", examples="one string")  # type: ignore[arg-type]
    listed = Agent(name="a", model="test", examples=["x"])  # type: ignore[arg-type]
    assert listed.examples == ("x",)


# -- runs where no agent fits --------------------------------------------------------------

TOPICS = ("french", "python")


def topics(texts: list[str]) -> Sequence[Sequence[float]]:
    return [[*(3.0 * t.lower().count(w) for w in TOPICS), 0.3] for t in texts]


# one capability they all share, as a team of general models has: it says nothing of the task
AGENTS = [
    agent("translator", "Translates documents into French", "llm"),
    agent("coder", "Fixes Python code", "llm"),
]


def plan() -> Workflow:
    tasks = [
        Task(id="fr", capability="llm", instruction="Put the notes into French"),
        Task(id="cake", capability="llm", instruction="Bake a birthday cake"),
    ]
    return Workflow(name="team", plan=Plan(tasks))


@pytest.mark.anyio
async def test_a_task_no_agent_fits_fails_with_the_router_reason() -> None:
    router = ScoringRouter(relevance=HybridRelevance(encode=topics, open_set=False), explore="mean")
    async with Orchestrator(agents=AGENTS, store="memory://", router=router) as orch:
        result = await orch.run(plan())
        events = await orch.events(result.run_id)
    assert result.status == "failed"
    assert result.tasks["fr"]["status"] == "succeeded"
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.task == "cake"
    assert failed.error.type == "no_fit"
    assert failed.error.message.startswith("no agent fits: best fit ")
    assert "the task fails rather than guess" in failed.error.message
    assert [e.task for e in events if isinstance(e, TaskAssigned)] == ["fr"]


@pytest.mark.anyio
async def test_a_task_no_agent_fits_waits_for_a_person_who_may_approve_the_closest() -> None:
    router = ScoringRouter(
        relevance=HybridRelevance(encode=topics, open_set=False), explore="mean", on_no_fit="ask"
    )
    async with Orchestrator(agents=AGENTS, store="memory://", router=router) as orch:
        wf = plan()
        parked = await orch.run(wf)
        assert parked.status == "waiting"
        assert parked.tasks["cake"]["status"] == "waiting"
        [pending] = await orch.approvals()
        assert pending.task == "cake"
        assert pending.reason.startswith("no agent fits")
        assert "approve to give it to 'coder'" in pending.reason  # the closest candidate
        done = await orch.approve(parked.run_id, by="ann", workflow=wf)
        assert done.status == "succeeded"
        events = await orch.events(parked.run_id)
    [assigned] = [e for e in events if isinstance(e, TaskAssigned) and e.task == "cake"]
    assert assigned.agent == "coder"
    assert "a person approved 'coder'" in assigned.reason
    assert assigned.candidates  # the explanation is kept


@pytest.mark.anyio
async def test_rejecting_a_task_no_agent_fits_fails_it() -> None:
    router = ScoringRouter(
        relevance=HybridRelevance(encode=topics, open_set=False), explore="mean", on_no_fit="ask"
    )
    async with Orchestrator(agents=AGENTS, store="memory://", router=router) as orch:
        wf = plan()
        parked = await orch.run(wf)
        done = await orch.reject(parked.run_id, by="ann", comment="no baker here", workflow=wf)
    assert done.status == "failed"
    assert done.tasks["cake"]["status"] == "failed"


WORKFLOW = """\
agents:
  translator:
    description: Translates documents into French.
    capabilities: [llm]
    model: test
  coder:
    description: Fixes Python code.
    capabilities: [llm]
    model: test
router:
  relevance: bm25   # no model needed: BM25 with a threshold of its own
  min_score: 0.05
tasks:
  - {id: fr, capability: llm, instruction: Translate the notes into French}
  - {id: cake, capability: llm, instruction: Bake a birthday cake}
"""


@pytest.mark.anyio
async def test_a_workflow_file_router_section_fails_a_task_no_agent_fits() -> None:
    wf = load_workflow_text(WORKFLOW, path="wf.yaml")
    async with Orchestrator(store="memory://") as orch:  # its own router: the file's wins
        result = await orch.run(wf)
        events = await orch.events(result.run_id)
    assert result.status == "failed"
    assert result.tasks["fr"]["status"] == "succeeded"
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert (failed.task, failed.error.type) == ("cake", "no_fit")
    assert "best fit 0.000 is under the threshold 0.05 (BM25 relevance)" in failed.error.message
    [assigned] = [e for e in events if isinstance(e, TaskAssigned)]
    assert assigned.agent == "translator"
    assert "BM25 relevance: best fit" in assigned.reason
    bm25 = {c["agent"]: c["bm25"] for c in assigned.candidates}
    assert bm25["translator"] > 0 == bm25["coder"]  # the components are kept in the journal
