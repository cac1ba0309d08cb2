"""`podium diagnose RUN`: a run's failure modes, labelled from its journal with the evidence."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from podium.cli import _render as render
from podium.cli._app import JsonOption, StoreOption, _reported, app
from podium.cli._store import store_url
from podium.diagnose import Diagnosis, diagnose_run
from podium.store import open_store


async def _diagnose(url: str | None, run_id: str) -> Diagnosis:
    store = open_store(store_url(url))
    await store.open()
    try:
        return await diagnose_run(store, run_id)
    finally:
        await store.close()


def findings_table(diagnosis: Diagnosis) -> Table:
    """One row per finding; its evidence events below it."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("label", "mast", "confidence", "evidence"):
        table.add_column(column, overflow="fold")
    for f in diagnosis.findings:
        lines = Text(f.summary, style="bold")
        for e in f.evidence:
            where = f" {e.task}" if e.task else ""
            lines.append(f"\n#{e.seq} {e.kind}{where}: ")
            lines.append(render.plain(e.note))
        table.add_row(f.label, f.mode.mast, f"{f.confidence:.2f}", lines)
    return table


@app.command()
def diagnose(
    run_id: Annotated[str, typer.Argument(help="The run to diagnose.", show_default=False)],
    *,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Label a run's failure modes (MAST categories and Podium's stops) from its journal."""
    with _reported():
        diagnosis = asyncio.run(_diagnose(store, run_id))
    if as_json:
        typer.echo(render.dump_json(diagnosis.to_json()))
        return
    console = Console()
    head = Text.assemble("run ", (render.inert(run_id), "bold"), " ")
    head.append_text(render.status_text(diagnosis.status))
    head.append(f", {diagnosis.events} events")
    console.print(head)
    if not diagnosis.finished:
        console.print(
            Text(
                f"the run is not finished ({diagnosis.status}): this is what its journal"
                " shows so far",
                style="yellow",
            )
        )
    if not diagnosis.findings:
        console.print("no failure mode found")
        return
    console.print(findings_table(diagnosis))
