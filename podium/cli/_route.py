"""`podium route`: which agent would take a task, and why, without running anything."""

from __future__ import annotations

import asyncio
import dataclasses
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
from podium.plan import RouterSpec, Task, load_workflow
from podium.routing import Decision, NoFit, ScoringRouter, router_for
from podium.routing._spec import relevance_for
from podium.store import open_store

JSON = Any


def _store_url(given: str | None) -> str | None:
    """The store to learn from: ``--store``, else ``$PODIUM_STORE``, else the per-user store if
    it exists (routing only reads it: none is created)."""
    if given or os.environ.get(ENV_VAR):
        return store_url(given)
    return str(user_store_path()) if user_store_path().is_file() else None


async def _decide(
    agents: Mapping[str, Agent],
    task: Task,
    *,
    store_url: str | None,
    cost_aware: bool,
    spec: RouterSpec,
) -> Decision | NoFit | None:
    # "mean": the decision a run would make with no exploration, the same on every call
    router = router_for(spec, ScoringRouter(explore="mean", cost_aware=cost_aware))
    assert isinstance(router, ScoringRouter)  # derived from a ScoringRouter
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


_PARTS = {"bm25": "bm25", "embedding": "emb", "examples": "ex"}  # component → column


def _table(decision: Decision | NoFit) -> Table:
    chosen_agent = decision.agent if isinstance(decision, Decision) else None
    parts = [p for p in _PARTS if any(p in c for c in decision.candidates)]
    table = Table(box=None, pad_edge=False, header_style="bold")
    shown = [_PARTS[p] for p in parts]
    columns = ("agent", "score", "relevance", *shown, "success", "runs", "cost", "latency", "")
    for column in columns:
        table.add_column(column, justify="left" if column in ("agent", "") else "right")
    for c in decision.candidates:
        chosen = c["agent"] == chosen_agent
        if "excluded" in c:
            blank = [""] * (len(columns) - 2)
            table.add_row(c["agent"], *blank, Text(c["excluded"], style="dim"))
            continue
        table.add_row(
            Text(c["agent"], style="bold green" if chosen else ""),
            f"{c['score']:.3f}",
            f"{c['relevance']:.2f}",
            *(_number(c.get(p), "{:.2f}") for p in parts),
            f"{c['success_mean']:.2f}",
            str(c["runs"]),
            _number(c["cost"], "${:.4g}"),
            _number(c["latency"], "{:.3g}s"),
            Text("chosen", style="green") if chosen else "",
        )
    return table


def _spec(
    team_spec: RouterSpec | None, relevance: str | None, min_score: float | None
) -> RouterSpec:
    """The file's `router` section, with the command's options over it."""
    spec = team_spec or RouterSpec()
    changes: dict[str, JSON] = {}
    if relevance is not None:
        if relevance not in ("auto", "hybrid", "bm25", "embeddings"):
            raise ConfigError(
                f"--relevance must be auto, hybrid, bm25 or embeddings, not {relevance!r}"
            )
        changes["relevance"] = relevance
    if min_score is not None:
        changes["min_score"] = min_score
    return dataclasses.replace(spec, **changes)


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
    relevance: Annotated[
        str | None,
        typer.Option(
            "--relevance",
            "-r",
            help="hybrid, bm25, embeddings or auto (the file's router section, else auto:"
            " hybrid when the 'embeddings' extra is installed, else BM25).",
            show_default=False,
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            min=0,
            help="Fit under which no agent fits the task (default: the relevance's own).",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show which agent would take a task, and why, without running it — or that no agent
    fits it.

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
        spec = _spec(team.router, relevance, min_score)
        note = relevance_for(spec)[1] if spec.relevance == "auto" else spec.relevance
        decision = asyncio.run(
            _decide(agents, task, store_url=_store_url(store), cost_aware=cost_aware, spec=spec)
        )
        if decision is None:  # every candidate was filtered out
            raise ConfigError("no agent can take this task")
    _show(decision, note, as_json=as_json)


def _show(decision: Decision | NoFit, note: str, *, as_json: bool) -> None:
    agent = decision.agent if isinstance(decision, Decision) else None
    if as_json:
        payload = {
            "agent": agent,
            "no_fit": agent is None,
            "reason": decision.reason,
            "relevance": note,
            "kind": decision.kind,
            "candidates": decision.candidates,
        }
        typer.echo(render.dump_json(payload))
        return
    console = Console()
    console.print(_table(decision))
    console.print(Text(f"relevance: {note}", style="dim"))
    if agent is None:
        console.print(Text.assemble(("✗ ", "bold red"), decision.reason))
        return
    console.print(Text.assemble("→ ", (agent, "bold green"), f": {decision.reason}"))
