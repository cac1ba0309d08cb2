"""`podium a2a serve`: a workflow or a team as an A2A agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from podium import a2a
from podium.cli._inputs import add_import_paths
from podium.exceptions import ConfigError, PodiumError
from podium.plan import Workflow, load_workflow
from podium.server import load_auth

EXIT_USAGE = 2

a2a_app = typer.Typer(
    help="Agent-to-Agent (A2A 1.0): serve a team or workflow.", no_args_is_help=True
)


@a2a_app.command("serve")
def serve_command(
    file: Annotated[
        Path,
        typer.Argument(help="A workflow file, or an agents file (a team).", show_default=False),
    ],
    *,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8701,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store URL (default: $PODIUM_STORE).", show_default=False),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Public base URL for the card (default: http://HOST:PORT).",
            show_default=False,
        ),
    ] = None,
    auth: Annotated[
        Path | None,
        typer.Option(
            "--auth",
            metavar="FILE",
            help="Bearer tokens with roles, as `podium serve --auth` takes them.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve FILE as an A2A agent: card at /.well-known/agent-card.json, JSON-RPC at /, REST.

    Each A2A task is a Podium run in the store; Ctrl-C leaves running tasks resumable, and the
    next `podium a2a serve` on the same store resumes them.
    """
    try:
        workflow = _load(file)
        config = load_auth(auth) if auth is not None else None
        settings = a2a.A2ASettings(store=store, url=url, auth=config)
        a2a.serve(workflow, settings, host=host, port=port)
    except PodiumError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}", style="red")
        raise typer.Exit(EXIT_USAGE) from None
    except ImportError as exc:
        Console(stderr=True).print(f"error: {exc}; install the extra: pip install 'podium[a2a]'")
        raise typer.Exit(EXIT_USAGE) from None


def _load(file: Path) -> Workflow:
    """A workflow file, or an agents file (a team, no tasks)."""
    if not file.is_file():
        raise ConfigError(f"no workflow file {str(file)!r}")
    add_import_paths(file)
    return load_workflow(str(file), require_tasks=False)


__all__ = ["a2a_app"]
