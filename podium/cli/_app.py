"""The `podium` commands.

Exit codes: 0 the run succeeded (or the command did its job); 1 the run failed, partially
succeeded, was cancelled or waits; 2 a usage or configuration error (the problems go to stderr,
never a traceback); 130 the run was cancelled with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import msgspec
import typer
from rich.console import Console
from rich.text import Text

import podium
from podium.cli import _render as render
from podium.cli._a2a import a2a_app
from podium.cli._follow import follow as follow_run
from podium.cli._fork import comparison_table, fork_session
from podium.cli._hints import end_lines
from podium.cli._inputs import add_import_paths, parse_inputs
from podium.cli._mcp import mcp_app
from podium.cli._serve import serve_command
from podium.cli._session import (
    Outcome,
    cancel_run,
    list_runs,
    load_run,
    resume_run,
    run_workflow,
)
from podium.cli._stdout import stdout_to_stderr
from podium.cli._store import store_url
from podium.cli._summary import print_run
from podium.cli._who import local_user
from podium.events import Usage, json_schema, to_builtins
from podium.exceptions import ConfigError, JournalConflict, PodiumError, RunNotFound, StoreError
from podium.models._prices import PriceTable, default_prices
from podium.plan import Planner, Workflow, load_workflow
from podium.plan._file_schema import workflow_schema
from podium.runtime import Limits, compare_runs, new_run_id
from podium.secrets import install as install_redaction

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
        help="Store URL or SQLite file (default: $PODIUM_STORE, else podium.db in your data"
        " folder, e.g. ~/.local/share/podium).",
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


class ExecutorName(StrEnum):
    """Where a run's attempts run (``--executor``)."""

    local = "local"
    ray = "ray"


ExecutorOption = Annotated[
    ExecutorName | None,
    typer.Option(
        "--executor",
        help="Where attempts run: local (this process) or ray (a Ray cluster; pip install"
        " 'podium\\[ray]'). Default: the workflow file's `executor`, else local.",
        show_default=False,
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="The Ray cluster (auto, ray://HOST:PORT or HOST:PORT); default: the file's, else a"
        " new local Ray instance. Implies --executor ray.",
        show_default=False,
    ),
]
TraceOption = Annotated[
    str | None,
    typer.Option(
        "--trace",
        metavar="otlp|console|off",
        help="OpenTelemetry traces of the run (pip install 'podium\\[otel]'): otlp (to"
        " OTEL_EXPORTER_OTLP_ENDPOINT), console (stderr) or off. Default: PODIUM_TRACE, else"
        " otlp when OTEL_EXPORTER_OTLP_ENDPOINT is set, else off.",
        show_default=False,
    ),
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="NAME",
        help="Who submits (recorded in the journal; default: your login name).",
        show_default=False,
    ),
]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    _stderr().print(render.plain(f"error: {message}", "red"))
    raise typer.Exit(code)


@contextmanager
def _reported(run_id: str | None = None) -> Iterator[None]:
    """Podium's errors as one clean message on stderr and an exit code, never a traceback.

    With the `run_id` a command drives, a store that failed under it says how to go on.
    """
    try:
        yield
    except (ConfigError, RunNotFound) as exc:
        _fail(str(exc), EXIT_USAGE)
    except StoreError as exc:
        hint = ""
        if run_id is not None and not isinstance(exc, JournalConflict):
            hint = (
                f"; run {run_id} is kept as its journal has it: continue it with"
                f" `podium resume {run_id}` once the store is back"
            )
        _fail(f"{exc}{hint}", 1)
    except PodiumError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:  # a second Ctrl-C: the run was not ended cleanly
        _stderr().print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _load(file: Path, *, require_tasks: bool = True, import_code: bool = True) -> Workflow:
    """The workflow of `file`, its plan validated (every problem, with its line).

    With ``import_code=False`` no module of the file's ``python:`` references is imported (its
    top-level code would run): they are only looked up, and the workflow is for checking.
    """
    if not file.is_file():
        raise ConfigError(f"no workflow file {str(file)!r}")
    if import_code:
        add_import_paths(file)
    return load_workflow(str(file), require_tasks=require_tasks, import_code=import_code)


def _prices(file: Path | None) -> PriceTable | None:
    """The price table with `file` on top (``None`` without one: the orchestrator's default)."""
    return default_prices().with_file(file) if file is not None else None


def _report(
    outcome: Outcome, *, as_json: bool, console: Console, store: str | None = None
) -> NoReturn:
    """Print how a driven run ended, then where it is stored (`store` as ``--store`` gave it)
    and how to see it again or decide what it waits for; exit with the run's code."""
    result = outcome.result
    if as_json:
        typer.echo(render.dump_json(result.to_json()))
    else:
        if outcome.state.plan is not None:
            console.print(render.task_table(outcome.state))
        console.print(render.result_renderable(result))
        pending = outcome.state.approvals.pending()
        url = store_url(store)
        hints = end_lines(result.run_id, url, store, status=result.status, pending=pending)
        console.print(hints, soft_wrap=True)  # command lines stay whole, to be copied
    if result.ok:
        raise typer.Exit(0)
    stopped = outcome.interrupted and result.status in ("interrupted", "cancelled")
    raise typer.Exit(EXIT_INTERRUPTED if stopped else 1)


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
    install_redaction()  # no secret a tool or provider resolved reaches a log line


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
    upgrade: Annotated[
        bool,
        typer.Option(
            "--upgrade",
            help="With --run-id of an unfinished run submitted with another workflow: go on with"
            " this one (recorded in the run's journal).",
        ),
    ] = False,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    trace: TraceOption = None,
    by: AsOption = None,
) -> None:
    """Run a workflow file (or plan a goal for a team) and print the result.

    Ctrl-C stops the run where it stands, resumable with `podium resume`; `podium cancel`
    ends a run for good.
    """
    console = Console()
    run_id = run_id or new_run_id()
    with _reported(run_id), stdout_to_stderr(as_json):
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
                upgrade=upgrade,
                executor=None if executor is None else executor.value,
                ray_address=ray_address,
                trace=trace,
                by=by,
            )
        )
    _report(outcome, as_json=as_json, console=console, store=store)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.", show_default=False)],
    *,
    store: StoreOption = None,
    as_json: JsonOption = False,
    prices: PricesOption = None,
    upgrade: Annotated[
        Path | None,
        typer.Option(
            "--upgrade",
            metavar="FILE",
            help="Go on with this workflow file instead of the one the run was submitted with"
            " (recorded in the run's journal).",
            show_default=False,
        ),
    ] = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    trace: TraceOption = None,
    by: AsOption = None,
) -> None:
    """Continue a run from its journal (a finished run is only reported).

    A run is driven by one process at a time: while another drives it, this is refused with
    who holds it and until when.
    """
    console = Console()
    with _reported(run_id), stdout_to_stderr(as_json):
        live = None if as_json or not console.is_terminal else console
        table = _prices(prices)
        workflow = None if upgrade is None else _load(upgrade)
        outcome = asyncio.run(
            resume_run(
                run_id,
                store=store,
                console=live,
                prices=table,
                upgrade=workflow,
                executor=None if executor is None else executor.value,
                ray_address=ray_address,
                trace=trace,
                by=by,
            )
        )
    _report(outcome, as_json=as_json, console=console, store=store)


@app.command()
def cancel(
    run_id: Annotated[str, typer.Argument(help="The run to end.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "cancelled",
    by: Annotated[
        str | None,
        typer.Option("--as", metavar="NAME", help="Who cancels (recorded; default: you)."),
    ] = None,
) -> None:
    """End an unfinished run for good (`RunCancelled`).

    A run that another process drives is asked to stop, and this waits for it.
    """
    console = Console()
    with _reported():
        who = by or local_user()
        result = asyncio.run(cancel_run(run_id, store=store, reason=reason, by=who))
    if as_json:
        typer.echo(render.dump_json(result.to_json()))
    else:
        console.print(render.result_renderable(result))
        console.print(end_lines(run_id, store_url(store), store), soft_wrap=True)
    raise typer.Exit(0 if result.status == "cancelled" else 1)


@app.command()
def runs(
    store: StoreOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Runs to list.")] = 20,
) -> None:
    """List the most recent runs: status, duration, tokens, cost, who drives them."""
    with _reported():
        found, usage = asyncio.run(list_runs(store=store, limit=limit))
    if as_json:
        now = time.time()
        rows = [
            {
                **msgspec.to_builtins(info),
                "duration_s": render.run_duration(info, now=now),
                "usage": render.usage_json(usage.get(info.run_id, Usage())),
            }
            for info in found
        ]
        typer.echo(render.dump_json(rows))
    elif not found:
        Console().print("no runs yet", style="dim")
    else:
        Console().print(render.runs_table(found, usage))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run to show.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Then print its new events as they come, until it ends (with --json: one"
            " JSON event a line). Ctrl-C stops following, not the run.",
        ),
    ] = False,
) -> None:
    """Show a run's timeline of events, its time, tokens and cost (per agent too), its status."""
    if follow:
        _follow(run_id, store=store, as_json=as_json)
        return
    with _reported():
        state, events = asyncio.run(load_run(run_id, store=store))
    if as_json:
        payload = {
            "run_id": run_id,
            "status": state.status,
            "usage": render.usage_json(state.usage),
            "events": [to_builtins(ev) for ev in events],
        }
        typer.echo(render.dump_json(payload))
        return
    print_run(Console(), state, events, given_store=store)


def _follow(run_id: str, *, store: str | None, as_json: bool) -> None:
    console = Console()
    with _reported():
        try:
            asyncio.run(follow_run(run_id, store=store, console=console, json_lines=as_json))
        except KeyboardInterrupt:  # only the following ends: the run is another process's
            if not as_json:
                console.print(Text(f"stopped following run {run_id}", style="dim"))


@app.command()
def fork(
    run_id: Annotated[str, typer.Argument(help="The run to fork.", show_default=False)],
    *,
    task: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="TASK",
            help="Run again from this task: what did not depend on it is copied.",
            show_default=False,
        ),
    ],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            metavar="NAME=VALUE",
            help="Change a run input; NAME=@FILE reads a file. Repeatable.",
        ),
    ] = None,
    instruction: Annotated[
        str | None,
        typer.Option("--instruction", metavar="TEXT", help="A new instruction for TASK."),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", metavar="NAME", help="Give TASK to this agent of the team."),
    ] = None,
    fork_id: Annotated[
        str | None, typer.Option("--run-id", help="The fork's run id (default: a new one).")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
    by: AsOption = None,
) -> None:
    """Run a run again from one of its tasks, as a new run linked to it (time travel).

    The parent's journal up to TASK is copied (no agent runs again for it); TASK and what
    depends on it run again with the changed inputs, instruction or agent.
    """
    console = Console()
    fork_id = fork_id or new_run_id()
    with _reported(fork_id), stdout_to_stderr(as_json):
        given = parse_inputs(inputs or [])
        live = None if as_json or not console.is_terminal else console
        outcome = asyncio.run(
            fork_session(
                run_id,
                task,
                store=store,
                inputs=given,
                instruction=instruction,
                agent=agent,
                fork_id=fork_id,
                console=live,
                by=by,
            )
        )
    _report(outcome, as_json=as_json, console=console, store=store)


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="A run.", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="Another run (say, its fork).", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare two runs task by task: status, agent, time, cost, and whether outputs agree."""
    with _reported():
        a, _ = asyncio.run(load_run(run_a, store=store))
        b, _ = asyncio.run(load_run(run_b, store=store))
    rows = compare_runs(a, b)
    if as_json:
        payload = [{**dataclasses.asdict(r), "same_output": r.same_output} for r in rows]
        typer.echo(render.dump_json({"a": run_a, "b": run_b, "tasks": payload}))
        return
    Console().print(comparison_table(run_a, run_b, rows))


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The workflow file (YAML).", show_default=False)],
) -> None:
    """Check a workflow file without running it or any of its code; list every problem.

    `python:` references are looked up in their modules' source, not imported: a module that
    fails when imported is only caught by `podium run`.
    """
    with _reported():
        # an agents file (agents, no tasks: a team a goal is planned for) is valid on its own
        workflow = _load(file, import_code=False, require_tasks=False)
        if not len(workflow.plan) and not workflow.agents:
            raise ConfigError(f"{file}: no tasks and no agents: nothing to run or plan for")
    agents = len(workflow.agents)
    count = f"{agents} agent{'s' if agents != 1 else ''}"
    if not len(workflow.plan):
        typer.echo(f"ok: agents file, {count} (no tasks: run it with --goal)")
        return
    typer.echo(f"ok: {len(workflow.plan)} tasks, {count}")


app.command("serve")(serve_command)
app.add_typer(a2a_app, name="a2a")
app.add_typer(mcp_app, name="mcp")


@schema_app.command("events")
def schema_events() -> None:
    """The JSON Schema of the run events (the journal's format)."""
    typer.echo(render.dump_json(json_schema()))


@schema_app.command("workflow")
def schema_workflow() -> None:
    """The JSON Schema of workflow files (for editors; `podium validate` checks more)."""
    typer.echo(render.dump_json(workflow_schema()))
