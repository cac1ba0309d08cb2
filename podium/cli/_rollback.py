"""`podium rollback`: run the undos (`compensate:`) of a finished run's tasks, latest first.

A run that failed or was cancelled undoes its tasks by itself; this finishes undos that a crash
cut short and tries failed ones again. A run that succeeded is undone only with ``--yes``, after
being told what will be undone.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from podium.cli import _render as render
from podium.cli._app import EXIT_USAGE, JsonOption, StoreOption, _reported, app
from podium.cli._inputs import add_import_paths
from podium.cli._session import load_run
from podium.cli._store import store_url
from podium.cli._who import local_user
from podium.exceptions import ConfigError
from podium.plan._task import Compensation
from podium.runtime import Orchestrator, RunState
from podium.runtime._compensate import UNDONE_ON, compensate, rollback_status, to_undo

JSON = Any


def describe(comp: Compensation) -> str:
    """An undo in a line: the tool and its arguments, or the agent and its instruction."""
    if comp.tool is not None:
        args = ", ".join(f"{k}={v!r}" for k, v in comp.arguments.items())
        return f"tool {comp.tool}({args})"
    return f"agent {comp.agent}: {comp.instruction}"


def describe_undo(state: RunState, uid: str) -> str:
    """The undo of a task or of a tool call (`uid`), in a line."""
    called = state.call_undos.get(uid)
    if called is None:
        comp = state.tasks[uid].task.compensate
        assert comp is not None
        return describe(comp)
    undo = called.undo or {}
    if "error" in undo:
        return f"tool {undo.get('tool')}: its arguments could not be made: {undo['error']}"
    arguments = undo.get("arguments")
    args = ", ".join(f"{k}={v!r}" for k, v in (arguments or {}).items())
    return f"tool {undo.get('tool')}({args}), undoing {called.tool}"


def plan_lines(state: RunState, tasks: list[str]) -> list[str]:
    """What a rollback will undo, in the order it will."""
    lines = []
    for uid in tasks:
        last = state.compensations.get(uid)
        again = f" (again: it {last.phase})" if last is not None else ""
        lines.append(f"  {uid}: {describe_undo(state, uid)}{again}")
    return lines


def outcome_json(state: RunState) -> dict[str, JSON]:
    """The rollback as `--json` prints it."""
    undone = [
        {
            "task": c.task,
            "call": c.call or None,
            "phase": c.phase,
            "error": c.error.message if c.error else None,
        }
        for c in state.compensations.values()
    ]
    return {
        "run_id": state.run_id,
        "status": state.status,
        "rollback": rollback_status(state),
        "message": state.message,
        "undone": undone,
    }


async def _rollback(run_id: str, *, store: str | None, by: str) -> RunState:
    async with Orchestrator(store=store_url(store)) as orch:
        return await compensate(orch, run_id, by=by, retry_failed=True)


@app.command()
def rollback(
    run_id: Annotated[str, typer.Argument(help="The finished run to undo.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Undo a run that did not fail (it succeeded).")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--as", metavar="NAME", help="Who rolls back (recorded).")
    ] = None,
) -> None:
    """Undo a finished run's tasks and tool calls that declare `compensate:`, latest first
    (journaled)."""
    console = Console(stderr=as_json)
    with _reported(run_id):
        state, _ = asyncio.run(load_run(run_id, store=store))
        if not state.finished:
            raise ConfigError(
                f"run {run_id!r} is {state.status}, not finished: `podium cancel {run_id}`"
                " ends it and undoes what it did"
            )
        tasks = to_undo(state, retry_failed=True)
        if tasks:
            console.print(Text(f"run {run_id} ({state.status}): will undo, in this order:"))
            console.print(Text("\n".join(plan_lines(state, tasks))))
            if state.status not in UNDONE_ON and not state.compensations and not yes:
                console.print(
                    Text(f"the run {state.status}: add --yes to undo it", style="yellow"),
                    soft_wrap=True,
                )
                raise typer.Exit(EXIT_USAGE)
            add_import_paths(state.workflow.get("path"))
            state = asyncio.run(_rollback(run_id, store=store, by=by or local_user()))
    status = rollback_status(state)
    if as_json:
        typer.echo(render.dump_json(outcome_json(state)))
    elif status == "none":
        console.print(Text(f"run {run_id}: nothing it did declares `compensate:`"))
    else:
        for tid, c in state.compensations.items():
            error = f": {c.error.message}" if c.error is not None else ""
            console.print(Text(f"  {tid}: undo {c.phase}{error}"), soft_wrap=True)
        console.print(Text(f"rollback {status}", style="green" if status == "complete" else "red"))
    raise typer.Exit(0 if status in ("none", "complete") else 1)


__all__ = ["describe", "rollback"]
