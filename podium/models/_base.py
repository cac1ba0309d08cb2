"""The `Model` protocol: messages in, a response with token usage out.

Every provider (hosted, local, or a test fake) implements `Model.request`. Messages and responses
are plain serialisable structs so a request can be recorded, hashed and replayed.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

JSON = Any


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A tool as a model sees it."""

    name: str
    description: str = ""
    parameters: dict[str, JSON] = {}


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    """A model's request to call a tool."""

    id: str
    name: str
    arguments: dict[str, JSON] = {}


class SystemMessage(msgspec.Struct, frozen=True, kw_only=True, tag="system", tag_field="role"):
    content: str


class UserMessage(msgspec.Struct, frozen=True, kw_only=True, tag="user", tag_field="role"):
    content: str


class AssistantMessage(
    msgspec.Struct, frozen=True, kw_only=True, tag="assistant", tag_field="role"
):
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


class ToolResultMessage(msgspec.Struct, frozen=True, kw_only=True, tag="tool", tag_field="role"):
    call_id: str
    name: str
    content: str
    is_error: bool = False


Message = SystemMessage | UserMessage | AssistantMessage | ToolResultMessage


class TokenUsage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0


class ModelRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a model needs for one call.

    Attributes:
        messages: the conversation so far.
        tools: tools the model may call.
        output_schema: when set, the final answer must be JSON matching this schema.
        max_tokens: cap on generated tokens.
        temperature: sampling temperature (``None`` for the provider's default).
    """

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    output_schema: dict[str, JSON] | None = None
    max_tokens: int | None = None
    temperature: float | None = None


class ModelResponse(msgspec.Struct, frozen=True, kw_only=True):
    """One model answer: text and/or tool calls, with usage."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage = TokenUsage()
    model: str = ""
    finish_reason: str = "stop"


@runtime_checkable
class Model(Protocol):
    """Anything that answers a `ModelRequest`.

    `name` is the ``provider:model`` name used in workflow files and events; `provider` is the
    part before the colon.
    """

    @property
    def name(self) -> str: ...

    @property
    def provider(self) -> str: ...

    async def request(self, request: ModelRequest) -> ModelResponse: ...


class ModelWrapper:
    """Base for a model that wraps another: keeps it as `inner` and passes its `name` and
    `provider` through. Subclasses implement `request`."""

    def __init__(self, model: Model) -> None:
        self.inner = model

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def provider(self) -> str:
        return self.inner.provider


def approx_tokens(text: str) -> int:
    """A rough token count (~4 characters a token) for models that report none."""
    return max(1, (len(text) + 3) // 4) if text else 0
