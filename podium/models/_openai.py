"""OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, Ollama, …) through the official SDK.

Chat Completions is the one API every compatible server speaks, so that is what this uses. The SDK
client runs with ``max_retries=0``: Podium's runtime owns retries and reads the typed
`ProviderError` each SDK exception is translated into here.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any, Literal, Self

import httpx2
import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCallUnion,
)
from openai.types.chat.completion_create_params import ResponseFormat

from podium.exceptions import ConfigError
from podium.models._allow import check_model_requests
from podium.models._base import (
    JSON,
    AssistantMessage,
    Message,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from podium.models._closing import AsyncClosing
from podium.models._errors import (
    AuthenticationError,
    ContextTooLong,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    retry_after_from_headers,
)
from podium.models._registry import register_provider
from podium.secrets import register as register_secret

PROVIDER = "openai"
LOCAL_SERVER_KEY = "not-needed"
"""Sent when a `base_url` is given without a key: local servers accept anything."""

_CONTEXT_HINTS = (
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "context_length_exceeded",
)


class OpenAIModel(AsyncClosing):
    """A chat model behind the OpenAI API or any OpenAI-compatible server.

    Args:
        model: the model id the server knows (``"gpt-5.4-mini"``, ``"smollm2"``, …).
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"``; default ``OPENAI_BASE_URL``,
            then OpenAI's own.
        api_key: default ``OPENAI_API_KEY``; with a `base_url` and no key a placeholder is sent.
        http_client: an ``httpx2.AsyncClient`` to send requests with (the caller keeps ownership).
        timeout_s: seconds to wait for one response.
        structured_output: how an output schema is sent. ``"json_schema"`` is OpenAI's
            ``response_format`` (also vLLM, Ollama, llama.cpp's own server); ``"json_object"``
            sends ``{"type": "json_object", "schema": ...}``, the form llama-cpp-python's server
            understands.

    Raises:
        ConfigError: no API key and no `base_url`, or an unknown `structured_output`.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        timeout_s: float = 60,
        structured_output: Literal["json_schema", "json_object"] = "json_schema",
    ) -> None:
        if structured_output not in ("json_schema", "json_object"):
            raise ConfigError(
                f"structured_output must be 'json_schema' or 'json_object', "
                f"not {structured_output!r}"
            )
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if api_key is None:
            if base_url is None:
                raise ConfigError(
                    f"no API key for model 'openai:{model}': set OPENAI_API_KEY (for a local"
                    " OpenAI-compatible server, OPENAI_BASE_URL instead), or run on another"
                    " model (`podium run --model PROVIDER:NAME` or PODIUM_MODEL; in Python,"
                    " OpenAIModel(api_key=..., base_url=...) or another Agent(model=...))"
                )
            api_key = LOCAL_SERVER_KEY
        else:
            register_secret(api_key, "OPENAI_API_KEY")  # redacted from every sink from now on
        self.model = model
        self.structured_output = structured_output
        self._owns_http_client = http_client is None
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            http_client=http_client,
            timeout=timeout_s,
            max_retries=0,
        )

    @property
    def name(self) -> str:
        return f"{PROVIDER}:{self.model}"

    @property
    def provider(self) -> str:
        return PROVIDER

    async def request(self, request: ModelRequest) -> ModelResponse:
        """Send one chat completion and translate the answer (or the failure)."""
        check_model_requests(self.name)
        try:
            completion = await self._client.chat.completions.create(
                **_create_params(self.model, request, self.structured_output)
            )
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        return _to_response(completion, self.name)

    def stream(self, request: ModelRequest) -> TextStream:
        """Stream the answer's text deltas; the returned stream's `usage` is set at its end.

        Use as ``async with model.stream(request) as deltas: async for text in deltas: …`` (or
        iterate it to the end, which closes it too).
        """
        check_model_requests(self.name)
        return TextStream(self._client, _create_params(self.model, request, self.structured_output))

    async def aclose(self) -> None:
        """Close the SDK client (not an `http_client` that was passed in)."""
        if self._owns_http_client:
            await self._client.close()


class TextStream(AsyncClosing, AsyncIterator[str]):
    """Text deltas of one streamed completion.

    Attributes:
        usage: token usage, set when the server reports it (after the last delta).
        finish_reason: why generation stopped, set with the last choice.
    """

    def __init__(self, client: openai.AsyncOpenAI, params: dict[str, Any]) -> None:
        self._client = client
        self._params = params
        self._chunks: openai.AsyncStream[ChatCompletionChunk] | None = None
        self._closed = False
        self.usage: TokenUsage | None = None
        self.finish_reason: str | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._chunks is None:
                self._chunks = await self._client.chat.completions.create(
                    **self._params, stream=True, stream_options={"include_usage": True}
                )
            async for chunk in self._chunks:
                delta = self._absorb(chunk)
                if delta:
                    return delta
        except openai.OpenAIError as exc:
            await self.aclose()
            raise translate_error(exc) from exc
        await self.aclose()
        raise StopAsyncIteration

    def _absorb(self, chunk: ChatCompletionChunk) -> str:
        if chunk.usage is not None:
            self.usage = TokenUsage(
                input_tokens=chunk.usage.prompt_tokens, output_tokens=chunk.usage.completion_tokens
            )
        text = ""
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
            text += choice.delta.content or ""
        return text

    async def aclose(self) -> None:
        """Stop reading and release the HTTP response."""
        self._closed = True
        if self._chunks is not None:
            await self._chunks.close()


def _create_params(
    model: str, request: ModelRequest, structured_output: str = "json_schema"
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": model,
        "messages": [_to_openai_message(m) for m in request.messages],
    }
    if request.tools:
        params["tools"] = [_to_openai_tool(t) for t in request.tools]
    if request.output_schema is not None:
        params["response_format"] = _response_format(request.output_schema, structured_output)
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    return params


def _response_format(schema: dict[str, JSON], style: str) -> dict[str, JSON]:
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    response_format: ResponseFormat = {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": False},
    }
    return dict(response_format)


def _to_openai_message(message: Message) -> ChatCompletionMessageParam:
    match message:
        case SystemMessage(content=content):
            return {"role": "system", "content": content}
        case UserMessage(content=content):
            return {"role": "user", "content": content}
        case AssistantMessage(content=content, tool_calls=calls):
            if not calls:
                return {"role": "assistant", "content": content or ""}
            return {
                "role": "assistant",
                "content": content,
                "tool_calls": [_to_openai_call(c) for c in calls],
            }
        case ToolResultMessage(call_id=call_id, content=content, is_error=is_error):
            # The API has no error flag on tool results; say it in the content.
            text = f"Error: {content}" if is_error else content
            return {"role": "tool", "tool_call_id": call_id, "content": text}


def _to_openai_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
    }


def _to_openai_tool(tool: ToolSpec) -> ChatCompletionFunctionToolParam:
    parameters = tool.parameters or {"type": "object", "properties": {}}
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": parameters},
    }


def _to_response(completion: ChatCompletion, model_name: str) -> ModelResponse:
    if not completion.choices:
        raise InvalidResponse("the completion has no choices", provider=PROVIDER)
    choice = completion.choices[0]
    message = choice.message
    if message.refusal:
        raise InvalidResponse(f"the model refused: {message.refusal}", provider=PROVIDER)
    calls = tuple(_to_tool_call(c) for c in message.tool_calls or ())
    if message.content is None and not calls:
        raise InvalidResponse(
            f"the completion has neither content nor tool calls "
            f"(finish_reason {choice.finish_reason!r})",
            provider=PROVIDER,
        )
    usage = TokenUsage()
    if completion.usage is not None:
        usage = TokenUsage(
            input_tokens=completion.usage.prompt_tokens,
            output_tokens=completion.usage.completion_tokens,
        )
    finish = "tool_calls" if calls else (choice.finish_reason or "stop")
    return ModelResponse(
        text=message.content, tool_calls=calls, usage=usage, model=model_name, finish_reason=finish
    )


def _to_tool_call(call: ChatCompletionMessageToolCallUnion) -> ToolCall:
    if not isinstance(call, ChatCompletionMessageFunctionToolCall):
        raise InvalidResponse(f"unsupported tool call type {call.type!r}", provider=PROVIDER)
    name, raw = call.function.name, call.function.arguments or "{}"
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidResponse(
            f"tool call {name!r} has arguments that are not JSON: {raw[:200]!r}",
            provider=PROVIDER,
        ) from None
    if not isinstance(arguments, dict):
        raise InvalidResponse(
            f"tool call {name!r} has arguments that are not an object: {raw[:200]!r}",
            provider=PROVIDER,
        )
    return ToolCall(id=call.id, name=name, arguments=arguments)


def translate_error(exc: openai.OpenAIError) -> ProviderError:
    """The typed Podium error for an exception raised by the ``openai`` SDK."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(f"no response in time: {exc}", provider=PROVIDER)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailable(f"could not connect: {exc}", provider=PROVIDER)
    if isinstance(exc, openai.APIResponseValidationError):
        return InvalidResponse(
            f"unexpected response: {exc}", provider=PROVIDER, status_code=exc.status_code
        )
    if isinstance(exc, openai.APIStatusError):
        return _translate_status(exc)
    return ProviderError(str(exc), provider=PROVIDER, retryable=False)


def _translate_status(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    message = f"HTTP {status}: {exc.message}"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return AuthenticationError(
            f"{message} (check OPENAI_API_KEY and the model's access)",
            provider=PROVIDER,
            status_code=status,
        )
    if isinstance(exc, openai.RateLimitError):
        # An exhausted quota does not come back by waiting.
        quota = exc.code == "insufficient_quota"
        return RateLimited(
            message,
            provider=PROVIDER,
            status_code=status,
            retry_after_s=retry_after_from_headers(exc.response.headers),
            retryable=not quota,
        )
    if status in (400, 413, 422) and _mentions_context(exc):
        return ContextTooLong(message, provider=PROVIDER, status_code=status)
    if status == 408:
        return ProviderTimeout(message, provider=PROVIDER, status_code=status)
    if status >= 500:
        return ProviderUnavailable(message, provider=PROVIDER, status_code=status)
    return ProviderError(message, provider=PROVIDER, status_code=status, retryable=False)


def _mentions_context(exc: openai.APIStatusError) -> bool:
    text = f"{exc.code or ''} {exc.message} {exc.body or ''}".lower()
    return any(hint in text for hint in _CONTEXT_HINTS)


def model_from_name(name: str) -> OpenAIModel:
    return OpenAIModel(name)


register_provider(PROVIDER, model_from_name)
