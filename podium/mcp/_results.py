"""An MCP tool result as the JSON value a Podium tool returns.

The model protocol carries tool results as text, so a result keeps every content block as JSON:
one text block is its text; structured content (with only its text copy besides) is the
structured value; anything else (images, audio, embedded resources, resource links, several
blocks) is the list of blocks, each dumped with its own fields (``type``, ``mime_type``,
``data``, ``resource``…), so nothing the server said is lost on the way to the model or the
journal. A result the server flags ``is_error`` becomes a `ToolError` with its text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.exceptions import ToolError

if TYPE_CHECKING:
    from mcp.types import CallToolResult, ContentBlock

JSON = Any


def block_value(block: ContentBlock) -> dict[str, JSON]:
    """One content block as JSON (snake_case fields, absent ones left out)."""
    value: dict[str, JSON] = block.model_dump(mode="json", exclude_none=True)
    return value


def result_value(result: CallToolResult, tool: str) -> JSON:
    """The value of a successful call; `ToolError` for one flagged ``is_error``."""
    blocks = [block_value(b) for b in result.content]
    if result.is_error:
        texts = [b["text"] for b in blocks if b.get("type") == "text"]
        raise ToolError("\n".join(texts) or f"MCP tool {tool!r} failed (it gave no message)")
    only_text = all(b.get("type") == "text" for b in blocks)
    if result.structured_content is not None:
        if only_text:  # the text is the structured value's serialized copy
            return result.structured_content
        return {"structured_content": result.structured_content, "content": blocks}
    if only_text and len(blocks) == 1:
        return blocks[0]["text"]
    return blocks


__all__ = ["block_value", "result_value"]
