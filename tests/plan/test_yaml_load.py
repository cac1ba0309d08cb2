"""Workflow files that compile: what each section becomes."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from podium.context import MergePolicy
from podium.exceptions import ConfigError
from podium.plan import InputSpec, Workflow, load_workflow, load_workflow_text

DATA = Path(__file__).parent / "data"


@pytest.fixture
def full() -> Workflow:
    return load_workflow(DATA / "full.yaml")


def test_full_workflow_header_and_source(full: Workflow) -> None:
    assert full.name == "research"
    assert full.source_path == str((DATA / "full.yaml").resolve())
    assert os.path.isabs(full.source_path)
    assert full.source_text == (DATA / "full.yaml").read_text(encoding="utf-8")
    assert full.source() == {
        "name": "research",
        "path": full.source_path,
        "text": full.source_text,
    }


def test_full_workflow_inputs(full: Workflow) -> None:
    assert full.inputs is not None
    topic, n, sources = full.inputs
    assert topic == InputSpec(
        name="topic", type="string", description="What to research", default="tides"
    )
    assert not topic.required
    assert (n.name, n.type, n.required) == ("n", "integer", True)
    assert sources.default == ["atlas", "almanac"]
    assert full.bind_inputs({"n": "3"}) == {
        "topic": "tides",
        "n": 3,
        "sources": ["atlas", "almanac"],
    }


def test_full_workflow_agents(full: Workflow) -> None:
    agents = {a.name: a for a in full.agents}
    assert list(agents) == ["splitter", "researcher", "writer"]

    splitter = agents["splitter"]
    assert splitter.model is None
    assert splitter.function is not None
    assert (splitter.function.__module__, splitter.function.__name__) == ("wfhelpers", "split")
    assert splitter.capabilities == ("planning",)
    assert splitter.description == "Splits a topic into questions"

    researcher = agents["researcher"]
    assert researcher.model == "test"
    assert researcher.function is None
    assert researcher.instructions == "You find facts."
    assert (researcher.max_rounds, researcher.max_concurrency) == (6, 2)
    assert [t.name for t in researcher.tools] == ["search", "notify"]

    assert agents["writer"].capabilities == ("writing",)  # a single name is a list of one
    assert agents["writer"].max_rounds == 8
    assert agents["writer"].max_concurrency is None


def test_full_workflow_tools_have_effects_and_schemas(full: Workflow) -> None:
    researcher = next(a for a in full.agents if a.name == "researcher")
    search, notify = researcher.tools
    assert search.effect == "read"
    assert search.description == "Search the web for `query`."
    assert search.parameters["properties"]["query"] == {"title": "Query", "type": "string"}
    assert search.parameters["properties"]["limit"]["default"] == 3
    assert search.parameters["required"] == ["query"]
    assert search.function("tide", 2) == ["tide", "tide"]
    assert notify.effect == "irreversible"
    assert notify.description == "Tell the team"


def test_full_workflow_context_policies(full: Workflow) -> None:
    assert full.context.for_key("findings") == MergePolicy("append")
    assert full.context.for_key("summary") == MergePolicy("last")
    assert full.context.for_key("other") == MergePolicy("error")
    seen = full.context.for_key("seen")
    assert seen.mode == "reduce"
    assert seen.reducer is not None
    assert seen.reducer([3, 1], [2, 3]) == [1, 2, 3]


def test_full_workflow_tasks(full: Workflow) -> None:
    split, gather, report = full.plan
    assert split.agent == "splitter"
    assert split.instruction == "Split {{ inputs.topic }} into {{ inputs.n }} questions"
    assert split.output_schema == {"type": "array", "items": {"type": "string"}}
    assert gather.agent is None
    assert gather.capability == "research"
    assert gather.needs == ("split",)
    assert gather.map == "tasks.split.output"
    assert gather.reads == ("findings",)
    assert (gather.retries, gather.timeout_s, gather.optional) == (2, 30.0, False)
    assert report.needs == ("gather",)
    assert report.reads == ("findings", "summary")
    assert report.optional is True
    assert (report.retries, report.timeout_s, report.map) == (0, None, None)
    assert full.plan.output == {
        "report": "{{ tasks.report.output }}",
        "questions": "{{ tasks.split.output }}",
    }


def test_locate_points_at_the_field(full: Workflow) -> None:
    assert full.locate is not None
    file = str(DATA / "full.yaml")
    assert full.locate("gather", "needs") == (file, 37)
    assert full.locate("gather", "map") == (file, 38)
    assert full.locate("gather", "agent") == (file, 35)  # not given: the task's line
    assert full.locate("gather[1]", "instruction") == (file, 39)  # a mapped sub-task
    assert full.locate("", "output.report") == (file, 50)
    assert full.locate("nope", "needs") == (file, None)


def test_recompiling_the_recorded_source_gives_the_same_workflow(full: Workflow) -> None:
    recorded = full.source()
    again = load_workflow_text(recorded["text"], path=recorded["path"])
    assert again.name == full.name
    assert again.plan.to_data() == full.plan.to_data()
    assert [a.name for a in again.agents] == [a.name for a in full.agents]
    assert again.source_path == full.source_path


def test_tasks_as_a_mapping_and_inputs_as_a_list() -> None:
    wf = load_workflow_text(
        textwrap.dedent("""\
            inputs: [topic, count]
            agents:
              w: {model: "openai:gpt-4o-mini"}
            tasks:
              draft:
                agent: w
                instruction: "{{ inputs.topic }}"
              polish:
                id: polish
                agent: w
                needs: draft
                instruction: "{{ tasks.draft.output }}"
            output: polish
            """)
    )
    assert [t.id for t in wf.plan] == ["draft", "polish"]
    assert wf.plan.tasks["polish"].needs == ("draft",)
    assert wf.inputs == (InputSpec(name="topic"), InputSpec(name="count"))
    assert wf.agents[0].model == "openai:gpt-4o-mini"
    assert wf.plan.output == "polish"
    assert wf.name == "workflow"
    assert wf.source_path is None


def test_minimal_workflow_defaults() -> None:
    wf = load_workflow_text("agents: {w: {model: test}}\ntasks: [{id: a, agent: w}]\n")
    assert wf.inputs == ()
    assert wf.plan.output is None
    assert dict(wf.context.merge) == {}
    assert wf.plan.tasks["a"].instruction == ""


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "tide-report.yaml"
    path.write_text("agents: {w: {model: test}}\ntasks: [{id: a, agent: w}]\n", encoding="utf-8")
    wf = load_workflow(str(path))
    assert wf.name == "tide-report"
    assert wf.source_path == str(path)


def test_python_references_resolve_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd_agents_for_podium_test.py").write_text(
        "def act(call):\n    return 1\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    wf = load_workflow_text(
        "agents: {w: {python: 'cwd_agents_for_podium_test:act'}}\ntasks: [{id: a, agent: w}]\n"
    )
    assert wf.agents[0].function is not None
    assert wf.agents[0].function.__name__ == "act"


def test_yaml_anchors_and_merge_keys() -> None:
    wf = load_workflow_text(
        textwrap.dedent("""\
            agents: {w: {model: test}}
            tasks:
              - &base {id: a, agent: w, retries: 3}
              - {<<: *base, id: b, needs: [a]}
            """)
    )
    assert wf.plan.tasks["b"].retries == 3
    assert wf.plan.tasks["b"].agent == "w"


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_workflow(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: cannot read the workflow file: " + (
        "No such file or directory"
    )
    assert info.value.file == str(tmp_path / "nope.yaml")


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: the workflow file is not UTF-8 text"):
        load_workflow(path)
