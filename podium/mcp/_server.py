"""An MCP server Podium takes tools from: how to reach it, which tools, and their effects.

`McpServer` is the declaration (a stdio command or a streamable HTTP URL, an allow list, the
effect of each tool) and the pool of its sessions: one session per event loop, opened on the
first call and shared by every run and task of that loop, closed by `aclose`, after `idle_s`
without calls, or when the loop ends. Each listed MCP tool becomes a plain `podium.tools.Tool`,
so agents get MCP tools by the same allow-list as Python tools, and every interceptor (approvals
by effect, record/replay, budgets, traces) applies to them unchanged.

A server that dies mid-run is met by one reconnect: a ``read`` call is then made again; a call
with a side effect is not (it may have landed) and fails with `McpUnavailable`, which the model
reads as a tool error. Every request is bounded by `timeout_s`, so a hung server costs a timeout,
never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.exceptions import ConfigError, ToolError
from podium.mcp._errors import McpUnavailable
from podium.mcp._link import Link, describe
from podium.mcp._tools import make_tool
from podium.tools import EFFECTS, Effect, Tool, ToolContext

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult
    from mcp.types import Tool as McpTool

log = logging.getLogger(__name__)

JSON = Any
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, kw_only=True, eq=False)
class McpServer:
    """An MCP server whose tools agents may call.

    Give exactly one of `command` (a stdio server, started as a child process) and `url` (a
    streamable HTTP endpoint). Values of `env` and `headers` may name environment variables as
    ``${NAME}``, read when the session opens (so secrets stay out of files and journals).

    Args:
        name: the server's name (in messages and logs).
        command: the program of a stdio server; `args`, `env` (added to a minimal environment:
            the child does not inherit this process's) and `cwd` go with it.
        url: the endpoint of a streamable HTTP server; `headers` are sent with every request.
        tools: the allow list: only these of the server's tools are offered (``None``: all).
        effect: the effect of its tools (``read`` unless said otherwise: MCP's annotations are
            hints from the server, not promises).
        effects: the effect of single tools, over `effect`.
        egress: for tools that send what they are given somewhere a call chooses (a fetch
            server's ``fetch``), the argument naming where (``{"fetch": "url"}``): the
            provenance gate judges such a call like a side effect once untrusted content is in
            context, unless the destination was named verbatim there (`Tool.egress`).
        prefix: put before each tool's name (to tell two servers' tools apart).
        timeout_s: bound on each request.
        connect_timeout_s: bound on opening a session (starting a stdio server included).
        idle_s: a session without calls for this long is closed (the next call opens one).

    Example:
        ```python
        files = McpServer(name="files", command="python", args=("files_server.py",),
                          tools=("read_file", "write_file"), effects={"write_file": "write"})
        agent = Agent(name="clerk", model="openai:gpt-4o", tools=tuple(await files.list_tools()))
        ```
    """

    name: str
    command: str | None = None
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tools: Sequence[str] | None = None
    effect: Effect = "read"
    effects: Mapping[str, Effect] = field(default_factory=dict)
    egress: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    timeout_s: float = 60.0
    connect_timeout_s: float = 30.0
    idle_s: float = 300.0
    _links: dict[asyncio.AbstractEventLoop, Link] = field(
        default_factory=dict, init=False, repr=False
    )
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ConfigError(f"MCP server {self.name!r} needs exactly one of `command` and `url`")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"MCP server {self.name!r}: `url` must be http(s), not {self.url!r}")
        for tool, effect in {"": self.effect, **self.effects}.items():
            if effect not in EFFECTS:
                where = f"the effect of {tool!r}" if tool else "`effect`"
                raise ConfigError(
                    f"MCP server {self.name!r}: {where} must be one of {EFFECTS}, not {effect!r}"
                )
        if min(self.timeout_s, self.connect_timeout_s, self.idle_s) <= 0:
            raise ConfigError(f"MCP server {self.name!r}: timeouts must be positive")

    # -- tools ----------------------------------------------------------------------------

    async def list_tools(self) -> list[Tool]:
        """The server's tools (the allowed ones) as Podium tools.

        Raises:
            McpUnavailable: the server cannot be reached.
            ConfigError: the allow list or `effects` name a tool the server does not have, or a
                tool's name is not one a model accepts.
        """
        listed = await self._request(_list_all, what="list its tools")
        return self.tools_of(listed)

    def load_tools(self) -> list[Tool]:
        """`list_tools` from synchronous code (a workflow file being loaded), on a session of
        its own that is closed before this returns."""
        outcome: list[list[Tool]] = []
        failure: list[BaseException] = []

        async def once() -> None:
            try:
                outcome.append(await self.list_tools())
            finally:
                await self.aclose()

        def work() -> None:
            try:
                asyncio.run(once())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=work, name=f"mcp-list:{self.name}", daemon=True)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return outcome[0]

    def tools_of(self, listed: Sequence[McpTool]) -> list[Tool]:
        """Podium tools for the listed MCP tools that the allow list keeps."""
        by_name = {t.name: t for t in listed}
        wanted = list(self.tools) if self.tools is not None else list(by_name)
        missing = sorted({*wanted, *self.effects, *self.egress} - set(by_name))
        if missing:
            raise ConfigError(
                f"MCP server {self.name!r} has no tool(s) {missing}; it has {sorted(by_name)}"
            )
        made = []
        for name in wanted:
            public = self.prefix + name
            if not _NAME.match(public):
                raise ConfigError(
                    f"MCP server {self.name!r}: tool name {public!r} is not one models accept "
                    "(letters, digits, _ and -, at most 64): leave it out of `tools`"
                )
            effect = self.effects.get(name, self.effect)
            made.append(make_tool(self, by_name[name], public, effect, self.egress.get(name)))
        return made

    async def call(
        self, tool: str, arguments: dict[str, JSON], *, effect: Effect, context: ToolContext
    ) -> CallToolResult:
        """Call one of the server's tools (its own name), reconnecting once if the session
        was lost (see the module docstring)."""

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            of = f"/{total:g}" if total is not None else ""
            log.info(
                "MCP %s.%s progress %g%s%s (run %s, task %s)",
                self.name, tool, progress, of, f": {message}" if message else "",
                context.run_id, context.task_id,
            )  # fmt: skip

        def send(client: Client) -> Any:
            return client.call_tool(
                tool, arguments, read_timeout_seconds=self.timeout_s, progress_callback=progress
            )

        result: CallToolResult = await self._request(
            send, what=f"call {tool!r}", again=effect == "read"
        )
        return result

    # -- sessions -------------------------------------------------------------------------

    async def _request(self, send: Any, *, what: str, again: bool = True) -> Any:
        """Make a request on the loop's session: `McpUnavailable` when it cannot be made, a
        `ToolError` for an error the server answered."""
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        for tries in (1, 2):
            link = await self._link()
            link.in_flight += 1
            link.touch()
            try:
                assert link.client is not None  # an open link has its client
                return await send(link.client)
            except MCPError as exc:
                if exc.code not in (CONNECTION_CLOSED, REQUEST_TIMEOUT):  # the server answered
                    raise ToolError(f"MCP server {self.name!r} refused to {what}: {exc}") from None
                problem: BaseException = exc
            except (OSError, EOFError, TimeoutError) as exc:
                problem = exc
            finally:
                link.in_flight -= 1
                link.touch()
            await self._drop(link)
            log.warning("MCP server %r: could not %s: %s", self.name, what, describe(problem))
            if tries == 2 or not again or _is_timeout(problem):
                raise McpUnavailable(self.name, f"could not {what}: {describe(problem)}")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _link(self) -> Link:
        loop = asyncio.get_running_loop()
        with self._guard:
            for stale in [lp for lp in self._links if lp.is_closed()]:
                del self._links[stale]
            link = self._links.get(loop)
            fresh = link is None or link.dead
            if link is None or fresh:
                link = Link(self.name, self._connect, idle_s=self.idle_s)
                self._links[loop] = link
        if not fresh:  # opened, or being opened by another task
            await link.ready()
            if link.dead:
                raise McpUnavailable(self.name, "the session could not be opened")
            return link
        try:
            await link.start(self.connect_timeout_s)
        except Exception as exc:
            await self._drop(link)
            raise McpUnavailable(self.name, f"cannot open a session: {describe(exc)}") from None
        return link

    async def _drop(self, link: Link) -> None:
        with self._guard:
            for loop, known in list(self._links.items()):
                if known is link:
                    del self._links[loop]
        await link.close()

    async def aclose(self) -> None:
        """Close this loop's session (the next call opens a new one)."""
        with self._guard:
            link = self._links.pop(asyncio.get_running_loop(), None)
        if link is not None:
            await link.close()

    async def __aenter__(self) -> McpServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[Client]:
        from mcp import Client, StdioServerParameters

        if self.command is not None:
            params = StdioServerParameters(
                command=self.command,
                args=list(self.args),
                env={k: _expand(v, self.name) for k, v in self.env.items()} or None,
                cwd=self.cwd,
            )
            async with Client(params, read_timeout_seconds=self.timeout_s) as client:
                yield client
            return
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        assert self.url is not None  # checked in __post_init__
        headers = {k: _expand(v, self.name) for k, v in self.headers.items()}
        timeout = httpx2.Timeout(self.timeout_s, read=max(self.timeout_s, 300.0))
        async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
            transport = streamable_http_client(self.url, http_client=http)
            async with Client(transport, read_timeout_seconds=self.timeout_s) as client:
                yield client


async def _list_all(client: Client) -> list[McpTool]:
    """Every page of the server's tool list."""
    tools: list[McpTool] = []
    cursor: str | None = None
    for _ in range(1000):  # a server that pages forever is cut off
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _is_timeout(exc: BaseException) -> bool:
    from mcp.types import REQUEST_TIMEOUT

    return isinstance(exc, TimeoutError) or getattr(exc, "code", None) == REQUEST_TIMEOUT


def _expand(value: str, server: str) -> str:
    """``${NAME}`` replaced by the environment variable (a missing one is an error)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise McpUnavailable(server, f"the environment variable {name!r} is not set")
        return os.environ[name]

    return _VAR.sub(one, value)


__all__ = ["McpServer"]
