"""`podium mcp serve`: a workflow or a team as an MCP server (stdio, or streamable HTTP)."""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from podium._allowed_modules import from_environment, make_findable
from podium.cli._inputs import add_import_paths
from podium.cli._mcp_runs import BackgroundRuns
from podium.cli._store import store_url
from podium.exceptions import ConfigError, PodiumError
from podium.plan import Workflow, load_workflow
from podium.runtime import Orchestrator
from podium.server._auth import AuthConfig, load_auth

if TYPE_CHECKING:
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

Mount = Callable[["MCPServer"], object]
"""Adds tools, resources or prompts to the server (``--mount``)."""

EXIT_USAGE = 2

mcp_app = typer.Typer(
    help="Model Context Protocol: serve a workflow or a team to MCP hosts.", no_args_is_help=True
)


@mcp_app.command("serve")
def serve_command(
    file: Annotated[
        Path,
        typer.Argument(help="A workflow file, or an agents file (a team).", show_default=False),
    ],
    *,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Serve streamable HTTP at http://HOST:PORT/mcp (default: stdio).",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store URL (default: $PODIUM_STORE).", show_default=False),
    ] = None,
    auth: Annotated[
        Path | None,
        typer.Option(
            "--auth",
            metavar="FILE",
            help="Bearer tokens with roles for --http (podium serve's tokens file); with it"
            " the endpoint may listen beyond loopback.",
            show_default=False,
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="Where MCP hosts reach the endpoint (behind a proxy, or listening on 0.0.0.0):"
            " the URL --auth's metadata names (default: http://HOST:PORT).",
            show_default=False,
        ),
    ] = None,
    mount: Annotated[
        list[str] | None,
        typer.Option(
            "--mount",
            metavar="MODULE:FUNCTION",
            help="Call FUNCTION(server) to add tools, resources or prompts. Repeatable.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve FILE over MCP: tools to run it and read runs, approve or reject, ask each agent.

    Without --http it speaks MCP on stdin/stdout (what MCP hosts start); Ctrl-C (or the host
    closing the pipe) leaves runs still going resumable.
    """
    try:
        if auth is not None and http is None:
            raise ConfigError("--auth guards the HTTP endpoint: give --http HOST:PORT too")
        tokens = load_auth(auth) if auth is not None else None
        bind = parse_bind(http, authenticated=tokens is not None) if http is not None else None
        if public_url is not None and bind is None:
            raise ConfigError("--public-url names the HTTP endpoint: give --http HOST:PORT too")
        url = endpoint_url(bind, public_url) if bind is not None else None
        workflow = _load(file)
        mounts = [_mountable(ref) for ref in mount or ()]
        asyncio.run(_serve(workflow, store_url(store), bind, mounts, auth=tokens, url=url))
    except PodiumError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}", style="red")
        raise typer.Exit(EXIT_USAGE) from None
    except ImportError as exc:
        Console(stderr=True).print(f"error: {exc}; install the extra: pip install 'podium[mcp]'")
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def parse_bind(value: str, *, authenticated: bool = False) -> tuple[str, int]:
    """``HOST:PORT``: a loopback host, unless the endpoint wants tokens (`authenticated`)."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--http takes HOST:PORT, not {value!r}")
    if host != "localhost" and not authenticated:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(
                f"--http {value!r}: without --auth the MCP endpoint has no authentication, so"
                " it listens on a loopback address only (127.0.0.1, ::1); give --auth FILE"
                " (bearer tokens with roles) to listen beyond it"
            )
    return host, int(port)


def endpoint_url(bind: tuple[str, int], public: str | None = None) -> str:
    """The endpoint's base URL as MCP hosts reach it (``/mcp`` is under it): `public` checked
    (http or https, a host, no query or fragment), else the bound address; a host bound to
    every interface is named by this machine's name, which is reachable where the address
    ``0.0.0.0`` is not."""
    if public is not None:
        try:
            parsed = urlsplit(public)
            parsed.port  # noqa: B018 (a malformed port raises only when read)
        except ValueError as exc:
            raise ConfigError(f"--public-url {public!r} is not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"--public-url {public!r}: give an http or https URL with a host")
        if parsed.query or parsed.fragment or "@" in parsed.netloc:
            raise ConfigError(f"--public-url {public!r}: no query, fragment, user name or password")
        return public.rstrip("/")
    host, port = bind
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        return f"http://{socket.getfqdn()}:{port}"
    return f"http://[{host}]:{port}" if address.version == 6 else f"http://{host}:{port}"


def _load(file: Path) -> Workflow:
    if not file.is_file():
        raise ConfigError(f"no workflow file {str(file)!r}")
    add_import_paths(file)
    return load_workflow(str(file), require_tasks=False)


def _mountable(ref: str) -> Mount:
    module, _, name = ref.partition(":")
    if not module or not name:
        raise ConfigError(f"--mount takes MODULE:FUNCTION, not {ref!r}")
    allowed = from_environment()
    why = allowed.refusal(ref) if allowed is not None else None
    if why is not None:
        raise ConfigError(f"--mount {ref!r} is refused: {why}")
    if allowed is not None:  # the current folder is not on sys.path then
        make_findable(module, [str(Path.cwd())], allowed)
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--mount {ref!r}: {exc}") from None
    why = allowed.refusal_of(ref, [found]) if allowed is not None else None
    if why is not None:
        raise ConfigError(f"--mount {ref!r} is refused: {why}")
    if not callable(found):
        raise ConfigError(f"--mount {ref!r} is not a function")
    mount: Mount = found
    return mount


async def _serve(
    workflow: Workflow,
    store: str,
    bind: tuple[str, int] | None,
    mounts: list[Mount],
    *,
    auth: AuthConfig | None = None,
    url: str | None = None,
) -> None:
    # imported here: the MCP SDK loads only when a server starts, not with every command
    from podium.cli._mcp_server import build_server

    orch = Orchestrator(agents=workflow.agents, store=store)
    async with orch, asyncio.TaskGroup() as group:  # the group's runs end before the store
        runs = BackgroundRuns(orch, group)
        server = build_server(orch, workflow, runs, team=not len(workflow.plan), auth=auth, url=url)
        for mount in mounts:
            mount(server)
        try:
            await (_http(server, *bind) if bind is not None else server.run_stdio_async())
        finally:
            runs.shutdown()


async def _http(server: MCPServer, host: str, port: int) -> None:
    import uvicorn

    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    log.info("MCP server on http://%s:%s/mcp", host, port)
    await uvicorn.Server(config).serve()


__all__ = ["mcp_app", "parse_bind"]
