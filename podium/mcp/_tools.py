"""A listed MCP tool as a `podium.tools.Tool`.

The tool's input schema is the server's, shown to the model as it is; the arguments are checked
to be an object here and against the schema by the server (whose complaint the model reads).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import pydantic

from podium.exceptions import ConfigError
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


def make_tool(
    server: McpServer, listed: McpTool, public: str, effect: Effect, sends: str | None = None
) -> Tool:
    """The Podium tool `public` that calls the server's tool `listed`; `sends` names the
    argument that says where the call sends (its `Tool.egress`)."""
    remote = listed.name

    async def call(**arguments: JSON) -> JSON:
        context: ToolContext = arguments.pop(CONTEXT)
        result = await server.call(remote, arguments, effect=effect, context=context)
        return result_value(result, public)

    schema = dict(listed.input_schema) if listed.input_schema else {}
    schema.setdefault("type", "object")
    schema.pop("title", None)
    description = listed.description or listed.title or f"{remote} (from MCP server {server.name})"
    properties = schema.get("properties")
    arguments = sorted(map(str, properties)) if isinstance(properties, dict) else []
    if sends is not None and sends not in arguments:
        raise ConfigError(
            f"MCP server {server.name!r}: `egress` names argument {sends!r} of tool {remote!r},"
            f" which has {arguments}"
        )
    return Tool(
        name=public,
        description=description,
        parameters=schema,
        effect=effect,
        function=call,
        _validator=_ARGUMENTS,
        _context_param=CONTEXT,
        egress=None if sends is None else functools.partial(_destination, sends),
    )


def _destination(argument: str, arguments: dict[str, JSON]) -> str | None:
    """Where a call sends: its `argument` (every value is the call's choice: an MCP server
    has no allow-list Podium can see)."""
    value = arguments.get(argument)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


__all__ = ["CONTEXT", "make_tool"]
