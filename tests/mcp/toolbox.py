"""An MCP server for the tests, run as a child process: ``python toolbox.py`` serves stdio,
``python toolbox.py --http PORT`` streamable HTTP on 127.0.0.1.

Its tools cover what the client has to carry: text, structured content, an image, an embedded
resource, an error result, progress notifications, a server that dies or hangs mid-call, and a
counter of calls that survives a reconnect only when asked to (``COUNT_FILE``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import EmbeddedResource, ImageContent, TextContent, TextResourceContents

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
server = MCPServer("toolbox", log_level="WARNING")


def _count(name: str) -> int:
    """Calls of `name` so far in every process of this server (when ``COUNT_FILE`` is set)."""
    path = os.environ.get("COUNT_FILE")
    if not path:
        return 0
    file = Path(path)
    with file.open("a", encoding="utf-8") as out:
        out.write(name + "\n")
    return file.read_text(encoding="utf-8").splitlines().count(name)


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    _count("add")
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def picture() -> list[TextContent | ImageContent]:
    """A caption and an image."""
    return [
        TextContent(type="text", text="a tiny picture"),
        ImageContent(type="image", data=PNG, mime_type="image/png"),
    ]


@server.tool()
def document() -> list[EmbeddedResource]:
    """An embedded text resource."""
    contents = TextResourceContents(uri="test://doc", mime_type="text/plain", text="the doc")
    return [EmbeddedResource(type="resource", resource=contents)]


@server.tool()
def refuse(reason: str) -> str:
    """Fail with a message for the caller."""
    raise ToolError(f"refused: {reason}")


@server.tool()
async def steps(n: int, ctx: Context) -> str:
    """Report progress n times, then finish."""
    for i in range(n):
        await ctx.report_progress(i + 1, n, f"step {i + 1}")
    return f"{n} steps"


@server.tool()
def crash_once(text: str) -> str:
    """Kill this server process on the first call (across processes, with ``COUNT_FILE``)."""
    if _count("crash_once") == 1:
        os._exit(3)
    return f"survived: {text}"


@server.tool()
def crash() -> str:
    """Kill this server process."""
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Never answer."""
    await asyncio.Event().wait()
    return "never"


@server.tool()
def pid() -> int:
    """This server's process id (to count sessions)."""
    return os.getpid()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
