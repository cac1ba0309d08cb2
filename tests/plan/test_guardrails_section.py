"""The ``guardrails`` section of a workflow file: the standard kinds and one's own by import
path, made when the file is loaded, run against a real journal; mistakes said with their line."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import msgspec
import pytest
import yaml

from podium import Orchestrator
from podium.events import GuardrailDecided, TaskSucceeded
from podium.exceptions import PlanValidationError
from podium.plan import load_workflow
from podium.plan._file_schema import workflow_schema
from podium.policy import PII, Deny, MaxSize, Schema, Subject

MODULE = """
from podium.policy import Guardrail, Verdict


def work(call):
    return "Call Ann at +1 415-555-0132 about Acme's offer"


def no_competitors(names):
    def check(value, subject):
        found = sum(str(value).count(name) for name in names)
        if not found:
            return Verdict()
        return Verdict(
            "redact",
            reason="a competitor is named",
            findings={"competitor": found},
            value=str(value).replace(names[0], "a competitor"),
        )

    return Guardrail(name="competitors", direction="output", check=check)


def not_a_guardrail():
    return 42
"""

HEAD = "name: guarded\nagents:\n  w: {python: 'guards_mod:work'}\n"
TASKS = "tasks:\n  - {id: a, agent: w}\n"
SECTION = """guardrails:
  - pii
  - {kind: deny, patterns: ["(?i)drop\\\\s+table"], stages: tool, direction: input}
  - {kind: max_size, max_chars: 20000, direction: output}
  - {kind: schema, schema: {type: string}, tasks: [a]}
  - {python: "guards_mod:no_competitors", args: {names: [Acme]}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "guards_mod.py").write_text(MODULE)
    yield tmp_path
    sys.modules.pop("guards_mod", None)


def write(folder: Path, section: str) -> Path:
    path = folder / "flow.yaml"
    path.write_text(HEAD + section + TASKS)
    return path


@pytest.mark.anyio
async def test_a_file_guards_its_runs_with_the_standard_kinds_and_its_own(folder: Path) -> None:
    workflow = load_workflow(write(folder, SECTION))
    guards = workflow.guardrails
    assert [g.name for g in guards] == ["pii", "deny", "max_size", "schema", "competitors"]
    assert [type(g) for g in guards[:4]] == [PII, Deny, MaxSize, Schema]
    assert guards[1].stages == {"tool"}
    assert guards[1].directions == {"input"}
    store = f"sqlite:///{folder / 'runs.db'}"
    async with Orchestrator(store=store) as orch:
        result = await orch.run(workflow)
        events = await orch.events(result.run_id)
    assert result.status == "succeeded"
    assert result.output == "Call Ann at <PHONE_NUMBER> about a competitor's offer"
    [succeeded] = [e for e in events if isinstance(e, TaskSucceeded)]
    assert succeeded.output == result.output
    decided = [
        (e.guardrail, e.decision, e.findings) for e in events if isinstance(e, GuardrailDecided)
    ]
    assert decided == [
        ("pii", "redact", {"PHONE_NUMBER": 1}),
        ("competitors", "redact", {"competitor": 1}),
    ]
    journal = b"\n".join(msgspec.json.encode(e) for e in events)
    assert b"555-0132" not in journal
    assert b"Acme's offer" not in journal  # (the file, with its arguments, is in it)


def test_checking_a_file_imports_no_guardrail_of_its_own(folder: Path) -> None:
    workflow = load_workflow(write(folder, SECTION), import_code=False)
    assert [g.name for g in workflow.guardrails] == ["pii", "deny", "max_size", "schema"]
    assert "guards_mod" not in sys.modules


def test_the_section_is_in_the_schema_of_workflow_files() -> None:
    schema = workflow_schema()
    validator = jsonschema.Draft202012Validator(schema)
    data = yaml.safe_load(HEAD + SECTION + TASKS)
    assert validator.is_valid(data)
    data["guardrails"].append({"kind": "pii", "action": "erase"})
    assert not validator.is_valid(data)
    assert not validator.is_valid({**data, "guardrails": ["secrets"]})


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("guardrails: pii\n", "flow.yaml:4: guardrails: must be a list of guardrails"),
        (
            "guardrails:\n  - pi\n",
            "flow.yaml:5: guardrails[0]: unknown kind 'pi' (did you mean 'pii'?); or `python:`",
        ),
        (
            "guardrails:\n  - {kind: deny,\n     patterns: ['(unclosed']}\n",
            "flow.yaml:6: guardrails[0].patterns: pattern 1 ('(unclosed') is not a regular"
            " expression: missing ), unterminated subpattern",
        ),
        (
            "guardrails:\n  - {kind: pii, entities: [EMAIL_ADRESS]}\n",
            "flow.yaml:5: guardrails[0].entities: unknown entity 'EMAIL_ADRESS' (did you mean"
            " 'EMAIL_ADDRESS'?)",
        ),
        (
            "guardrails:\n  - kind: pii\n    entities: [PERSON]\n",
            "flow.yaml:5: guardrails[0].kind: guardrail 'pii': PERSON is found by named-entity"
            " recognition: give `ner_model`",
        ),
        (
            "guardrails:\n  - kind: pii\n    ner_model: xx_not_installed_sm\n",
            "guardrail 'pii': the spaCy pipeline 'xx_not_installed_sm' is not installed (Podium"
            " never downloads one)",
        ),
        (
            "guardrails:\n  - {kind: max_size, max_char: 10}\n",
            "flow.yaml:5: guardrails[0]: unknown key 'max_char' (did you mean 'max_chars'?)",
        ),
        (
            "guardrails:\n  - kind: deny\n    words: [x]\n  - kind: deny\n    name: deny\n"
            "    words: [y]\n",
            "flow.yaml:8: guardrails[1].name: another guardrail is named 'deny'",
        ),
        (
            "guardrails:\n  - {python: 'guards_mod:not_a_guardrail'}\n",
            "flow.yaml:5: guardrails[0].python: 'guards_mod:not_a_guardrail' made a int, not a"
            " `podium.policy.Guardrail`",
        ),
        (
            "guardrails:\n  - {kind: schema, schema: {type: strin}}\n",
            "flow.yaml:5: guardrails[0].schema: not a valid JSON Schema",
        ),
    ],
)
def test_a_bad_guardrail_says_where(folder: Path, section: str, problem: str) -> None:
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(write(folder, section))
    assert problem in str(caught.value)


def test_two_of_a_kind_are_numbered(folder: Path) -> None:
    section = "guardrails:\n  - {kind: deny, words: [x]}\n  - {kind: deny, words: [y]}\n"
    workflow = load_workflow(write(folder, section))
    assert [g.name for g in workflow.guardrails] == ["deny", "deny-2"]


@pytest.mark.anyio
async def test_the_example_of_the_security_page_loads_and_runs(tmp_path: Path) -> None:
    page = (Path(__file__).parents[2] / "docs" / "concepts" / "security.md").read_text()
    blocks = dict(re.findall(r'^```\w+ title="([^"]+)"\n(.*?)^```$', page, re.M | re.S))
    (tmp_path / "guards.py").write_text(blocks["guards.py"])
    (tmp_path / "guarded.yaml").write_text(blocks["guarded.yaml"])
    try:
        workflow = load_workflow(tmp_path / "guarded.yaml")
        names = [g.name for g in workflow.guardrails]
        assert names == ["pii", "pii-2", "deny", "max_size", "codenames"]
        codenames = workflow.guardrails[-1]
        subject = Subject(stage="attempt", direction="output", part="output", task="t", agent="a")
        verdict = codenames.check("Falcon and Falcon", subject)
        assert (verdict.decision, dict(verdict.findings)) == ("block", {"Falcon": 2})
        async with Orchestrator(store=f"sqlite:///{tmp_path / 'runs.db'}") as orch:
            result = await orch.run(workflow, inputs={"message": "from ann@example.com"})
            events = await orch.events(result.run_id)
    finally:
        sys.modules.pop("guards", None)
    assert result.status == "succeeded"
    [decided] = [e for e in events if isinstance(e, GuardrailDecided)]
    assert (decided.guardrail, decided.decision, decided.findings) == (
        "pii",
        "redact",
        {"EMAIL_ADDRESS": 2},
    )
