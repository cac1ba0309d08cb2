"""`podium audit RUN`: who did what, when, in a run, from its journal."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from podium.audit import AuditEntry, audit_run
from podium.cli import _render as render
from podium.cli._app import StoreOption, _reported, app
from podium.cli._store import store_url
from podium.store import open_store


async def _audit(url: str | None, run_id: str) -> list[AuditEntry]:
    store = open_store(store_url(url))
    await store.open()
    try:
        return await audit_run(store, run_id)
    finally:
        await store.close()


def audit_table(entries: list[AuditEntry]) -> Table:
    """One row per action: when (local time; the date where it changes), who, what, to what,
    the particulars."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("seq", justify="right", no_wrap=True)
    for column in ("time", "actor", "action", "target"):  # short: kept whole
        table.add_column(column, no_wrap=True)
    table.add_column("details", overflow="fold", min_width=20)  # what wraps
    day = ""
    for e in entries:
        details = ", ".join(f"{k}={render.short(v, 40)}" for k, v in e.details.items())
        when = time.localtime(e.ts)
        shown = time.strftime("%H:%M:%S", when)
        if time.strftime("%Y-%m-%d", when) != day:
            day = time.strftime("%Y-%m-%d", when)
            shown = f"{day} {shown}"
        table.add_row(
            str(e.seq),
            shown,
            render.plain(e.actor, "bold" if e.actor.startswith("user:") else ""),
            e.action,
            render.plain(e.target),
            render.plain(details),
        )
    return table


WIDE = 120
"""Terminals this wide get a table; narrower ones a line an action, its details under it."""


def audit_lines(entries: list[AuditEntry]) -> list[RenderableType]:
    """The table's rows for a narrow terminal: ``seq time actor action target``, then the
    details indented on the next line (so they wrap at the width, not in a sliver of column)."""
    actor_w = max(len(e.actor) for e in entries)
    action_w = max(len(e.action) for e in entries)
    lines: list[RenderableType] = []
    day = ""
    for e in entries:
        when = time.localtime(e.ts)
        if time.strftime("%Y-%m-%d", when) != day:
            day = time.strftime("%Y-%m-%d", when)
            lines.append(Text(day, style="bold"))
        head = Text(f"{e.seq:>4}  {time.strftime('%H:%M:%S', when)}  ")
        head.append_text(
            render.plain(e.actor.ljust(actor_w), "bold" if e.actor.startswith("user:") else "")
        )
        head.append(f"  {e.action.ljust(action_w)}  ")
        head.append_text(render.plain(e.target))
        lines.append(head)
        if e.details:
            details = ", ".join(f"{k}={render.short(v, 60)}" for k, v in e.details.items())
            lines.append(Padding(render.plain(details), (0, 0, 0, 16)))
    return lines


@app.command()
def audit(
    run_id: Annotated[str, typer.Argument(help="The run to audit.", show_default=False)],
    *,
    store: StoreOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the entries as one JSON list, nothing else.")
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            metavar="NAME",
            help="Only what NAME did: user:alice or alice, agent:writer or writer, podium.",
        ),
    ] = None,
) -> None:
    """List who did what, when, in a run: submitter, approvers, agents, cancels (its journal)."""
    with _reported():
        entries = asyncio.run(_audit(store, run_id))
    if actor is not None:
        entries = [e for e in entries if e.done_by(actor)]
    if as_json:
        typer.echo(render.dump_json([e.to_json() for e in entries]))
        return
    console = Console()
    if not entries:
        who = f" by {render.inert(actor)}" if actor is not None else ""
        console.print(Text(f"run {render.inert(run_id)}: no action{who} in its journal"))
        return
    if console.width >= WIDE:
        console.print(audit_table(entries))
    else:
        for line in audit_lines(entries):
            console.print(line)


__all__ = ["audit", "audit_lines", "audit_table"]
