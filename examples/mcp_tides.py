"""A small MCP server for examples/mcp_tools.yaml: tide tables for a few harbours, and a log.

Podium starts it over stdio when the workflow is loaded (``command: python``). Run it alone
with ``python examples/mcp_tides.py`` to try it from any MCP host.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("tides", log_level="WARNING")

TABLES = {
    "brest": {"high": ["05:12", "17:31"], "low": ["11:20", "23:44"], "range_m": 6.1},
    "dover": {"high": ["03:58", "16:20"], "low": ["10:41", "22:59"], "range_m": 5.9},
    "halifax": {"high": ["08:02", "20:19"], "low": ["01:49", "14:11"], "range_m": 1.6},
}


@server.tool()
async def tide_table(
    harbour: Literal["brest", "dover", "halifax"], ctx: Context
) -> dict[str, object]:
    """Today's high and low waters (local time) and the tidal range of a harbour."""
    await ctx.report_progress(1, 2, f"looking up {harbour}")
    table = TABLES.get(harbour.strip().lower())
    if table is None:
        raise ToolError(f"no tide table for {harbour!r}; known harbours: {sorted(TABLES)}")
    await ctx.report_progress(2, 2, "done")
    return {"harbour": harbour.lower(), **table}


@server.tool()
def log_observation(note: str) -> str:
    """Append an observation to the harbour log (a file: a side effect)."""
    log = Path(os.environ.get("TIDE_LOG", "tide-log.txt"))
    with log.open("a", encoding="utf-8") as out:
        out.write(note.replace("\n", " ") + "\n")
    return f"logged to {log}"


if __name__ == "__main__":
    server.run()
