"""The JSON Schema of the workflow file format (``podium schema workflow``).

It is built from the pydantic models the loader checks each body with (`_yaml_schema`), so keys,
types, defaults and bounds cannot drift from what the loader accepts. What the loader checks in
code is added here: each section's shape (``tasks`` as a list or a mapping, ``executor`` as a
name or a mapping, …) and the keys that exclude or need each other. Every key carries its
description from `DESCRIPTIONS` (a test checks that none is missing). What no schema can say —
that a task names a known agent, that a ``python:`` reference can be imported, that the plan has
no cycle — is left to ``podium validate``.
"""

from __future__ import annotations

import copy
from typing import Any

import pydantic
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from podium.plan._file_schema_text import DESCRIPTIONS, SECTIONS
from podium.plan._planner_file import _FallbackBody, _PlannerBody
from podium.plan._validate import _ID
from podium.plan._workflow import INPUT_NAME
from podium.plan._yaml_guardrails import (
    GUARDRAIL_BODIES,
    _AllowGuardBody,
    _DenyGuardBody,
    _MaxSizeGuardBody,
    _PiiGuardBody,
    _PythonGuardBody,
    _SchemaGuardBody,
)
from podium.plan._yaml_mcp import _McpServerBody
from podium.plan._yaml_router import _RouterBody
from podium.plan._yaml_schema import (
    _AgentBody,
    _BudgetBody,
    _CheckBody,
    _CompensateBody,
    _ConfidenceBody,
    _ContextBody,
    _InputBody,
    _InterceptorBody,
    _one_or_many,
    _PolicyBody,
    _RayAgentBody,
    _RayBody,
    _RetryBody,
    _TaskBody,
    _ToolBody,
    _ToolUndoBody,
    _UntrustedBody,
)

__all__ = ["workflow_schema"]

_BODIES: dict[type[pydantic.BaseModel], str] = {
    _InputBody: "Input",
    _AgentBody: "Agent",
    _RetryBody: "Retry",
    _ToolBody: "Tool",
    _ToolUndoBody: "ToolUndo",
    _McpServerBody: "McpServer",
    _ContextBody: "Context",
    _PolicyBody: "Policy",
    _UntrustedBody: "Untrusted",
    _RouterBody: "Router",
    _PlannerBody: "Planner",
    _FallbackBody: "Fallback",
    _RayBody: "Ray",
    _RayAgentBody: "RayAgent",
    _InterceptorBody: "Interceptor",
    _TaskBody: "Task",
    _BudgetBody: "Budget",
    _CheckBody: "Check",
    _CompensateBody: "Compensate",
    _ConfidenceBody: "Confidence",
    _PiiGuardBody: "PiiGuardrail",
    _DenyGuardBody: "DenyGuardrail",
    _AllowGuardBody: "AllowGuardrail",
    _MaxSizeGuardBody: "MaxSizeGuardrail",
    _SchemaGuardBody: "SchemaGuardrail",
    _PythonGuardBody: "PythonGuardrail",
}
_GUARDRAILS = ("Pii", "Deny", "Allow", "MaxSize", "Schema", "Python")
_NULL = {"type": "null"}


def _ref(name: str) -> JsonSchemaValue:
    return {"$ref": f"#/$defs/{name}"}


def _or_null(schema: JsonSchemaValue) -> JsonSchemaValue:
    if list(schema) == ["anyOf"]:
        return {"anyOf": [*schema["anyOf"], _NULL]}
    return {"anyOf": [schema, _NULL]}


class _Generator(GenerateJsonSchema):
    """Pydantic's generator, with the one-or-many lists said as they are read: a name or a list
    of names."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        if schema["function"].get("function") is _one_or_many:
            return {"anyOf": [{"type": "string"}, inner]}
        return inner


def workflow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file, with a description on every key."""
    defs = _bodies()
    _refine(defs)
    # a key not described yet gets no text rather than breaking the command (a test wants one)
    for name, body in defs.items():
        said = DESCRIPTIONS.get(name, {})
        body["description"] = said.get("", "")
        for key, prop in body.get("properties", {}).items():
            prop["description"] = said.get(key, "")
    top = _sections()
    for key, prop in top["properties"].items():
        prop["description"] = SECTIONS.get(key, "")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Podium workflow file",
        **top,
        "$defs": dict(sorted(defs.items())),
    }


def _bodies() -> dict[str, dict[str, Any]]:
    """Each body's schema from its pydantic model, named as in `_BODIES`, titles dropped."""
    _, generated = models_json_schema(
        [(model, "validation") for model in _BODIES],
        by_alias=True,
        ref_template="#/$defs/{model}",
        schema_generator=_Generator,
    )
    by_ref = {model.__name__: name for model, name in _BODIES.items()}
    text = _rename(generated["$defs"], by_ref)
    defs: dict[str, dict[str, Any]] = {by_ref[k]: v for k, v in text.items()}
    for body in defs.values():
        body.pop("title", None)
        for prop in body.get("properties", {}).values():
            prop.pop("title", None)
    return defs


def _rename(node: Any, names: dict[str, str]) -> Any:
    """`node` with every ``#/$defs/_XBody`` reference renamed."""
    if isinstance(node, dict):
        out = {k: _rename(v, names) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = "#/$defs/" + names[ref.removeprefix("#/$defs/")]
        return out
    if isinstance(node, list):
        return [_rename(v, names) for v in node]
    return node


def _string(key: str) -> JsonSchemaValue:
    """``key`` is given, as a string (not null)."""
    return {"required": [key], "properties": {key: {"type": "string"}}}


def _refine(defs: dict[str, dict[str, Any]]) -> None:
    """What the loader checks in code besides the models, added to their schemas."""
    # an agent is made from exactly one of: a model, a Python callable, a remote A2A agent
    defs["Agent"]["oneOf"] = [_string("model"), _string("python"), _string("a2a")]
    defs["Tool"]["oneOf"] = [_string("python"), _string("use")]
    defs["Tool"]["if"] = {"required": ["with"], "properties": {"with": {"minProperties": 1}}}
    defs["Tool"]["then"] = _string("use")
    defs["McpServer"]["oneOf"] = [_string("command"), _string("url")]
    defs["McpServer"]["properties"]["url"]["anyOf"][0]["pattern"] = "^https?://"
    defs["Context"]["if"] = {"required": ["merge"], "properties": {"merge": {"const": "reduce"}}}
    defs["Context"]["then"] = _string("reducer")
    defs["Context"]["else"] = {"properties": {"reducer": _NULL}}
    task = defs["Task"]
    task["properties"]["id"] = _or_null({"type": "string", "pattern": _ID.pattern})
    task["anyOf"] = [_string("agent"), _string("capability")]
    task["not"] = {  # `retries: N` and `retry: {...}` are two ways to say one thing
        "required": ["retries", "retry"],
        "properties": {"retries": {"minimum": 1}, "retry": {"type": "object"}},
    }
    defs["TaskWithId"] = {"allOf": [_ref("Task"), _string("id")]}
    defs["Planner"]["properties"]["fallback"]["anyOf"][1] = _ref("Fallback")
    fallback = defs["Fallback"]["properties"]
    fallback["tasks"]["items"] = _ref("TaskWithId")
    fallback["output"] = _or_null(_OUTPUT)
    defs["Ray"]["properties"]["agents"]["additionalProperties"] = _or_null(_ref("RayAgent"))
    model = defs["Router"]["properties"]["tie_break_model"]["anyOf"][0]
    model["pattern"] = "^[^:].*:.*[^:]$"  # provider:model
    defs["Input"]["properties"]["default"].pop("default")  # no default: the input is required
    pairs = [_pair("input_per_mtok", "output_per_mtok"), _pair("input", "output")]
    pair = {"type": "array", "items": _USD, "minItems": 2, "maxItems": 2}
    defs["Price"] = {"oneOf": [*pairs, pair]}


_USD: JsonSchemaValue = {"type": "number", "minimum": 0}
_OUTPUT: JsonSchemaValue = {"type": ["string", "object", "array"]}


def _pair(first: str, second: str) -> JsonSchemaValue:
    return {
        "type": "object",
        "properties": {first: _USD, second: _USD},
        "required": [first, second],
        "additionalProperties": False,
    }


def _named(body: JsonSchemaValue, pattern: str | None = None) -> JsonSchemaValue:
    """A mapping of names to `body`."""
    schema: JsonSchemaValue = {"type": "object", "additionalProperties": body}
    if pattern is not None:
        schema["propertyNames"] = {"pattern": pattern}
    return schema


def _sections() -> dict[str, Any]:
    """The top level: every section's shape, around the bodies."""
    names = {"type": "string", "pattern": INPUT_NAME.pattern}
    executor_mapping = {
        "type": "object",
        "properties": {
            "local": {"anyOf": [_NULL, {"type": "object", "maxProperties": 0}]},
            "ray": _or_null(_ref("Ray")),
        },
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }
    properties: dict[str, JsonSchemaValue] = {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "inputs": _or_null(
            {
                "anyOf": [
                    {"type": "array", "items": names},
                    _named(_or_null(_ref("Input")), INPUT_NAME.pattern),
                ]
            }
        ),
        "agents": _or_null(_named(_ref("Agent"))),
        "tools": _or_null(_named(_ref("Tool"))),
        "mcp_servers": _or_null(_named(_ref("McpServer"))),
        "context": _or_null(_named(_or_null(_ref("Context")))),
        "policy": _or_null(_ref("Policy")),
        "router": _or_null(_ref("Router")),
        "planner": _or_null(_ref("Planner")),
        "prices": _or_null(_named(_ref("Price"))),
        "executor": {"anyOf": [{"enum": ["local", "ray"]}, executor_mapping, _NULL]},
        "interceptors": _or_null(
            {"type": "array", "items": {"anyOf": [{"type": "string"}, _ref("Interceptor")]}}
        ),
        "guardrails": _or_null(
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"enum": list(GUARDRAIL_BODIES)},
                        *(_ref(f"{name}Guardrail") for name in _GUARDRAILS),
                    ]
                },
            }
        ),
        "tasks": {
            "anyOf": [
                {"type": "array", "items": _ref("TaskWithId"), "minItems": 1},
                {**_named(_ref("Task"), _ID.pattern), "minProperties": 1},
            ]
        },
        "output": _or_null(copy.deepcopy(_OUTPUT)),
    }
    return {
        "type": "object",
        "properties": properties,
        "required": ["tasks"],
        "additionalProperties": False,
    }
