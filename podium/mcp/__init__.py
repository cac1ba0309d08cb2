"""Tools from MCP servers (the ``podium[mcp]`` extra).

Declare a server with `McpServer` (a stdio command or a streamable HTTP URL, an allow list, the
effect of each tool), get its tools with `McpServer.list_tools`, and give them to agents like
any other tool. In a workflow file the ``mcp_servers:`` section does the same, and agents name
the tools in their ``tools:`` list.
"""

from podium.mcp._errors import McpUnavailable
from podium.mcp._results import block_value, result_value
from podium.mcp._server import McpServer

__all__ = ["McpServer", "McpUnavailable", "block_value", "result_value"]
