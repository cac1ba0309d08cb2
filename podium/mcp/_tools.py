"""A listed MCP tool as a `podium.tools.Tool`.

The tool's input schema is the server's, shown to the model as it is; the arguments are checked
to be an object here and against the schema by the server (whose complaint the model reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from podium.mcp._results import result_value
from podium.tools import Effect, Tool, ToolContext

if TYPE_CHECKING:
    from mcp.types import Tool as McpTool

    from podium.mcp._server import McpServer

JSON = Any
CONTEXT = "podium:context"
"""The keyword the call's `ToolContext` is passed under (no JSON Schema property can clash
with it: it is not an identifier)."""
_ARGUMENTS: pydantic.TypeAdapter[dict[str, JSON]] = pydantic.TypeAdapter(dict[str, JSON])


def make_tool(server: McpServer, listed: McpTool, public: str, effect: Effect) -> Tool:
    """The Podium tool `public` that calls the server's tool `listed`."""
    remote = listed.name

    async def call(**arguments: JSON) -> JSON:
        context: ToolContext = arguments.pop(CONTEXT)
        result = await server.call(remote, arguments, effect=effect, context=context)
        return result_value(result, public)

    schema = dict(listed.input_schema) if listed.input_schema else {}
    schema.setdefault("type", "object")
    schema.pop("title", None)
    description = listed.description or listed.title or f"{remote} (from MCP server {server.name})"
    return Tool(
        name=public,
        description=description,
        parameters=schema,
        effect=effect,
        function=call,
        _validator=_ARGUMENTS,
        _context_param=CONTEXT,
    )


__all__ = ["CONTEXT", "make_tool"]
