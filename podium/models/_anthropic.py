"""Anthropic's Messages API through the official SDK.

System messages go to ``system``; tool calls and tool results become ``tool_use`` and
``tool_result`` blocks. Structured output is a forced tool, `FINAL_OUTPUT_TOOL`, whose input schema
is the output schema: the model's input to it is returned as the response's JSON `text`.
Sampling parameters are not sent: API version 2026-10-21 (SDK 2.x) rejects ``temperature``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Literal

import anthropic
import httpx2
from anthropic.types import (
    Message as AnthropicMessage,
)
from anthropic.types import (
    MessageParam,
    TextBlock,
    TextBlockParam,
    ToolChoiceParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
)

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

logger = logging.getLogger(__name__)

PROVIDER = "anthropic"
FINAL_OUTPUT_TOOL = "final_output"
DEFAULT_MAX_TOKENS = 4096
"""The API requires a cap; used when the request sets none."""

_Block = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam
_Role = Literal["user", "assistant"]
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "pause_turn": "pause",
}
_CONTEXT_HINTS = ("prompt is too long", "context window", "context length", "too many tokens")


class AnthropicModel(AsyncClosing):
    """A Claude model behind Anthropic's Messages API.

    Args:
        model: the model id (``"claude-sonnet-4-6"``, …).
        api_key: default: the SDK's own lookup (``ANTHROPIC_API_KEY``, profiles, …).
        base_url: default ``ANTHROPIC_BASE_URL``, then Anthropic's own.
        http_client: an ``httpx2.AsyncClient`` to send requests with (the caller keeps ownership).
        timeout_s: seconds to wait for one response.

    Raises:
        ConfigError: no API key or other credentials were found.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        timeout_s: float = 60,
    ) -> None:
        self.model = model
        self._owns_http_client = http_client is None
        try:
            self._client = anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=base_url,
                http_client=http_client,
                timeout=timeout_s,
                max_retries=0,
            )
        except anthropic.CredentialsError as exc:
            raise ConfigError(
                f"no usable credentials for model {model!r}: {exc} "
                "(set ANTHROPIC_API_KEY or pass api_key=)"
            ) from exc
        client = self._client
        if client.api_key is None and client.auth_token is None and client.credentials is None:
            # Otherwise the SDK fails every request with a TypeError.
            raise ConfigError(
                f"no credentials for model 'anthropic:{model}': set ANTHROPIC_API_KEY, or run"
                " on another model (`podium run --model PROVIDER:NAME` or PODIUM_MODEL; in"
                " Python, AnthropicModel(api_key=...) or another Agent(model=...))"
            )
        for key in (client.api_key, client.auth_token):  # redacted from every sink from now on
            if key:
                register_secret(key, "ANTHROPIC_API_KEY")

    @property
    def name(self) -> str:
        return f"{PROVIDER}:{self.model}"

    @property
    def provider(self) -> str:
        return PROVIDER

    async def request(self, request: ModelRequest) -> ModelResponse:
        """Send one Messages API call and translate the answer (or the failure)."""
        check_model_requests(self.name)
        if request.temperature is not None:
            logger.debug(
                "temperature %s not sent: the Messages API rejects it", request.temperature
            )
        try:
            message = await self._client.messages.create(**_create_params(self.model, request))
        except anthropic.AnthropicError as exc:
            raise translate_error(exc) from exc
        return _to_response(message, self.name, structured=request.output_schema is not None)

    async def aclose(self) -> None:
        """Close the SDK client (not an `http_client` that was passed in)."""
        if self._owns_http_client:
            await self._client.close()


def _create_params(model: str, request: ModelRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _to_anthropic_messages(request.messages),
    }
    system = "\n\n".join(m.content for m in request.messages if isinstance(m, SystemMessage))
    if system:
        params["system"] = system
    tools = [_to_anthropic_tool(t) for t in request.tools]
    if request.output_schema is not None:
        tools.append(
            {
                "name": FINAL_OUTPUT_TOOL,
                "description": "Give the final answer. Call this exactly once, when done.",
                "input_schema": _object_schema(request.output_schema),
            }
        )
        # With other tools the model may still call them first; alone, the answer is forced.
        choice: ToolChoiceParam = (
            {"type": "any"} if request.tools else {"type": "tool", "name": FINAL_OUTPUT_TOOL}
        )
        params["tool_choice"] = choice
    if tools:
        params["tools"] = tools
    return params


def _object_schema(schema: dict[str, JSON]) -> dict[str, JSON]:
    """Tool inputs must be objects: wrap any other schema in ``{"value": …}``."""
    if schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {"value": schema}, "required": ["value"]}


def _to_anthropic_messages(messages: Sequence[Message]) -> list[MessageParam]:
    """Consecutive blocks of one role share a turn (tool results must follow their tool use)."""
    turns: list[tuple[_Role, list[_Block]]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        role, blocks = _to_blocks(message)
        if not blocks:
            continue  # an empty assistant turn: the API rejects empty content
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, list(blocks)))
    result: list[MessageParam] = []
    for role, blocks in turns:
        if role == "user":
            result.append({"role": "user", "content": blocks})
        else:
            result.append({"role": "assistant", "content": blocks})
    return result


def _to_blocks(
    message: UserMessage | AssistantMessage | ToolResultMessage,
) -> tuple[_Role, list[_Block]]:
    match message:
        case UserMessage(content=content):
            return "user", [{"type": "text", "text": content}]
        case AssistantMessage(content=content, tool_calls=calls):
            blocks: list[_Block] = [{"type": "text", "text": content}] if content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in calls
            ]
            return "assistant", blocks
        case ToolResultMessage(call_id=call_id, content=content, is_error=is_error):
            return "user", [
                {
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    "content": content,
                    "is_error": is_error,
                }
            ]


def _to_anthropic_tool(tool: ToolSpec) -> ToolParam:
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.parameters or {"type": "object", "properties": {}},
    }


def _to_response(message: AnthropicMessage, model_name: str, *, structured: bool) -> ModelResponse:
    if message.stop_reason == "refusal":
        raise InvalidResponse("the model refused to answer", provider=PROVIDER)
    texts = [b.text for b in message.content if isinstance(b, TextBlock)]
    uses = [b for b in message.content if isinstance(b, ToolUseBlock)]
    final = next((b for b in uses if structured and b.name == FINAL_OUTPUT_TOOL), None)
    calls = tuple(
        ToolCall(id=b.id, name=b.name, arguments=_arguments(b)) for b in uses if b is not final
    )
    usage = message.usage
    tokens = TokenUsage(
        input_tokens=usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0),
        output_tokens=usage.output_tokens,
    )
    finish = _STOP_REASONS.get(message.stop_reason or "end_turn", message.stop_reason or "stop")
    if final is not None and not calls:
        return ModelResponse(
            text=_final_text(final), usage=tokens, model=model_name, finish_reason="stop"
        )
    if not texts and not calls:
        raise InvalidResponse(
            f"the message has neither text nor tool calls (stop_reason {message.stop_reason!r})",
            provider=PROVIDER,
        )
    return ModelResponse(
        text="".join(texts) if texts else None,
        tool_calls=calls,
        usage=tokens,
        model=model_name,
        finish_reason="tool_calls" if calls else finish,
    )


def _arguments(block: ToolUseBlock) -> dict[str, JSON]:
    if not isinstance(block.input, dict):
        raise InvalidResponse(
            f"tool_use {block.name!r} input is not an object: {block.input!r}", provider=PROVIDER
        )
    return block.input


def _final_text(block: ToolUseBlock) -> str:
    value: JSON = _arguments(block)
    if set(value) == {"value"}:
        value = value["value"]  # unwrap a non-object schema (see _object_schema)
    return json.dumps(value)


def translate_error(exc: anthropic.AnthropicError) -> ProviderError:
    """The typed Podium error for an exception raised by the ``anthropic`` SDK."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderTimeout(f"no response in time: {exc}", provider=PROVIDER)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderUnavailable(f"could not connect: {exc}", provider=PROVIDER)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return InvalidResponse(
            f"unexpected response: {exc}", provider=PROVIDER, status_code=exc.status_code
        )
    if isinstance(exc, anthropic.APIStatusError):
        return _translate_status(exc)
    if isinstance(exc, anthropic.CredentialsError):
        return AuthenticationError(
            f"{exc} (set ANTHROPIC_API_KEY or pass api_key=)", provider=PROVIDER
        )
    return ProviderError(str(exc), provider=PROVIDER, retryable=False)


def _translate_status(exc: anthropic.APIStatusError) -> ProviderError:
    status = exc.status_code
    message = f"HTTP {status}: {exc.api_message or exc.message}"
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return AuthenticationError(
            f"{message} (check ANTHROPIC_API_KEY and the model's access)",
            provider=PROVIDER,
            status_code=status,
        )
    if isinstance(exc, anthropic.RateLimitError):
        return RateLimited(
            message,
            provider=PROVIDER,
            status_code=status,
            retry_after_s=retry_after_from_headers(exc.response.headers),
        )
    if isinstance(exc, anthropic.ContentTooLargeError) or (
        status == 400 and any(h in message.lower() for h in _CONTEXT_HINTS)
    ):
        return ContextTooLong(message, provider=PROVIDER, status_code=status)
    if status in (408, 504):
        return ProviderTimeout(message, provider=PROVIDER, status_code=status)
    if status >= 500:  # 529 is "overloaded"
        return ProviderUnavailable(message, provider=PROVIDER, status_code=status)
    return ProviderError(message, provider=PROVIDER, status_code=status, retryable=False)


def model_from_name(name: str) -> AnthropicModel:
    return AnthropicModel(name)


register_provider(PROVIDER, model_from_name)
