"""`podium stats` (the metrics of a store's runs against the seed's targets, drift alerts) and
`podium feedback` (a person's rating of a run)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from podium.cli import _render as render
from podium.cli._app import JsonOption, StoreOption, _reported, app
from podium.cli._store import store_url
from podium.cli._who import local_user
from podium.events import RunFeedback, to_builtins, unencodable
from podium.exceptions import ConfigError
from podium.metrics import (
    AlertOutcome,
    AlertRule,
    MetricsReport,
    compute_metrics,
    evaluate_alerts,
    load_alert_rules,
    parse_duration,
)
from podium.runtime import Orchestrator
from podium.store import open_store

JSON = Any
_STATUS_STYLE = {"met": "green", "not met": "red", "no data": "dim", "firing": "red", "ok": "green"}


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def _usd(v: float | None) -> str:
    if v is None:
        return "-"
    return f"${v:.4f}" if v == 0 or abs(v) >= 0.01 else f"${v:.6f}"


def _score(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} / 5"


def _number(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


_FORMAT = {"ratio": _rate, "s": _secs, "usd": _usd, "score": _score}


def _target_text(comparison: str, target: float | None, unit: str) -> str:
    if comparison == "trend":
        return "not increasing"
    shown = _FORMAT.get(unit, _number)(target)
    return f"{'≥' if comparison == '>=' else '≤'} {shown}"


def targets_table(report: MetricsReport) -> Table:
    """The six metrics against their targets: met, not met or no data."""
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    for column in ("metric", "value", "target", "status"):
        table.add_column(column, justify="right" if column == "value" else "left")
    slope, direction = report.cost_trend()
    for check in report.checks():
        value = _FORMAT.get(check.unit, _number)(check.value)
        if check.metric == "cost_per_run" and slope is not None:
            value += f" ({direction})"
        target = _target_text(check.comparison, check.target, check.unit)
        style = _STATUS_STYLE[check.status]
        table.add_row(check.metric, value, target, Text(check.status, style=style))
    return table


def counts_text(report: MetricsReport) -> Text:
    """The counts around the six metrics, on a few lines."""
    n = report.numbers()
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(report.totals.statuses.items())) or "none"
    lines = [
        f"runs {n['runs']} ({statuses}); attempts {n['attempts']},"
        f" p50 {_secs(n['step_latency_p50_s'])}, p95 {_secs(n['step_latency_p95_s'])}",
        f"tokens {n['input_tokens']} in / {n['output_tokens']} out; cost {_usd(n['cost_usd'])};"
        f" retries {n['retries']}; breaker openings {n['breaker_openings']};"
        f" loop stops {n['loop_stops']}, stall stops {n['stall_stops']}",
        f"approvals {n['approvals_requested']} asked, {n['approvals_granted']} granted,"
        f" {n['approvals_rejected']} rejected; mean wait {_secs(n['approval_wait_mean_s'])};"
        f" feedback {n['feedback_count']}",
    ]
    return Text("\n".join(lines))


def breakdown_tables(report: MetricsReport) -> list[Table]:
    """Per workflow and per agent."""
    flows = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("workflow", "runs", "completion", "p95 step", "errors", "cost/run", "trend"):
        flows.add_column(column, justify="left" if column == "workflow" else "right")
    for name, totals in sorted(report.workflows.items()):
        n = totals.numbers()
        _, direction = report.cost_trend(name)
        flows.add_row(
            render.plain(name),
            str(n["runs"]),
            _rate(n["completion_rate"]),
            _secs(n["step_latency_p95_s"]),
            _rate(n["error_rate"]),
            _usd(n["cost_per_run_usd"]),
            direction,
        )
    agents = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("agent", "attempts", "p50 step", "p95 step", "errors", "tokens", "cost"):
        agents.add_column(column, justify="left" if column == "agent" else "right")
    for name, row in report.to_json()["agents"].items():
        agents.add_row(
            render.plain(name),
            str(row["attempts"]),
            _secs(row["step_latency_p50_s"]),
            _secs(row["step_latency_p95_s"]),
            _rate(row["error_rate"]),
            f"{row['input_tokens'] + row['output_tokens']}",
            _usd(row["cost_usd"]),
        )
    return [flows, agents]


def alerts_table(outcomes: list[AlertOutcome]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("alert", "state", "value", "runs", "change", "webhook"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        webhook = "-" if not o.posted else ("delivered" if o.delivered else f"failed: {o.error}")
        if o.state == "error":
            webhook = f"error: {o.error}"
        value = "-" if o.value is None else f"{o.value:.4g}"
        style = _STATUS_STYLE.get(o.state, "")
        table.add_row(
            render.plain(o.rule.id),
            Text(o.state, style=style),
            value,
            str(o.runs),
            o.change or "-",
            render.plain(webhook),
        )
    return table


async def _gather(
    url: str | None,
    *,
    since: float | None,
    workflow: str | None,
    last: int | None,
    rules: list[AlertRule],
) -> tuple[MetricsReport, list[AlertOutcome]]:
    store = open_store(store_url(url))
    await store.open()
    try:
        report = await compute_metrics(store, since=since, workflow=workflow, last=last)
        outcomes = await evaluate_alerts(store, rules) if rules else []
    finally:
        await store.close()
    return report, outcomes


@app.command()
def stats(
    *,
    store: StoreOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DURATION",
            help="Only runs created this long ago or later (30m, 12h, 7d, 2w).",
        ),
    ] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", metavar="NAME", help="Only runs of this workflow.")
    ] = None,
    last: Annotated[
        int | None, typer.Option("--last", metavar="N", help="Only the N most recent runs.")
    ] = None,
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            metavar="FILE",
            help="Evaluate the drift alert rules of this YAML file: journal and post what fires.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The metrics of the store's runs, from their journals, against the seed's targets."""
    with _reported():
        start = None if since is None else time.time() - parse_duration(since)
        rules = load_alert_rules(alerts) if alerts is not None else []
        report, outcomes = asyncio.run(
            _gather(store, since=start, workflow=workflow, last=last, rules=rules)
        )
    if as_json:
        payload = report.to_json()
        if alerts is not None:
            payload["alerts"] = [o.to_json() for o in outcomes]
        typer.echo(render.dump_json(payload))
        return
    console = Console()
    window = (
        "all time"
        if start is None
        else "since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(start))
    )
    scope = (
        f"{window}"
        + (f", workflow {workflow}" if workflow else "")
        + (f", last {last}" if last else "")
    )
    console.print(Text(f"podium stats ({render.inert(scope)})", style="bold"))
    console.print(targets_table(report))
    console.print(counts_text(report))
    if report.totals.runs:
        console.print(Group(*breakdown_tables(report)))
    if alerts is not None:
        console.print(alerts_table(outcomes))


async def _rate_run(url: str | None, run_id: str, score: int, by: str, comment: str) -> RunFeedback:
    async with Orchestrator(store=store_url(url)) as orch:
        return await orch.feedback(run_id, score, by=by, comment=comment)


@app.command()
def feedback(
    run_id: Annotated[str, typer.Argument(help="The run to rate.", show_default=False)],
    *,
    score: Annotated[
        int,
        typer.Option(
            "--score", help="What the run was worth to you: 1 (nothing) to 5.", show_default=False
        ),
    ],
    comment: Annotated[str, typer.Option("--comment", metavar="TEXT", help="Why (recorded).")] = "",
    by: Annotated[
        str | None,
        typer.Option("--as", metavar="NAME", help="Who rates (default: your user name)."),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rate a run from 1 to 5; the rating is journaled and counts in `podium stats`."""
    with _reported():
        who = by if by is not None else local_user()
        for option, text in (("--comment", comment), ("--as", who)):
            problem = unencodable(text, option)
            if problem is not None:  # bytes that are not UTF-8 in an argument
                raise ConfigError(f"cannot record {problem}")
        given = asyncio.run(_rate_run(store, run_id, score, who, comment))
    if as_json:
        typer.echo(render.dump_json(to_builtins(given)))
        return
    Console().print(
        Text.assemble(
            "rated run ", (run_id, "bold"), f" {given.score}/5 (by {render.inert(given.by)})"
        )
    )
