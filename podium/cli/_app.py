"""The `podium` commands.

Exit codes: 0 the run succeeded (or the command did its job); 1 the run failed, partially
succeeded, was cancelled or waits; 2 a usage or configuration error (the problems go to stderr,
never a traceback); 130 the run was cancelled with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import msgspec
import typer
from rich.console import Console
from rich.text import Text

import podium
from podium.cli import _render as render
from podium.cli._inputs import add_import_paths, parse_inputs
from podium.cli._session import Outcome, list_runs, load_run, resume_run, run_workflow
from podium.events import json_schema, to_builtins
from podium.exceptions import ConfigError, PodiumError, RunNotFound
from podium.models._prices import PriceTable, default_prices
from podium.plan import Planner, Workflow, load_workflow
from podium.runtime import Limits

app = typer.Typer(
    name="podium",
    help="Run teams of AI agents from workflow files, durably.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
schema_app = typer.Typer(help="Print JSON Schemas of Podium's formats.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (default: $PODIUM_STORE, else podium.db here).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        metavar="FILE",
        help="Model prices (YAML/JSON: name: {input_per_mtok: USD, output_per_mtok: USD}) on top"
        " of the built-in ones and $PODIUM_PRICES.",
        show_default=False,
    ),
]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    _stderr().print(Text(f"error: {message}", style="red"))
    raise typer.Exit(code)


@contextmanager
def _reported() -> Iterator[None]:
    """Podium's errors as one clean message on stderr and an exit code, never a traceback."""
    try:
        yield
    except (ConfigError, RunNotFound) as exc:
        _fail(str(exc), EXIT_USAGE)
    except PodiumError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:  # a second Ctrl-C: the run was not ended cleanly
        _stderr().print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _load(file: Path, *, require_tasks: bool = True) -> Workflow:
    if not file.is_file():
        raise ConfigError(f"no workflow file {str(file)!r}")
    add_import_paths(file)
    # also validates the plan: every problem, with its line
    return load_workflow(str(file), require_tasks=require_tasks)


def _prices(file: Path | None) -> PriceTable | None:
    """The price table with `file` on top (``None`` without one: the orchestrator's default)."""
    return default_prices().with_file(file) if file is not None else None


def _report(outcome: Outcome, *, as_json: bool, console: Console) -> NoReturn:
    result = outcome.result
    if as_json:
        typer.echo(render.dump_json(result.to_json()))
    else:
        if outcome.state.plan is not None:
            console.print(render.task_table(outcome.state))
        console.print(render.result_renderable(result))
    if result.ok:
        raise typer.Exit(0)
    cancelled = outcome.interrupted and result.status == "cancelled"
    raise typer.Exit(EXIT_INTERRUPTED if cancelled else 1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"podium {podium.__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Run teams of AI agents from workflow files, durably."""


@app.command()
def run(
    file: Annotated[
        Path,
        typer.Argument(
            help="The workflow file (YAML); with --goal, an agents file.", show_default=False
        ),
    ],
    *,
    goal: Annotated[
        str | None,
        typer.Option(
            "--goal",
            metavar="TEXT",
            help="Plan this goal for the agents of FILE (a workflow file without tasks).",
        ),
    ] = None,
    planner_model: Annotated[
        str | None,
        typer.Option(
            "--planner-model",
            metavar="PROVIDER:NAME",
            help="The planner's model (default: the file's `planner.model`, else local:smollm2).",
        ),
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            metavar="NAME=VALUE",
            help="A run input; NAME=@FILE reads a file. Repeatable.",
        ),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Submit under this id; an existing run is continued."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", metavar="SECONDS", help="Wall-time limit.")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", metavar="N", help="Attempts at once.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            envvar="PODIUM_MODEL",
            metavar="PROVIDER:NAME",
            help="Run every model-driven agent on this model (e.g. openai:gpt-4o-mini).",
        ),
    ] = None,
    prices: PricesOption = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            metavar="CASSETTE",
            help="Record every model and tool exchange of the run into this file.",
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            metavar="CASSETTE",
            help="Replay the run from a recorded cassette: no model is called, no tool runs.",
        ),
    ] = None,
) -> None:
    """Run a workflow file (or plan a goal for a team) and print the result. Ctrl-C cancels."""
    console = Console()
    with _reported():
        limits = Limits(timeout_s=timeout)
        if max_concurrency is not None:
            limits = dataclasses.replace(limits, max_concurrency=max_concurrency)
        given = parse_inputs(inputs or [])
        workflow = _load(file, require_tasks=goal is None)
        if model:
            workflow = workflow.with_model(model)
        planner = workflow.planner
        if planner_model:
            planner = dataclasses.replace(planner or Planner(), model=planner_model)
        live = None if as_json or not console.is_terminal else console
        outcome = asyncio.run(
            run_workflow(
                workflow,
                goal=goal,
                planner=planner,
                inputs=given,
                store=store,
                run_id=run_id,
                limits=limits,
                console=live,
                prices=_prices(prices),
                record=record,
                replay=replay,
            )
        )
    _report(outcome, as_json=as_json, console=console)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
    prices: PricesOption = None,
) -> None:
    """Continue a run from its journal (a finished run is only reported)."""
    console = Console()
    with _reported():
        live = None if as_json or not console.is_terminal else console
        table = _prices(prices)
        outcome = asyncio.run(resume_run(run_id, store=store, console=live, prices=table))
    _report(outcome, as_json=as_json, console=console)


@app.command()
def runs(
    store: StoreOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Runs to list.")] = 20,
) -> None:
    """List the most recent runs."""
    with _reported():
        found = asyncio.run(list_runs(store=store, limit=limit))
    if as_json:
        typer.echo(render.dump_json([msgspec.to_builtins(info) for info in found]))
    elif not found:
        Console().print("no runs yet", style="dim")
    else:
        Console().print(render.runs_table(found))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run to show.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a run's timeline of events and its status."""
    with _reported():
        state, events = asyncio.run(load_run(run_id, store=store))
    if as_json:
        payload = {
            "run_id": run_id,
            "status": state.status,
            "events": [to_builtins(ev) for ev in events],
        }
        typer.echo(render.dump_json(payload))
        return
    console = Console()
    console.print(render.timeline_table(events))
    why = ": ".join(p for p in (state.reason, state.message) if p)
    line = Text.assemble("run ", (run_id, "bold"), " ", render.status_text(state.status))
    if why:
        line.append(f" ({why})")
    if not state.finished:
        line.append(f"  — continue it with `podium resume {run_id}`", style="dim")
    console.print(line)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The workflow file (YAML).", show_default=False)],
) -> None:
    """Check a workflow file without running it; list every problem."""
    with _reported():
        workflow = _load(file)
    agents = len(workflow.agents)
    typer.echo(f"ok: {len(workflow.plan)} tasks, {agents} agent{'s' if agents != 1 else ''}")


@schema_app.command("events")
def schema_events() -> None:
    """The JSON Schema of the run events (the journal's format)."""
    typer.echo(render.dump_json(json_schema()))
