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
from podium.plan import Workflow, load_workflow
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


def _load(file: Path) -> Workflow:
    if not file.is_file():
        raise ConfigError(f"no workflow file {str(file)!r}")
    add_import_paths(file)
    return load_workflow(str(file))  # also validates the plan: every problem, with its line


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
    file: Annotated[Path, typer.Argument(help="The workflow file (YAML).", show_default=False)],
    *,
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
) -> None:
    """Run a workflow file and print its result. Ctrl-C cancels the run."""
    console = Console()
    with _reported():
        limits = Limits(timeout_s=timeout)
        if max_concurrency is not None:
            limits = dataclasses.replace(limits, max_concurrency=max_concurrency)
        given = parse_inputs(inputs or [])
        workflow = _load(file)
        live = None if as_json or not console.is_terminal else console
        outcome = asyncio.run(
            run_workflow(
                workflow, inputs=given, store=store, run_id=run_id, limits=limits, console=live
            )
        )
    _report(outcome, as_json=as_json, console=console)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Continue a run from its journal (a finished run is only reported)."""
    console = Console()
    with _reported():
        live = None if as_json or not console.is_terminal else console
        outcome = asyncio.run(resume_run(run_id, store=store, console=live))
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
