"""The fakes of `podium.testing` behave as documented."""

from __future__ import annotations

import json

import pytest

from podium.exceptions import ModelError
from podium.models import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from podium.testing import FunctionModel, ScriptedModel, TestModel, sample_from_schema

pytestmark = pytest.mark.anyio

ASK = (SystemMessage(content="be brief"), UserMessage(content="what is two and two"))
TOOLS = (
    ToolSpec(
        name="add",
        parameters={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "minimum": 3}},
            "required": ["a", "b"],
        },
    ),
    ToolSpec(
        name="echo",
        parameters={
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 3}},
            "required": ["text"],
        },
    ),
)


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string"}, "a"),
        ({"type": "string", "minLength": 4}, "aaaa"),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "number"}, 0.0),
        ({"type": "boolean"}, False),
        ({"type": "null"}, None),
        ({"enum": ["x", "y"]}, "x"),
        ({"const": 7}, 7),
        ({"type": ["null", "integer"]}, 0),
        ({"anyOf": [{"type": "boolean"}, {"type": "string"}]}, False),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [0, 0]),
        (
            {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["b"]},
            {"b": 0},
        ),
    ],
)
def test_sample_from_schema(schema: dict[str, object], value: object) -> None:
    assert sample_from_schema(schema) == value


async def test_test_model_calls_the_chosen_tools_once_then_summarises() -> None:
    model = TestModel(call_tools=["echo"])
    first = await model.request(ModelRequest(messages=ASK, tools=TOOLS))
    assert first.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("echo", {"text": "aaa"})]
    assert first.usage.input_tokens > 0
    follow = (
        *ASK,
        AssistantMessage(tool_calls=first.tool_calls),
        ToolResultMessage(call_id=first.tool_calls[0].id, name="echo", content="aaa!"),
    )
    second = await model.request(ModelRequest(messages=follow, tools=TOOLS))
    assert not second.tool_calls
    assert json.loads(second.text or "") == {"echo": "aaa!"}
    assert len(model.requests) == 2


async def test_test_model_answers_schema_json_or_fixed_text() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    answer = await TestModel().request(ModelRequest(messages=ASK, output_schema=schema))
    assert json.loads(answer.text or "") == {"n": 0}
    fixed = await TestModel(output={"n": 4}).request(
        ModelRequest(messages=ASK, output_schema=schema)
    )
    assert json.loads(fixed.text or "") == {"n": 4}
    text = await TestModel(output_text="four").request(ModelRequest(messages=ASK))
    assert text.text == "four"
    plain = await TestModel().request(ModelRequest(messages=ASK))
    assert plain.text == "success (no tool calls)"


async def test_function_model_takes_sync_and_async_functions() -> None:
    def sync(request: ModelRequest) -> str:
        return f"{len(request.messages)} messages"

    async def later(request: ModelRequest) -> ModelResponse:
        return ModelResponse(tool_calls=(ToolCall(id="1", name="add"),))

    assert (await FunctionModel(sync).request(ModelRequest(messages=ASK))).text == "2 messages"
    response = await FunctionModel(later, name="f").request(ModelRequest(messages=ASK))
    assert response.tool_calls[0].name == "add"
    assert FunctionModel(later, name="f").name == "test:f"


async def test_scripted_model_answers_in_order_and_raises_when_told() -> None:
    model = ScriptedModel(["one", {"two": 2}, ModelError("three fails")])
    assert (await model.request(ModelRequest(messages=ASK))).text == "one"
    assert json.loads((await model.request(ModelRequest(messages=ASK))).text or "") == {"two": 2}
    assert model.remaining == 1
    with pytest.raises(ModelError, match="three fails"):
        await model.request(ModelRequest(messages=ASK))
    with pytest.raises(ModelError, match="no answer for request #4"):
        await model.request(ModelRequest(messages=ASK))
