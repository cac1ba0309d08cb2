"""The ``mcp_servers`` section of a workflow file: MCP servers whose tools agents may name.

```yaml
mcp_servers:
  files:
    command: python                 # the Python running Podium; or any program
    args: [files_server.py]         # a file beside this one is found from any folder
    env: {TOKEN: "${FILES_TOKEN}"}  # ${NAME}: read from the environment when connecting
    tools: [read_file, write_file]  # the allow list (default: all the server's tools)
    effects: {write_file: write}    # read unless said otherwise
  fetcher:
    command: mcp-server-fetch
    egress: {fetch: url}            # the argument saying where a call sends (judged by the gate)
  search:
    url: https://search.example/mcp
    headers: {Authorization: "Bearer ${SEARCH_TOKEN}"}
    prefix: search_                 # its tools are search_<name>
```

Loading the file to run it lists each server's tools (starting a stdio server for a moment);
checking it without running code (``import_code=False``) contacts no server and makes stand-ins
of the allow-listed names, so agents' tool names are still checked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, Literal

import pydantic

from podium._allowed_modules import AllowedModules
from podium.exceptions import ConfigError
from podium.mcp import McpServer
from podium.plan._yaml_check import Checker
from podium.plan._yaml_nodes import JSON, Loc
from podium.plan._yaml_schema import _Body, _Names
from podium.tools import Tool

_Effect = Literal["read", "write", "irreversible"]


class _McpServerBody(_Body):
    command: str | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = {}
    tools: _Names | None = None
    effect: _Effect = "read"
    effects: dict[str, _Effect] = {}
    egress: dict[str, str] = {}
    prefix: str = ""
    timeout_s: float = pydantic.Field(60.0, gt=0)
    connect_timeout_s: float = pydantic.Field(30.0, gt=0)
    idle_s: float = pydantic.Field(300.0, gt=0)


def compile_mcp_servers(
    check: Checker,
    raw: JSON,
    tools: dict[str, Tool | None],
    *,
    connect: bool,
    base_dir: str | None,
    allowed: AllowedModules | None = None,
) -> None:
    """Add each server's tools to `tools` (problems to `check`). Under an allow-list, a server
    the file would start (``command``) is refused: the program would run code the list does
    not cover."""
    for name, body in check.entries(raw, ("mcp_servers",), "server names to servers") or ():
        loc: Loc = ("mcp_servers", name)
        m, bad = check.checked(_McpServerBody, body, loc)
        if m is None or bad:  # a server declared wrongly is not started
            continue
        if allowed is not None and m.command is not None:
            check.add(
                (*loc, "command"),
                f"MCP server {name!r} starts a program ({m.command!r}), and {allowed.source} "
                "restricts the code workflow files may run: connect to the server by `url`, "
                "started by the deployment",
            )
            continue
        try:
            server = _server(name, m, base_dir)
            made = server.load_tools() if connect else _stand_ins(server)
        except ConfigError as exc:
            check.add(loc, str(exc))
            continue
        except Exception as exc:  # the server could not be reached (McpUnavailable …)
            check.add(loc, f"cannot list the tools of MCP server {name!r}: {exc}")
            continue
        for tool in made:
            if tool.name in tools:
                check.add(
                    loc,
                    f"tool {tool.name!r} is defined twice (a `prefix` tells the servers apart)",
                )
                continue
            tools[tool.name] = tool


def _server(name: str, m: _McpServerBody, base_dir: str | None) -> McpServer:
    cwd = m.cwd if m.cwd is None or base_dir is None else os.path.join(base_dir, m.cwd)
    command = sys.executable if m.command == "python" else m.command
    return McpServer(
        name=name,
        command=command,
        args=tuple(_beside(arg, base_dir) for arg in m.args),
        env=dict(m.env),
        cwd=cwd,
        url=m.url,
        headers=dict(m.headers),
        tools=tuple(m.tools) if m.tools is not None else None,
        effect=m.effect,
        effects=dict(m.effects),
        egress=dict(m.egress),
        prefix=m.prefix,
        timeout_s=m.timeout_s,
        connect_timeout_s=m.connect_timeout_s,
        idle_s=m.idle_s,
    )


def _beside(arg: str, base_dir: str | None) -> str:
    """An argument naming a file beside the workflow file, as an absolute path (so a server
    script is found from any folder, while the server runs in the current one)."""
    if base_dir is None or os.path.isabs(arg) or arg.startswith("-"):
        return arg
    beside = os.path.join(base_dir, arg)
    return beside if os.path.isfile(beside) else arg


def _stand_ins(server: McpServer) -> list[Tool]:
    """Tools named by the allow list that raise when called (for checking a file)."""

    def unavailable(**_: Any) -> Any:
        raise ConfigError(f"MCP server {server.name!r} was not contacted: the file was checked")

    return [
        Tool(
            name=server.prefix + name,
            description=f"{name} (from MCP server {server.name}, not contacted)",
            parameters={"type": "object"},
            effect=server.effects.get(name, server.effect),
            function=unavailable,
            _validator=pydantic.TypeAdapter(Mapping[str, Any]),
        )
        for name in server.tools or ()
    ]


__all__ = ["compile_mcp_servers"]
