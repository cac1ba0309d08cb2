"""Message content as span attributes, in the GenAI conventions' JSON shapes (opt-in only).

Content can be anything a user or a model wrote, of any size: each attribute is JSON, cut to
`MAX_CHARS` characters (a cut value ends with `CUT`), and a value JSON cannot encode is shown
by its ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from podium.models._base import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

JSON = Any
MAX_CHARS = 32_000
CUT = "…[cut by podium]"


def dump(value: JSON) -> str:
    """`value` as JSON text of at most `MAX_CHARS` characters."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - len(CUT)] + CUT


def _calls(calls: Iterable[ToolCall]) -> list[dict[str, JSON]]:
    return [
        {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments} for c in calls
    ]


def _message(message: Message) -> dict[str, JSON] | None:
    if isinstance(message, UserMessage):
        return {"role": "user", "parts": [{"type": "text", "content": message.content}]}
    if isinstance(message, AssistantMessage):
        parts = [{"type": "text", "content": message.content}] if message.content else []
        return {"role": "assistant", "parts": parts + _calls(message.tool_calls)}
    if isinstance(message, ToolResultMessage):
        part = {"type": "tool_call_response", "id": message.call_id, "response": message.content}
        return {"role": "tool", "parts": [part]}
    return None  # a system message: `system_instructions`


def input_messages(messages: Iterable[Message]) -> tuple[str, str | None]:
    """``gen_ai.input.messages`` and ``gen_ai.system_instructions`` (``None`` without any)."""
    chat: list[dict[str, JSON]] = []
    system: list[dict[str, JSON]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            system.append({"type": "text", "content": message.content})
        else:
            as_json = _message(message)
            if as_json is not None:
                chat.append(as_json)
    return dump(chat), (dump(system) if system else None)


def output_messages(response: ModelResponse) -> str:
    """``gen_ai.output.messages`` of a model's response."""
    parts = [{"type": "text", "content": response.text}] if response.text else []
    message = {
        "role": "assistant",
        "parts": parts + _calls(response.tool_calls),
        "finish_reason": response.finish_reason,
    }
    return dump([message])


def text_message(role: str, content: JSON) -> str:
    """One message of one text part: an agent's instruction, or its output."""
    text = content if isinstance(content, str) else json.dumps(content, default=repr)
    return dump([{"role": role, "parts": [{"type": "text", "content": text}]}])


__all__ = ["MAX_CHARS", "dump", "input_messages", "output_messages", "text_message"]
