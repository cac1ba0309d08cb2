"""The planner's schema, the decoding of proposals and the deterministic matching helpers."""

from __future__ import annotations

import json

import jsonschema
import pytest

from podium import Agent
from podium.events import PlanProposed, RunSubmitted
from podium.plan import best_agent
from podium.plan._match import rank_agents, simple_question
from podium.plan._proposal import id_prefix, parse_proposal, plan_schema
from podium.runtime import RunState

from .helpers import team

AGENTS = {a.name: a for a in team()}
IDS = ["t1", "t2", "t3"]


def valid(schema: dict[str, object], value: object) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def test_the_schema_is_valid_json_schema_and_shapes_a_graph() -> None:
    schema = plan_schema(AGENTS, ids=IDS)
    jsonschema.Draft202012Validator.check_schema(schema)
    t1 = {"id": "t1", "instruction": "Find", "agent": "researcher", "needs": []}
    t2 = {"id": "t2", "instruction": "Write", "agent": "writer", "needs": ["t1"]}
    assert valid(schema, {"tasks": [t1]})
    assert valid(schema, {"tasks": [t1, t2]})
    assert not valid(schema, {"tasks": []})
    assert not valid(schema, {"tasks": "t1"})
    assert not valid(schema, {"tasks": [t2]})  # ids are fixed by position
    assert not valid(schema, {"tasks": [{**t1, "agent": "nobody"}]})
    assert not valid(schema, {"tasks": [{**t1, "needs": ["t1"]}]})  # only earlier tasks
    assert not valid(schema, {"tasks": [t1, {**t2, "needs": ["t3"]}]})
    assert not valid(schema, {"tasks": [t1, t2, {**t2, "id": "t3"}, {**t2, "id": "t4"}]})
    assert not valid(schema, {"answer": "4"})


def test_the_schema_may_offer_answers_capabilities_and_finished_tasks() -> None:
    agents = {
        "w": Agent(name="w", capabilities=("writing",), function=len),
        "r": Agent(name="r", capabilities=("research", "writing"), function=len),
    }
    schema = plan_schema(agents, ids=["x-r1-1"], given=["done"], answers=True, by_capability=True)
    jsonschema.Draft202012Validator.check_schema(schema)
    task = {"id": "x-r1-1", "instruction": "Do", "capability": "writing", "needs": ["done"]}
    assert valid(schema, {"tasks": [task]})
    assert not valid(schema, {"tasks": [{**task, "capability": "cooking"}]})
    assert valid(schema, {"answer": "4"})
    assert schema["$defs"]["capability"] == {"enum": ["research", "writing"]}  # type: ignore[index]


def test_parse_proposal_reads_tasks_and_answers() -> None:
    text = json.dumps(
        {"tasks": [{"id": "a", "instruction": "x", "agent": "w", "needs": ["b", "b"]}]}
    )
    proposal = parse_proposal(text, answers=False)
    assert proposal.problems == ()
    [task] = proposal.tasks
    assert (task.id, task.agent, task.needs) == ("a", "w", ("b",))
    assert parse_proposal('{"answer": "4"}', answers=True).answer == "4"


@pytest.mark.parametrize(
    ("text", "answers", "problem"),
    [
        ("{", False, "the answer is not JSON"),
        ("[1]", False, "the answer has the wrong shape: Expected `object`, got `array`"),
        ('{"tasks": [{"id": 1}]}', False, "Expected `str`, got `int` - at tasks[0].id"),
        ('{"tasks": [], "answer": "x"}', True, 'give either "tasks" or "answer", not both'),
        ('{"answer": "x"}', False, "a direct answer is not allowed here"),
        ('{"answer": " "}', True, "the answer is empty"),
        ("{}", True, 'the answer has no "tasks"'),
        ('{"tasks": [{"id": "a", "agent": "w"}]}', False, "tasks.a.instruction: the instruction"),
    ],
)
def test_parse_proposal_problems(text: str, answers: bool, problem: str) -> None:
    problems = parse_proposal(text, answers=answers).problems
    assert len(problems) == 1
    assert problem in problems[0]


def test_best_agent_matches_words_of_the_goal() -> None:
    assert best_agent("Translate the summary into Spanish", AGENTS) == "translator"
    assert best_agent("write a report on tides", AGENTS) == "writer"
    assert best_agent("find sources about volcanoes", AGENTS) == "researcher"
    assert best_agent("zzz", AGENTS) == "researcher"  # a tie goes to the first declared
    assert best_agent("anything", {}) is None


def test_agents_are_ranked_by_how_well_they_match() -> None:
    ranked = rank_agents("Translate the report into French", AGENTS)
    assert list(ranked) == ["translator", "writer", "researcher"]
    assert list(rank_agents("zzz", AGENTS)) == list(AGENTS)


def test_ids_avoid_the_first_letters_of_agent_names() -> None:
    assert id_prefix(["writer", "coder"]) == "t"
    assert id_prefix(["translator", "writer"]) == "s"
    assert id_prefix(["t", "s", "n", "p", "k", "q", "x", "z"]) == "t"


@pytest.mark.parametrize(
    ("goal", "simple"),
    [
        ("What is the capital of France?", True),
        ("  How many legs does a spider have?  ", True),
        ("Write a report on tides", False),
        ("Find sources. Then what do they say?", False),
        (
            "Could you research the causes of coral bleaching across every ocean, compare the "
            "regions and summarise it all?",
            False,
        ),
    ],
)
def test_only_short_questions_may_be_answered_directly(goal: str, simple: bool) -> None:
    assert simple_question(goal) is simple


def test_planner_tokens_count_in_the_run_usage() -> None:
    state = RunState.from_events(
        "r",
        [
            RunSubmitted(run_id="r", seq=0, ts=0.0, goal="g"),
            PlanProposed(run_id="r", seq=1, ts=0.0, attempt=1, input_tokens=10, output_tokens=3),
        ],
    )
    assert (state.usage.input_tokens, state.usage.output_tokens) == (10, 3)
