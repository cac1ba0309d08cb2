"""`podium audit RUN`: who did what, when, in a run, from its journal."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console
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
    """One row per action: when (local time), who, what, to what, the particulars."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("seq", justify="right", no_wrap=True)
    for column in ("time", "actor", "action"):  # short: kept whole
        table.add_column(column, no_wrap=True)
    for column in ("target", "details"):  # what wraps
        table.add_column(column, overflow="fold")
    for e in entries:
        details = ", ".join(f"{k}={render.short(v, 40)}" for k, v in e.details.items())
        table.add_row(
            str(e.seq),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts)),
            render.plain(e.actor, "bold" if e.actor.startswith("user:") else ""),
            e.action,
            render.plain(e.target),
            render.plain(details),
        )
    return table


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
    console.print(audit_table(entries))


__all__ = ["audit", "audit_table"]
