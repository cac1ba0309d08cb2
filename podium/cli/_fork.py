"""`podium fork` and `podium compare`: a run again from one of its tasks, and two runs side by
side."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from podium.cli._inputs import add_import_paths
from podium.cli._render import duration, plain, short
from podium.cli._session import Outcome, _drive, load_run
from podium.cli._store import store_url
from podium.cli._who import local_user
from podium.events import AnyEvent
from podium.runtime import Orchestrator, RunResult, TaskComparison, new_run_id

JSON = Any


async def fork_session(
    run_id: str,
    task: str,
    *,
    store: str | None,
    inputs: Mapping[str, JSON],
    instruction: str | None,
    agent: str | None,
    fork_id: str | None,
    console: Console | None,
    by: str | None = None,
) -> Outcome:
    """Fork `run_id` from `task` with the workflow file it recorded, and drive the fork here."""
    parent, _ = await load_run(run_id, store=store)  # RunNotFound for an unknown id
    add_import_paths(parent.workflow.get("path"))
    fork_id = fork_id or new_run_id()

    def start(
        orch: Orchestrator, on_event: Callable[[AnyEvent], Awaitable[None]]
    ) -> Awaitable[RunResult]:
        return orch.fork(
            run_id,
            task,
            inputs=dict(inputs) or None,
            instruction=instruction,
            agent=agent,
            fork_id=fork_id,
            on_event=on_event,
            by=by or local_user(),
        )

    async with Orchestrator(store=store_url(store)) as orch:
        return await _drive(orch, fork_id, start, console)


def _pair(a: str, b: str) -> str:
    return a if a == b else f"{a} → {b}"


def comparison_table(a: str, b: str, rows: list[TaskComparison]) -> Table:
    """One row per task: status, agent, time and cost in run `a` → run `b` (one value where
    they agree), and whether the outputs agree."""
    table = Table(box=None, pad_edge=False, header_style="bold", title=f"{a} → {b}")
    for column in ("task", "status", "agent", "time", "cost"):  # short: kept whole
        table.add_column(
            column, justify="right" if column in ("time", "cost") else "left", no_wrap=True
        )
    table.add_column("output", overflow="fold")  # what wraps
    for row in rows:
        status = _pair(*(s or "-" for s in row.status))
        status += "".join(f" (copied in {r})" for r, c in zip((a, b), row.copied, strict=True) if c)
        cost = _pair(*(f"${c:.4f}" for c in row.cost_usd))
        output = "same" if row.same_output else _pair(*(short(o, 24) for o in row.output))
        table.add_row(
            plain(row.task),
            plain(status),
            plain(_pair(*(x or "-" for x in row.agent))),
            _pair(*(duration(t) for t in row.seconds)),
            cost,
            plain(output, "green" if row.same_output else ""),
        )
    return table


__all__ = ["comparison_table", "fork_session"]
