"""`podium schema workflow`: the JSON Schema of workflow files agrees with the loader.

The schema is built from the loader's own models; these tests hold it to the loader: every key
the loader knows is in it (described), every file the loader accepts validates, and structural
mistakes the loader refuses are refused by the schema too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from podium.exceptions import ConfigError, PlanValidationError
from podium.plan import load_workflow, load_workflow_text
from podium.plan._file_schema import workflow_schema
from podium.plan._file_schema_text import DESCRIPTIONS
from podium.plan._yaml import _SECTIONS
from podium.plan._yaml_schema import _AgentBody, _TaskBody
from tests.cli.helpers import invoke

ROOT = Path(__file__).parents[2]
SCHEMA = workflow_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

BASE: dict[str, Any] = {
    "name": "sample",
    "inputs": {"topic": {"type": "string", "default": "tides"}},
    "agents": {"writer": {"model": "test", "capabilities": ["writing"]}},
    "tasks": [
        {"id": "draft", "agent": "writer", "instruction": "Write about {{ inputs.topic }}"},
        {"id": "review", "capability": "writing", "needs": ["draft"]},
    ],
    "output": "{{ tasks.review.output }}",
}


def loads(data: Any) -> bool:
    """Whether the loader accepts `data` (checked, no code run)."""
    try:
        load_workflow_text(yaml.safe_dump(data, sort_keys=False), import_code=False)
    except (ConfigError, PlanValidationError):
        return False
    return True


def valid(data: Any) -> bool:
    return VALIDATOR.is_valid(data)


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["required"] == ["tasks"]


def test_every_section_and_key_of_the_loader_is_in_the_schema_with_a_description() -> None:
    assert set(SCHEMA["properties"]) == set(_SECTIONS)
    assert all(prop["description"] for prop in SCHEMA["properties"].values())
    for name, body in SCHEMA["$defs"].items():
        assert body["description"] == DESCRIPTIONS[name][""]
        keys = set(body.get("properties", {}))
        assert keys == set(DESCRIPTIONS[name]) - {""}, name
    agent = SCHEMA["$defs"]["Agent"]["properties"]
    assert set(agent) == {f.alias or n for n, f in _AgentBody.model_fields.items()}
    assert set(SCHEMA["$defs"]["Task"]["properties"]) == set(_TaskBody.model_fields)
    assert agent["max_rounds"] == {
        "default": 8,
        "minimum": 1,
        "type": "integer",
        "description": DESCRIPTIONS["Agent"]["max_rounds"],
    }


def test_podium_schema_workflow_prints_it() -> None:
    result = invoke("schema", "workflow")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == SCHEMA


def _workflow_files() -> list[Path]:
    found = [*ROOT.glob("examples/*.yaml"), *ROOT.glob("tests/**/data/*.yaml")]
    return sorted(p for p in found if "journals" not in p.parts)


def test_every_file_the_loader_accepts_validates() -> None:
    accepted = 0
    for path in _workflow_files():
        try:
            load_workflow(path, import_code=False)
        except (ConfigError, PlanValidationError):
            continue
        accepted += 1
        errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path
    assert accepted >= 10


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change of `BASE`: the value at a dotted path (list indexes as numbers) set."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for key in parents:
            node = node[key]
        del node[last]

    return change


def _all(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for one in changes:
            one(data)

    return change


ACCEPTED = {
    "a name instead of a list": _set("agents.writer.capabilities", "writing"),
    "inputs as a list of names": _set("inputs", ["topic"]),
    "tasks as a mapping": _set(
        "tasks", {"draft": {"agent": "writer"}, "review": {"agent": "writer", "needs": "draft"}}
    ),
    "executor by name": _set("executor", "ray"),
    "executor local, empty": _set("executor", {"local": None}),
    "ray settings": _set("executor", {"ray": {"num_cpus": 2, "agents": {"writer": None}}}),
    "prices as a pair": _set("prices", {"m": [0.1, 2]}),
    "prices as a mapping": _set("prices", {"m": {"input": 1, "output": 2}}),
    "retry with on": _set("tasks.0.retry", {"attempts": 2, "on": "timeout"}),
    "retries 0 beside retry": _set("tasks.0", {"id": "draft", "agent": "writer", "retries": 0}),
    "a policy": _set("policy", {"approve_effects": ["write"], "min_confidence": 0.5}),
    "a planner with a default plan": _set(
        "planner", {"fallback": {"tasks": [{"id": "a", "agent": "writer"}], "output": "a"}}
    ),
    "an output mapping": _set("output", {"text": "{{ tasks.review.output }}"}),
    "model null beside an a2a url": _set(
        "agents.far", {"a2a": "http://127.0.0.1:9/", "model": None, "description": "d"}
    ),
    "context last": _set("context", {"notes": {"merge": "last"}}),
    "a router": _set("router", {"relevance": "bm25", "tie_break_model": "openai:gpt-4o-mini"}),
    "an mcp server": _set(
        "mcp_servers", {"files": {"url": "https://x.example/mcp", "tools": ["read"]}}
    ),
}

REFUSED = {
    "an unknown section": _set("agentz", {}),
    "an unknown agent key": _set("agents.writer.modle", "test"),
    "an agent with model and python": _set("agents.writer.python", "m:f"),
    "an agent with neither": _drop("agents.writer.model"),
    "max_rounds 0": _set("agents.writer.max_rounds", 0),
    "a task without id in a list": _drop("tasks.0.id"),
    "a task with a bad id": _set("tasks.0.id", "1st"),
    "a task with neither agent nor capability": _drop("tasks.0.agent"),
    "an unknown risk": _set("tasks.0.risk", "extreme"),
    "retries and retry": _all(_set("tasks.0.retries", 2), _set("tasks.0.retry", {})),
    "an empty task list": _set("tasks", []),
    "no tasks": _drop("tasks"),
    "a bad input type": _set("inputs.topic.type", "str"),
    "an input name with a space": _set("inputs", {"my topic": None}),
    "two executors": _set("executor", {"local": None, "ray": None}),
    "an unknown executor": _set("executor", "k8s"),
    "settings for local": _set("executor", {"local": {"x": 1}}),
    "a negative price": _set("prices", {"m": [-1, 2]}),
    "a price of three numbers": _set("prices", {"m": [1, 2, 3]}),
    "a tool with python and use": _set("tools", {"t": {"python": "m:f", "use": "calculator"}}),
    "a tool with neither": _set("tools", {"t": {"effect": "read"}}),
    "with without use": _set("tools", {"t": {"python": "m:f", "with": {"a": 1}}}),
    "reduce without a reducer": _set("context", {"k": {"merge": "reduce"}}),
    "a reducer without reduce": _set("context", {"k": {"reducer": "m:f"}}),
    "an mcp server with command and url": _set(
        "mcp_servers", {"s": {"command": "x", "url": "https://x.example/mcp"}}
    ),
    "an mcp url that is not http": _set("mcp_servers", {"s": {"url": "ftp://x/mcp"}}),
    "a name of a number": _set("name", 3),
    "an empty name": _set("name", ""),
    "an output of a number": _set("output", 3),
    "a planner fallback by another name": _set("planner", {"fallback": "human"}),
    "an interceptor of a number": _set("interceptors", [3]),
    "jitter above 1": _set("agents.writer.retry", {"jitter": 1.5}),
    "a boolean for an integer": _set("tasks.0.retries", True),
    "a tie-break model without provider": _set("router", {"tie_break_model": "gpt-4o"}),
    "an unknown relevance": _set("router", {"relevance": "vibes"}),
}


@pytest.mark.parametrize("change", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_what_the_loader_accepts_the_schema_accepts(
    change: Callable[[dict[str, Any]], None],
) -> None:
    data = copy.deepcopy(BASE)
    change(data)
    assert loads(data)
    assert [e.message for e in VALIDATOR.iter_errors(data)] == []


@pytest.mark.parametrize("change", REFUSED.values(), ids=REFUSED.keys())
def test_what_the_loader_refuses_for_its_shape_the_schema_refuses(
    change: Callable[[dict[str, Any]], None],
) -> None:
    data = copy.deepcopy(BASE)
    change(data)
    assert not loads(data)
    assert not valid(data)


def test_the_base_is_accepted_by_both() -> None:
    assert loads(BASE)
    assert valid(BASE)
