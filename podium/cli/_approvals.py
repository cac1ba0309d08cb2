"""`podium approvals`, `podium approve` and `podium reject`: what parked runs wait for, decided.

A decision is one event appended to the parked run's journal; `approve` and `reject` then resume
the run here (with its live view) and report it like `podium resume`, unless ``--no-resume``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.text import Text

from podium.cli import _render as render
from podium.cli._app import JsonOption, StoreOption, _report, _reported, app
from podium.cli._hints import approval_block, command, decide_lines
from podium.cli._session import resume_run
from podium.cli._store import store_flag
from podium.cli._store import store_url as resolve_store
from podium.policy import Approval
from podium.runtime._approvals import pending_approvals, record_decision
from podium.store import open_store

RunArgument = Annotated[str, typer.Argument(help="The parked run.", show_default=False)]
TaskArgument = Annotated[
    str | None,
    typer.Argument(help="The task whose approval to decide (needed if the run waits on several)."),
]
ByOption = Annotated[
    str, typer.Option("--as", metavar="NAME", help="Who decides (recorded).", show_default=False)
]
CommentOption = Annotated[str | None, typer.Option("--comment", help="Why (recorded).")]
NoResumeOption = Annotated[
    bool, typer.Option("--no-resume", help="Only record the decision; resume the run later.")
]


async def _pending(store_url: str | None, limit: int) -> list[Approval]:
    store = open_store(resolve_store(store_url))
    await store.open()
    try:
        return await pending_approvals(store, now=time.time(), limit=limit)
    finally:
        await store.close()


async def _record(
    store_url: str | None,
    run_id: str,
    task: str | None,
    *,
    granted: bool,
    by: str,
    comment: str | None,
) -> Approval:
    store = open_store(resolve_store(store_url))
    await store.open()
    try:
        return await record_decision(store, run_id, task, granted=granted, by=by, comment=comment)
    finally:
        await store.close()


@app.command()
def approvals(
    store: StoreOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Approvals to list.")] = 100,
) -> None:
    """List what parked runs wait for, oldest first (expired requests are rejected): each
    action whole (the tool and its arguments, the instruction, or the draft result) and the
    commands that approve or reject it."""
    with _reported():
        found = asyncio.run(_pending(store, limit))
    if as_json:
        typer.echo(render.dump_json([msgspec.to_builtins(a) for a in found]))
    elif not found:
        Console().print("no pending approvals", style="dim")
    else:
        console = Console()
        for i, approval in enumerate(found):
            if i:
                console.print()
            console.print(approval_block(approval))
            for line in decide_lines(approval, store):
                console.print(line, soft_wrap=True)  # one line, to be copied whole


def _decide(
    run_id: str,
    task: str | None,
    *,
    granted: bool,
    by: str,
    comment: str | None,
    no_resume: bool,
    store: str | None,
    as_json: bool,
) -> None:
    console = Console()
    with _reported():
        decided = asyncio.run(_record(store, run_id, task, granted=granted, by=by, comment=comment))
    verb = "approved" if granted else "rejected"
    if no_resume:
        if as_json:
            payload = {**msgspec.to_builtins(decided), "decision": verb, "by": by}
            typer.echo(render.dump_json(payload))
        else:
            line = Text(f"{verb} {decided.describe()} in run {run_id} (by {by}); ")
            resume = command("resume", run_id, flag=store_flag(store))
            line.append(f"continue it with `{resume}`", style="dim")
            console.print(line, soft_wrap=True)
        raise typer.Exit(0)
    if not as_json:
        line = Text(f"{verb} {decided.describe()} (by {by}); resuming run {run_id}")
        console.print(line, soft_wrap=True)
    with _reported():
        live = None if as_json or not console.is_terminal else console
        outcome = asyncio.run(resume_run(run_id, store=store, console=live))
    _report(outcome, as_json=as_json, console=console, store=store)


@app.command()
def approve(
    run_id: RunArgument,
    task: TaskArgument = None,
    *,
    by: ByOption,
    comment: CommentOption = None,
    no_resume: NoResumeOption = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve what a parked run waits for, then resume it here and report it."""
    _decide(
        run_id,
        task,
        granted=True,
        by=by,
        comment=comment,
        no_resume=no_resume,
        store=store,
        as_json=as_json,
    )


@app.command()
def reject(
    run_id: RunArgument,
    task: TaskArgument = None,
    *,
    by: ByOption,
    comment: CommentOption = None,
    no_resume: NoResumeOption = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject what a parked run waits for (the task fails), then resume it here."""
    _decide(
        run_id,
        task,
        granted=False,
        by=by,
        comment=comment,
        no_resume=no_resume,
        store=store,
        as_json=as_json,
    )
