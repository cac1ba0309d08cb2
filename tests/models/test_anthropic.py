"""`AnthropicModel` through the real SDK, against recorded Messages API responses served by
``httpx2.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from podium.exceptions import ConfigError
from podium.models import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
    resolve_model,
)
from podium.models._anthropic import DEFAULT_MAX_TOKENS, FINAL_OUTPUT_TOOL, AnthropicModel
from podium.models._errors import (
    AuthenticationError,
    ContextTooLong,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)

pytestmark = pytest.mark.model_requests  # requests through the SDK to a mock transport

MODEL = "claude-sonnet-4-6"
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
REPORT_SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["summary", "score"],
}
USAGE = {
    "input_tokens": 412,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 100,
    "output_tokens": 57,
    "service_tier": "standard",
}


def message(content: list[dict[str, Any]], stop_reason: str) -> dict[str, Any]:
    """A Messages API response as recorded from the API (ids and counts from a real call)."""
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": USAGE,
    }


TEXT = message([{"type": "text", "text": "Paris is sunny today."}], "end_turn")
TOOL_USE = message(
    [
        {"type": "text", "text": "I'll look up the weather in Paris."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"city": "Paris"},
        },
    ],
    "tool_use",
)
FINAL = message(
    [
        {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": FINAL_OUTPUT_TOOL,
            "input": {"summary": "Sunny", "score": 8},
        }
    ],
    "tool_use",
)


def api_error(type_: str, text: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": type_, "message": text},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }


Handler = Callable[[httpx2.Request], httpx2.Response]


class Recorder:
    """Serves one canned response and keeps the request bodies it was sent."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        headers = {"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy", **self.headers}
        return httpx2.Response(self.status, json=self.body, headers=headers)

    @property
    def sent(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


async def call(handler: Handler, request: ModelRequest) -> ModelResponse:
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        model = AnthropicModel(MODEL, api_key="sk-ant-test", http_client=http)
        return await model.request(request)


def ask(text: str, **options: Any) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), **options)


@pytest.mark.anyio
async def test_text_answer_and_usage() -> None:
    recorder = Recorder(200, TEXT)
    response = await call(recorder, ask("Weather in Paris?"))
    assert response.text == "Paris is sunny today."
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"
    assert response.model == "anthropic:claude-sonnet-4-6"
    assert response.usage.input_tokens == 512  # uncached + cache reads
    assert response.usage.output_tokens == 57
    request = recorder.requests[0]
    assert request.url.path == "/v1/messages"
    assert request.headers["authorization"] == "Bearer sk-ant-test"
    assert recorder.sent["max_tokens"] == DEFAULT_MAX_TOKENS


@pytest.mark.anyio
async def test_conversation_is_sent_as_system_tool_use_and_tool_result_blocks() -> None:
    recorder = Recorder(200, TEXT)
    request = ModelRequest(
        messages=(
            SystemMessage(content="Be brief."),
            SystemMessage(content="Use metric units."),
            UserMessage(content="Weather in Paris and Rome?"),
            AssistantMessage(
                content="Checking both.",
                tool_calls=(
                    ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"}),
                    ToolCall(id="toolu_2", name="get_weather", arguments={"city": "Rome"}),
                ),
            ),
            ToolResultMessage(call_id="toolu_1", name="get_weather", content="21C sunny"),
            ToolResultMessage(call_id="toolu_2", name="get_weather", content="down", is_error=True),
        ),
        tools=(WEATHER,),
        max_tokens=300,
        temperature=0.3,
    )
    await call(recorder, request)
    sent = recorder.sent
    assert sent["system"] == "Be brief.\n\nUse metric units."
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                 "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21C sunny",
                 "is_error": False},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "down",
                 "is_error": True},
            ],
        },
    ]  # fmt: skip
    assert sent["tools"] == [
        {"name": "get_weather", "description": WEATHER.description,
         "input_schema": WEATHER.parameters},
    ]  # fmt: skip
    assert "tool_choice" not in sent
    assert sent["max_tokens"] == 300
    assert "temperature" not in sent  # API 2026-10-21 rejects sampling parameters


@pytest.mark.anyio
async def test_tool_use_becomes_tool_calls() -> None:
    response = await call(Recorder(200, TOOL_USE), ask("Weather?", tools=(WEATHER,)))
    assert response.tool_calls == (
        ToolCall(
            id="toolu_01A09q90qw90lq917835lq9", name="get_weather", arguments={"city": "Paris"}
        ),
    )
    assert response.text == "I'll look up the weather in Paris."
    assert response.finish_reason == "tool_calls"


@pytest.mark.anyio
async def test_structured_output_is_a_forced_final_output_tool() -> None:
    recorder = Recorder(200, FINAL)
    response = await call(recorder, ask("Rate the weather.", output_schema=REPORT_SCHEMA))
    assert json.loads(response.text or "") == {"summary": "Sunny", "score": 8}
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"
    sent = recorder.sent
    assert sent["tool_choice"] == {"type": "tool", "name": FINAL_OUTPUT_TOOL}
    assert sent["tools"][-1]["name"] == FINAL_OUTPUT_TOOL
    assert sent["tools"][-1]["input_schema"] == REPORT_SCHEMA


@pytest.mark.anyio
async def test_structured_output_with_tools_lets_the_model_call_them_first() -> None:
    recorder = Recorder(200, TOOL_USE)
    response = await call(recorder, ask("Rate it.", tools=(WEATHER,), output_schema=REPORT_SCHEMA))
    assert recorder.sent["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in recorder.sent["tools"]] == ["get_weather", FINAL_OUTPUT_TOOL]
    assert response.tool_calls[0].name == "get_weather"


@pytest.mark.anyio
async def test_a_non_object_output_schema_is_wrapped_and_unwrapped() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    body = message(
        [{"type": "tool_use", "id": "toolu_9", "name": FINAL_OUTPUT_TOOL,
          "input": {"value": ["a", "b"]}}],
        "tool_use",
    )  # fmt: skip
    recorder = Recorder(200, body)
    response = await call(recorder, ask("List.", output_schema=schema))
    assert json.loads(response.text or "") == ["a", "b"]
    assert recorder.sent["tools"][0]["input_schema"] == {
        "type": "object",
        "properties": {"value": schema},
        "required": ["value"],
    }


@pytest.mark.anyio
async def test_max_tokens_stop_is_length() -> None:
    body = message([{"type": "text", "text": "Paris is"}], "max_tokens")
    response = await call(Recorder(200, body), ask("Weather?"))
    assert response.finish_reason == "length"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(message([], "end_turn"), id="empty"),
        pytest.param(message([{"type": "text", "text": ""}], "refusal"), id="refusal"),
    ],
)
@pytest.mark.anyio
async def test_unusable_messages_are_invalid_response(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidResponse):
        await call(Recorder(200, body), ask("x"))


@pytest.mark.anyio
async def test_429_is_rate_limited_with_retry_after() -> None:
    body = api_error(
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    )
    with pytest.raises(RateLimited) as caught:
        await call(Recorder(429, body, {"retry-after": "30"}), ask("x"))
    assert caught.value.retry_after_s == 30.0
    assert caught.value.retryable
    assert caught.value.status_code == 429
    assert "rate limit" in str(caught.value)


@pytest.mark.anyio
async def test_401_is_authentication_error() -> None:
    body = api_error("authentication_error", "invalid x-api-key")
    with pytest.raises(AuthenticationError) as caught:
        await call(Recorder(401, body), ask("x"))
    assert not caught.value.retryable
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    assert "invalid x-api-key" in str(caught.value)


@pytest.mark.anyio
async def test_529_overloaded_is_provider_unavailable() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await call(Recorder(529, api_error("overloaded_error", "Overloaded")), ask("x"))
    assert caught.value.retryable
    assert caught.value.status_code == 529


@pytest.mark.anyio
async def test_a_too_long_prompt_is_context_too_long() -> None:
    body = api_error("invalid_request_error", "prompt is too long: 215634 tokens > 200000 maximum")
    with pytest.raises(ContextTooLong) as caught:
        await call(Recorder(400, body), ask("x"))
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("status", "type_", "error"),
    [
        (500, "api_error", ProviderUnavailable),
        (504, "timeout_error", ProviderTimeout),
        (403, "permission_error", AuthenticationError),
        (413, "request_too_large", ContextTooLong),
        (400, "invalid_request_error", ProviderError),
    ],
)
@pytest.mark.anyio
async def test_status_codes_are_translated(
    status: int, type_: str, error: type[ProviderError]
) -> None:
    with pytest.raises(ProviderError) as caught:
        await call(Recorder(status, api_error(type_, "something went wrong")), ask("x"))
    assert type(caught.value) is error
    assert caught.value.provider == "anthropic"


@pytest.mark.anyio
async def test_a_connection_failure_is_provider_unavailable() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    with pytest.raises(ProviderUnavailable):
        await call(handler, ask("x"))


@pytest.mark.anyio
async def test_a_transport_timeout_is_provider_timeout() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    with pytest.raises(ProviderTimeout):
        await call(handler, ask("x"))


@pytest.mark.anyio
async def test_anthropic_names_resolve_through_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    model = resolve_model("anthropic:claude-haiku-4-5")
    assert isinstance(model, AnthropicModel)
    assert (model.name, model.provider) == ("anthropic:claude-haiku-4-5", "anthropic")
    async with model:
        pass


@pytest.mark.parametrize("config_dir", [False, True])
def test_no_credentials_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_dir: bool
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no profiles on disk
    if config_dir:  # a named config folder without the profile the SDK looks for
        monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))
    else:
        monkeypatch.delenv("ANTHROPIC_CONFIG_DIR", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AnthropicModel(MODEL)


@pytest.mark.anyio
async def test_an_empty_assistant_turn_is_left_out() -> None:
    recorder = Recorder(200, TEXT)
    request = ModelRequest(
        messages=(UserMessage(content="a"), AssistantMessage(), UserMessage(content="b"))
    )
    await call(recorder, request)
    assert recorder.sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]
