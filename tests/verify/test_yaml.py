"""``checks:`` in workflow files: tasks and agents declare them, mistakes point at file and line,
and a workflow whose bad answer is rejected passes with the retry's good one."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest

from podium import Agent, Orchestrator
from podium.events import OutputChecked, OutputRejected
from podium.exceptions import PlanValidationError
from podium.models import ModelRequest, UserMessage
from podium.plan import load_workflow_text
from podium.testing import FunctionModel
from podium.verify import Check
from tests.reliability.helpers import of

FILE = "flow.yaml"

FLOW = """\
name: gdp
agents:
  writer:
    model: test
    checks: [language]
  critic:
    model: test
tasks:
  - id: answer
    agent: writer
    instruction: What is the GDP of France?
    checks:
      - relevance
      - kind: grounding
        threshold: 0.6
        embeddings: false
        on_fail: escalate
      - kind: rule
        rule: podium.verify:complete
        retries: 1
      - kind: judge
        judge: critic
        rubric: States a figure.
      - kind: schema
        schema: {type: string}
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(textwrap.dedent(text), path=FILE, import_code=False)
    assert all(p.file == FILE for p in info.value.problems)
    return [(p.line, p.where, p.message) for p in info.value.problems]


def test_checks_compile_onto_tasks_and_agents() -> None:
    wf = load_workflow_text(FLOW, path=FILE, import_code=False)
    task = wf.plan.tasks["answer"]
    assert [c.kind for c in task.checks] == ["relevance", "grounding", "rule", "judge", "schema"]
    assert task.checks[1] == Check(
        kind="grounding", threshold=0.6, embeddings=False, on_fail="escalate"
    )
    assert task.checks[2].rule == "podium.verify:complete"
    assert task.checks[4].schema == {"type": "string"}
    [writer] = [a for a in wf.agents if a.name == "writer"]
    assert writer.checks == (Check(kind="language"),)


def test_a_check_without_what_its_kind_needs_is_reported_at_its_line() -> None:
    found = problems("""\
        agents: {w: {model: test}}
        tasks:
          - id: a
            agent: w
            checks:
              - kind: judge
              - kind: rule
                rule: not a reference
              - kind: langauge
              - kind: language
                language: xx
              - kind: relevance
                threshold: 2
                colour: red
        """)
    assert found == [
        (6, "tasks[0].checks[0]", "a judge check needs `judge`"),
        (
            7,
            "tasks[0].checks[1]",
            "rule 'not a reference' is not a reference of the form module:function",
        ),
        (
            9,
            "tasks[0].checks[2].kind",
            "'langauge' is not one of 'schema', 'rule', 'judge',"
            " 'grounding', 'relevance' or 'language' (did you mean 'language'?)",
        ),
        (10, "tasks[0].checks[3]", "language 'xx' is not one of en, es, fr, de, it, pt, nl"),
        (13, "tasks[0].checks[4].threshold", "should be less than or equal to 1, got integer 2"),
        (
            14,
            "tasks[0].checks[4]",
            "unknown key 'colour' (expected one of: embeddings, judge,"
            " kind, language, name, on_fail, retries, rubric, rule, schema, threshold)",
        ),
    ]


def test_a_bad_schema_check_and_an_agents_bad_check_are_reported() -> None:
    found = problems("""\
        agents:
          w:
            model: test
            checks: [nonsense]
        tasks:
          - id: a
            agent: w
            checks:
              - kind: schema
                schema: {type: 12}
        """)
    assert [(line, where) for line, where, _ in found] == [
        (4, "agents.w.checks[0].kind"),
        (9, "tasks[0].checks[0]"),
    ]
    assert "not a valid JSON Schema" in found[1][2]


GOOD = "France's GDP was about 3 trillion dollars in 2023."


@pytest.mark.anyio
async def test_a_workflow_rejects_a_bad_answer_and_passes_the_retrys_good_one() -> None:
    text = """\
        name: gdp
        agents:
          writer: {model: test}
        tasks:
          - id: answer
            agent: writer
            instruction: What is the GDP of France?
            checks:
              - {kind: relevance, embeddings: false}
              - language
              - {kind: rule, rule: "podium.verify:complete"}
        """
    wf = load_workflow_text(textwrap.dedent(text), path=FILE)
    said = ["El café es una bebida muy popular en todo el mundo y se toma cada día.", GOOD]

    def answer(request: ModelRequest) -> str:
        return said.pop(0)

    model = FunctionModel(answer)
    wf = dataclasses.replace(wf, agents=(Agent(name="writer", model=model),))  # the test is it
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(wf)
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    assert result.output == GOOD
    rejected = of(journal, OutputRejected)
    assert sorted(e.check for e in rejected) == ["language", "relevance"]
    assert {e.attempt for e in rejected} == {1}
    assert sorted(e.check for e in of(journal, OutputChecked) if e.attempt == 2) == [
        "language",
        "relevance",
        "rule",
    ]
    retry = [m.content for m in model.requests[1].messages if isinstance(m, UserMessage)][-1]
    assert "written in 'es', but 'en' is expected" in retry


def test_the_concept_pages_workflow_loads() -> None:
    page = Path(__file__).parents[2] / "docs" / "concepts" / "verification.md"
    [block] = re.findall(
        r'^```yaml title="checked.yaml"\n(.*?)^```$', page.read_text(), re.M | re.S
    )
    wf = load_workflow_text(block, path="checked.yaml")
    kinds = [c.kind for c in wf.plan.tasks["answer"].checks]
    assert kinds == ["relevance", "grounding", "rule", "judge"]


def test_an_unknown_judge_agent_is_reported_at_the_tasks_checks() -> None:
    found = problems("""\
        agents: {w: {model: test}, critic: {model: test}}
        tasks:
          - id: a
            agent: w
            checks:
              - {kind: judge, judge: critik}
        """)
    assert found == [
        (5, "tasks.a.checks", "check 'judge': unknown judge agent 'critik' (known: critic, w)")
    ]
