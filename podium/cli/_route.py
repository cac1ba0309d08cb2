"""`podium route`: which agent would take a task, and why, without running anything."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from podium.agents import Agent
from podium.cli import _render as render
from podium.cli._app import JsonOption, StoreOption, _reported, app
from podium.cli._inputs import add_import_paths
from podium.cli._store import ENV_VAR, store_url, user_store_path
from podium.exceptions import ConfigError
from podium.plan import Task, load_workflow
from podium.routing import Decision, ScoringRouter
from podium.store import open_store

JSON = Any


def _store_url(given: str | None) -> str | None:
    """The store to learn from: ``--store``, else ``$PODIUM_STORE``, else the per-user store if
    it exists (routing only reads it: none is created)."""
    if given or os.environ.get(ENV_VAR):
        return store_url(given)
    return str(user_store_path()) if user_store_path().is_file() else None


async def _decide(
    agents: Mapping[str, Agent], task: Task, *, store_url: str | None, cost_aware: bool
) -> Decision | None:
    # "mean": the decision a run would make with no exploration, the same on every call
    router = ScoringRouter(explore="mean", cost_aware=cost_aware)
    if store_url is not None:
        store = open_store(store_url)
        await store.open()
        try:
            await router.prepare(store)
        finally:
            await store.close()
    return router.route(task, agents, lambda _name: True)


def _number(value: JSON, template: str) -> str:
    return "—" if value is None else template.format(value)


def _table(decision: Decision) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("agent", "score", "relevance", "success", "runs", "cost", "latency", ""):
        table.add_column(column, justify="left" if column in ("agent", "") else "right")
    for c in decision.candidates:
        chosen = c["agent"] == decision.agent
        if "excluded" in c:
            table.add_row(c["agent"], "", "", "", "", "", "", Text(c["excluded"], style="dim"))
            continue
        table.add_row(
            Text(c["agent"], style="bold green" if chosen else ""),
            f"{c['score']:.3f}",
            f"{c['relevance']:.2f}",
            f"{c['success_mean']:.2f}",
            str(c["runs"]),
            _number(c["cost"], "${:.4g}"),
            _number(c["latency"], "{:.3g}s"),
            Text("chosen", style="green") if chosen else "",
        )
    return table


@app.command()
def route(
    agents_file: Annotated[
        Path,
        typer.Argument(help="An agents file (a workflow file without tasks).", show_default=False),
    ],
    text: Annotated[str, typer.Argument(help="The task's instruction.", show_default=False)],
    *,
    capability: Annotated[
        str | None,
        typer.Option("--capability", "-c", help="The capability the task requires."),
    ] = None,
    cost_aware: Annotated[
        bool,
        typer.Option("--cost-aware", help="Prefer the cheapest agent of nearly the best success."),
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show which agent would take a task, and why, without running it.

    Learned outcomes come from --store, else $PODIUM_STORE, else podium.db if it is here.
    """
    with _reported():
        if not agents_file.is_file():
            raise ConfigError(f"no agents file {str(agents_file)!r}")
        add_import_paths(agents_file)
        team = load_workflow(agents_file, require_tasks=False)  # a workflow file serves too
        agents = {a.name: a for a in team.agents}
        if not agents:
            raise ConfigError(f"{str(agents_file)!r} defines no agents (under `agents:`)")
        if capability is not None and not any(
            capability in a.capabilities for a in agents.values()
        ):
            known = sorted({c for a in agents.values() for c in a.capabilities})
            raise ConfigError(
                f"no agent in {str(agents_file)!r} has capability {capability!r}"
                f" (capabilities: {', '.join(known) or 'none'})"
            )
        task = Task(id="task", instruction=text, capability=capability)
        decision = asyncio.run(
            _decide(agents, task, store_url=_store_url(store), cost_aware=cost_aware)
        )
        if decision is None:  # every candidate was filtered out
            raise ConfigError("no agent can take this task")
    if as_json:
        payload = {
            "agent": decision.agent,
            "reason": decision.reason,
            "kind": decision.kind,
            "candidates": decision.candidates,
        }
        typer.echo(render.dump_json(payload))
        return
    console = Console()
    console.print(_table(decision))
    console.print(Text.assemble("→ ", (decision.agent, "bold green"), f": {decision.reason}"))
