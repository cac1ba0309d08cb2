"""`OpenAIModel`: end to end against a real OpenAI-compatible server (llama-cpp-python serving
SmolLM2 on loopback), and through ``httpx2.MockTransport`` for payloads and error paths a local
server cannot produce."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
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
from podium.models._errors import (
    AuthenticationError,
    ContextTooLong,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from podium.models._openai import LOCAL_SERVER_KEY, OpenAIModel

from .conftest import SERVER_MODEL

pytestmark = pytest.mark.model_requests  # requests to a loopback server or a mock transport

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


class Person(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    age: int


def ask(text: str, **options: Any) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), **options)


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


# --- a real server -------------------------------------------------------------------------


@pytest.fixture
def server_model(llama_server: str) -> OpenAIModel:
    return OpenAIModel(SERVER_MODEL, base_url=llama_server, structured_output="json_object")


@pytest.mark.slow
@pytest.mark.anyio
async def test_plain_chat_against_a_real_server(server_model: OpenAIModel) -> None:
    async with server_model:
        response = await server_model.request(ask("Name one colour.", max_tokens=16, temperature=0))
    assert response.text
    assert response.model == "openai:smollm2"
    assert response.finish_reason in {"stop", "length"}
    assert response.usage.input_tokens > 5
    assert 0 < response.usage.output_tokens <= 16


@pytest.mark.slow
@pytest.mark.anyio
async def test_structured_output_against_a_real_server_is_schema_valid(
    server_model: OpenAIModel,
) -> None:
    request = ask(
        "Ada Lovelace was 36. Give her name and age.",
        output_schema=PERSON_SCHEMA,
        max_tokens=60,
        temperature=0,
    )
    async with server_model:
        response = await server_model.request(request)
    assert response.text is not None
    person = Person.model_validate_json(response.text)
    assert len(person.name) <= 20


@pytest.mark.slow
@pytest.mark.anyio
async def test_stream_yields_the_same_text_as_a_plain_request(server_model: OpenAIModel) -> None:
    request = ask("Say hello to Ada.", max_tokens=12, temperature=0)
    async with server_model:
        plain = await server_model.request(request)
        async with server_model.stream(request) as stream:
            deltas = [delta async for delta in stream]
    assert len(deltas) > 1
    assert "".join(deltas) == plain.text
    assert stream.finish_reason == plain.finish_reason
    # llama-cpp-python's server ignores stream_options.include_usage; see the mock test below.
    assert stream.usage is None


@pytest.mark.slow
@pytest.mark.anyio
async def test_context_overflow_on_a_real_server_is_context_too_long(
    server_model: OpenAIModel,
) -> None:
    async with server_model:
        with pytest.raises(ContextTooLong) as caught:
            await server_model.request(ask("word " * 1500, max_tokens=4))
    assert caught.value.status_code == 400
    assert not caught.value.retryable


@pytest.mark.anyio
async def test_a_closed_port_is_provider_unavailable() -> None:
    async with OpenAIModel("m", base_url=f"http://127.0.0.1:{_closed_port()}/v1") as model:
        with pytest.raises(ProviderUnavailable) as caught:
            await model.request(ask("hi"))
    assert caught.value.retryable
    assert caught.value.provider == "openai"


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


# --- payloads and error paths through MockTransport ----------------------------------------

Handler = Callable[[httpx2.Request], httpx2.Response]


def completion(message: dict[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-5.4-mini-2026-03-17",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
        "service_tier": "default",
    }


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


async def call(handler: Handler, request: ModelRequest, **options: Any) -> Any:
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http, **options)
        return await model.request(request)


@pytest.mark.anyio
async def test_messages_tools_and_schema_are_sent_in_openai_shape() -> None:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json=completion({"role": "assistant", "content": "{}"}))

    request = ModelRequest(
        messages=(
            SystemMessage(content="Be brief."),
            UserMessage(content="Weather in Paris?"),
            AssistantMessage(
                tool_calls=(ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),)
            ),
            ToolResultMessage(call_id="call_1", name="get_weather", content="boom", is_error=True),
        ),
        tools=(WEATHER, ToolSpec(name="noop")),
        output_schema=PERSON_SCHEMA,
        max_tokens=50,
        temperature=0.5,
    )
    await call(handler, request)
    body = json.loads(sent[0].content)
    assert sent[0].url.path.endswith("/chat/completions")
    assert sent[0].headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-5.4-mini"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Error: boom"},
    ]
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": WEATHER.parameters,
        },
    }
    assert body["tools"][1]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": PERSON_SCHEMA, "strict": False},
    }
    assert body["max_tokens"] == 50
    assert body["temperature"] == 0.5


@pytest.mark.anyio
async def test_json_object_style_sends_the_schema_inline() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=completion({"role": "assistant", "content": "{}"}))

    await call(handler, ask("x", output_schema=PERSON_SCHEMA), structured_output="json_object")
    assert sent[0]["response_format"] == {"type": "json_object", "schema": PERSON_SCHEMA}
    assert "temperature" not in sent[0]


@pytest.mark.anyio
async def test_tool_calls_and_usage_are_read_back() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_Vq2a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
        "refusal": None,
    }
    response = await call(
        lambda _: httpx2.Response(200, json=completion(message, "tool_calls")),
        ask("Weather?", tools=(WEATHER,)),
    )
    assert response.tool_calls == (
        ToolCall(id="call_Vq2a", name="get_weather", arguments={"city": "Paris"}),
    )
    assert response.text is None
    assert response.finish_reason == "tool_calls"
    assert response.usage.input_tokens == 42
    assert response.usage.output_tokens == 7
    assert response.model == "openai:gpt-5.4-mini"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"role": "assistant", "content": None}, id="no content"),
        pytest.param({"role": "assistant", "content": None, "refusal": "I can't."}, id="refusal"),
        pytest.param(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{x"}}
                ],
            },
            id="arguments not JSON",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                ],
            },
            id="arguments not an object",
        ),
    ],
)
@pytest.mark.anyio
async def test_unusable_completions_are_invalid_response(message: dict[str, Any]) -> None:
    with pytest.raises(InvalidResponse) as caught:
        await call(lambda _: httpx2.Response(200, json=completion(message)), ask("x"))
    assert not caught.value.retryable


@pytest.mark.anyio
async def test_a_completion_without_choices_is_invalid_response() -> None:
    body = completion({"role": "assistant", "content": "x"}) | {"choices": []}
    with pytest.raises(InvalidResponse, match="no choices"):
        await call(lambda _: httpx2.Response(200, json=body), ask("x"))


@pytest.mark.anyio
async def test_401_is_authentication_error() -> None:
    body = error_body(
        "Incorrect API key provided: sk-test.", "invalid_request_error", "invalid_api_key"
    )
    with pytest.raises(AuthenticationError) as caught:
        await call(lambda _: httpx2.Response(401, json=body), ask("x"))
    assert caught.value.status_code == 401
    assert not caught.value.retryable
    assert "OPENAI_API_KEY" in str(caught.value)


@pytest.mark.anyio
async def test_429_is_rate_limited_with_retry_after() -> None:
    body = error_body("Rate limit reached for gpt-5.4-mini.", "requests", "rate_limit_exceeded")
    with pytest.raises(RateLimited) as caught:
        await call(
            lambda _: httpx2.Response(429, json=body, headers={"retry-after": "7"}), ask("x")
        )
    assert caught.value.retry_after_s == 7.0
    assert caught.value.retryable


@pytest.mark.anyio
async def test_429_retry_after_ms_wins() -> None:
    headers = {"retry-after-ms": "1500", "retry-after": "2"}
    body = error_body("Rate limit reached.", "requests", "rate_limit_exceeded")
    with pytest.raises(RateLimited) as caught:
        await call(lambda _: httpx2.Response(429, json=body, headers=headers), ask("x"))
    assert caught.value.retry_after_s == 1.5


@pytest.mark.anyio
async def test_an_exhausted_quota_is_not_retryable() -> None:
    body = error_body(
        "You exceeded your current quota.", "insufficient_quota", "insufficient_quota"
    )
    with pytest.raises(RateLimited) as caught:
        await call(lambda _: httpx2.Response(429, json=body), ask("x"))
    assert not caught.value.retryable
    assert caught.value.retry_after_s is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, error_body("The server had an error.", "server_error", None), ProviderUnavailable),
        (503, error_body("Service unavailable.", "server_error", None), ProviderUnavailable),
        (408, error_body("Request timed out.", "timeout", None), ProviderTimeout),
        (403, error_body("Project does not have access.", "invalid_request_error", None),
         AuthenticationError),
        (400, error_body("Invalid 'messages'.", "invalid_request_error", None), ProviderError),
    ],
)  # fmt: skip
@pytest.mark.anyio
async def test_status_codes_are_translated(
    status: int, body: dict[str, Any], error: type[ProviderError]
) -> None:
    with pytest.raises(ProviderError) as caught:
        await call(lambda _: httpx2.Response(status, json=body), ask("x"))
    assert type(caught.value) is error
    assert caught.value.status_code == status


@pytest.mark.anyio
async def test_a_transport_timeout_is_provider_timeout() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    with pytest.raises(ProviderTimeout) as caught:
        await call(handler, ask("x"))
    assert caught.value.retryable


def sse(*events: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def chunk(content: str | None, finish: str | None = None, usage: bool = False) -> dict[str, Any]:
    delta = {"content": content} if content else {}
    counts = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-5.4-mini",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": counts if usage else None,
    }


@pytest.mark.anyio
async def test_stream_reports_usage_when_the_server_sends_it() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        body = sse(chunk("Hel"), chunk("lo"), chunk(None, "stop"), chunk(None, usage=True))
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http)
        stream = model.stream(ask("hi"))
        deltas = [d async for d in stream]
    assert deltas == ["Hel", "lo"]
    assert stream.usage is not None
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (9, 2)
    assert stream.finish_reason == "stop"
    assert sent[0]["stream"] is True
    assert sent[0]["stream_options"] == {"include_usage": True}


@pytest.mark.anyio
async def test_stream_errors_are_translated() -> None:
    body = error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    async with httpx2.AsyncClient(
        transport=httpx2.MockTransport(lambda _: httpx2.Response(401, json=body))
    ) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http)
        with pytest.raises(AuthenticationError):
            async for _ in model.stream(ask("hi")):
                pass


@pytest.mark.anyio
async def test_a_base_url_without_a_key_sends_a_placeholder() -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers["authorization"])
        return httpx2.Response(200, json=completion({"role": "assistant", "content": "ok"}))

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        model = OpenAIModel("m", base_url="http://127.0.0.1:1/v1", http_client=http)
        response = await model.request(ask("x"))
    assert response.text == "ok"
    assert seen == [f"Bearer {LOCAL_SERVER_KEY}"]


def test_no_key_and_no_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-5.4")


def test_an_unknown_structured_output_style_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="structured_output"):
        OpenAIModel("m", api_key="k", structured_output="xml")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_openai_names_resolve_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = resolve_model("openai:gpt-5.4-mini")
    assert isinstance(model, OpenAIModel)
    assert (model.name, model.provider) == ("openai:gpt-5.4-mini", "openai")
    await model.aclose()
