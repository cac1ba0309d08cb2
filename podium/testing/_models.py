"""Fake models for deterministic tests. They are product code: documented and tested.

- `TestModel` calls every offered tool once with arguments generated from its schema, then answers
  with JSON generated from the output schema (or a fixed text).
- `FunctionModel` lets the test be the model: a function receives the request and answers.
- `ScriptedModel` answers from a list of responses, in order.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from podium.exceptions import ModelError
from podium.models._base import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    approx_tokens,
)

JSON = Any


def sample_from_schema(  # noqa: PLR0911 - one return per JSON Schema construct
    schema: Mapping[str, JSON], *, seed: str = "a"
) -> JSON:
    """A simple value that matches a JSON Schema (first enum value, minimal lengths, …)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample_from_schema(schema[key][0], seed=seed)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: Mapping[str, JSON] = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {k: sample_from_schema(props[k], seed=seed) for k in required if k in props}
    if kind == "array":
        n = int(schema.get("minItems", 1))
        items = schema.get("items", {"type": "string"})
        return [sample_from_schema(items, seed=seed) for _ in range(n)]
    simple: dict[str, JSON] = {
        "integer": int(schema.get("minimum", 0)),
        "number": float(schema.get("minimum", 0.0)),
        "boolean": False,
        "null": None,
    }
    if kind in simple:
        return simple[kind]
    return seed * max(1, int(schema.get("minLength", 1)))


def _usage(request: ModelRequest, text: str) -> TokenUsage:
    prompt = sum(approx_tokens(getattr(m, "content", "") or "") for m in request.messages)
    return TokenUsage(input_tokens=prompt, output_tokens=approx_tokens(text))


class TestModel:
    """Calls every offered tool once, then answers.

    Args:
        call_tools: ``"all"`` or the names of the tools to call in the first round.
        output_text: the answer when the request has no output schema (default: a JSON summary
            of the tool results, or ``"success (no tool calls)"``).
        output: the answer when the request has an output schema (default: generated from it).
    """

    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        call_tools: str | Sequence[str] = "all",
        output_text: str | None = None,
        output: JSON = None,
    ) -> None:
        self.call_tools = call_tools
        self.output_text = output_text
        self.output = output
        self.requests: list[ModelRequest] = []
        self._ids = itertools.count(1)

    @property
    def name(self) -> str:
        return "test:test"

    @property
    def provider(self) -> str:
        return "test"

    async def request(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        called = any(isinstance(m, AssistantMessage) and m.tool_calls for m in request.messages)
        wanted = [t for t in request.tools if self.call_tools == "all" or t.name in self.call_tools]
        if wanted and not called:
            calls = tuple(
                ToolCall(
                    id=f"call_{next(self._ids)}",
                    name=t.name,
                    arguments=sample_from_schema(t.parameters),
                )
                for t in wanted
            )
            return ModelResponse(
                tool_calls=calls,
                usage=_usage(request, ""),
                model=self.name,
                finish_reason="tool_calls",
            )
        text = self._answer(request)
        return ModelResponse(text=text, usage=_usage(request, text), model=self.name)

    def _answer(self, request: ModelRequest) -> str:
        if request.output_schema is not None:
            value = (
                self.output
                if self.output is not None
                else sample_from_schema(request.output_schema)
            )
            return json.dumps(value)
        if self.output_text is not None:
            return self.output_text
        results = {m.name: m.content for m in request.messages if isinstance(m, ToolResultMessage)}
        return json.dumps(results) if results else "success (no tool calls)"


def model_from_name(_name: str) -> TestModel:
    """The ``test`` model provider: ``test:ANYTHING`` is a default `TestModel`."""
    return TestModel()


ModelFunction = Callable[[ModelRequest], ModelResponse | str | Awaitable[ModelResponse | str]]


class FunctionModel:
    """The test is the model: `function(request)` returns a `ModelResponse` or plain text."""

    def __init__(self, function: ModelFunction, *, name: str = "function") -> None:
        self.function = function
        self._name = name
        self.requests: list[ModelRequest] = []

    @property
    def name(self) -> str:
        return f"test:{self._name}"

    @property
    def provider(self) -> str:
        return "test"

    async def request(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        answer = self.function(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, str):
            return ModelResponse(text=answer, usage=_usage(request, answer), model=self.name)
        return answer


Scripted = ModelResponse | str | dict[str, JSON] | Exception


class ScriptedModel:
    """Answers from a script, one entry per request, in order.

    An entry is a `ModelResponse`, a text, a dict (sent as JSON text), or an exception to raise.
    Running past the end raises `ModelError`.
    """

    def __init__(self, script: Sequence[Scripted], *, name: str = "scripted") -> None:
        self.script = list(script)
        self._name = name
        self.requests: list[ModelRequest] = []

    @property
    def name(self) -> str:
        return f"test:{self._name}"

    @property
    def provider(self) -> str:
        return "test"

    @property
    def remaining(self) -> int:
        return len(self.script) - len(self.requests)

    async def request(self, request: ModelRequest) -> ModelResponse:
        index = len(self.requests)
        self.requests.append(request)
        if index >= len(self.script):
            raise ModelError(
                f"scripted model {self._name!r} has no answer for request "
                f"#{index + 1} (script has {len(self.script)})"
            )
        entry = self.script[index]
        if isinstance(entry, Exception):
            raise entry
        if isinstance(entry, dict):
            entry = json.dumps(entry)
        if isinstance(entry, str):
            return ModelResponse(text=entry, usage=_usage(request, entry), model=self.name)
        return entry
