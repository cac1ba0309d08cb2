"""`podium serve`: the HTTP API and the dashboard over a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from podium.cli._store import store_url
from podium.exceptions import ConfigError
from podium.server import DEFAULT_HOST, DEFAULT_PORT, ServerSettings, check_bind, load_auth, serve

EXIT_USAGE = 2

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (default: $PODIUM_STORE, else the per-user store, as `podium run`).",
        show_default=False,
    ),
]
HostOption = Annotated[
    str, typer.Option("--host", help="Address to listen on (non-local needs --auth).")
]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")]
WorkflowsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--workflows",
        metavar="DIR_OR_FILE",
        help="Workflow files, or folders of them, offered by name. Repeatable.",
    ),
]
AuthOption = Annotated[
    Path | None,
    typer.Option(
        "--auth",
        metavar="FILE",
        help="Bearer tokens with roles (YAML: tokens: [{user, roles, token_sha256}]).",
        show_default=False,
    ),
]


def serve_command(
    store: StoreOption = None,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    workflows: WorkflowsOption = None,
    auth: AuthOption = None,
) -> None:
    """Serve the HTTP API (/api/, /openapi.json) and the dashboard (/) over a store.

    Runs submitted here run in this process; runs of other processes on the same store show too.
    Ctrl-C stops the server; the runs it drove are left resumable.
    """
    try:
        config = load_auth(auth) if auth is not None else None
        check_bind(host, config)
        settings = ServerSettings(
            store=store_url(store), workflows=tuple(workflows or ()), auth=config
        )
        serve(settings, host=host, port=port)
    except ConfigError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}", style="red")
        raise typer.Exit(EXIT_USAGE) from None


__all__ = ["serve_command"]
