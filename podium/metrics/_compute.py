"""`compute_metrics`: read the journals of a window's runs and sum what they say.

The journals are the only source: nothing is counted on the side while runs execute, so the
numbers are the same whichever process ran the runs, and they can be computed again at any time.
"""

from __future__ import annotations

import asyncio

from podium.exceptions import ConfigError, RunNotFound
from podium.metrics._facts import RunFacts, fold_run
from podium.metrics._report import MetricsReport, Targets, build_report
from podium.store import RunInfo, Store

ALERTS_RUN_ID = "podium-alerts"
"""The journal that records drift alerts (see `podium.metrics.evaluate_alerts`): not a run the
metrics count."""

FIRST_PAGE = 500
"""Runs asked of the store's index at first; the page grows fourfold until the window is in."""
CONCURRENT_LOADS = 16
"""Journals read at once (a Postgres pool serves them in parallel; SQLite in turn)."""


def _in_window(info: RunInfo, since: float | None, until: float | None) -> bool:
    if info.run_id == ALERTS_RUN_ID:
        return False
    if since is not None and info.created_at < since:
        return False
    return until is None or info.created_at <= until


async def select_runs(
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    workflow: str | None = None,
    last: int | None = None,
) -> list[RunInfo]:
    """The runs created in ``[since, until]`` (of `workflow`), most recent first; at most the
    `last` most recent of them.

    The store's index lists runs newest first: pages grow until the oldest listed run is older
    than `since`, or `last` runs matched, or the index is exhausted.
    """
    limit = FIRST_PAGE
    while True:
        rows = await store.list_runs(limit=limit)
        chosen = [
            r
            for r in rows
            if _in_window(r, since, until) and (workflow is None or r.name == workflow)
        ]
        exhausted = len(rows) < limit
        past_since = since is not None and bool(rows) and rows[-1].created_at < since
        if exhausted or past_since or (last is not None and len(chosen) >= last):
            return chosen if last is None else chosen[:last]
        limit *= 4


async def _facts(store: Store, info: RunInfo) -> RunFacts | None:
    try:
        events = await store.load(info.run_id)
    except RunNotFound:  # deleted since it was listed
        return None
    return fold_run(info.run_id, info.name or "-", info.created_at, events)


async def load_facts(store: Store, runs: list[RunInfo]) -> list[RunFacts]:
    """Each run's facts, read a few journals at a time (one query each), oldest run first."""
    out: list[RunFacts] = []
    for start in range(0, len(runs), CONCURRENT_LOADS):
        chunk = runs[start : start + CONCURRENT_LOADS]
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(_facts(store, info)) for info in chunk]
        out.extend(f for t in tasks if (f := t.result()) is not None)
    out.sort(key=lambda f: f.created_at)
    return out


def _check_args(since: float | None, until: float | None, last: int | None, buckets: int) -> None:
    if since is not None and until is not None and since > until:
        raise ConfigError(f"the window starts ({since}) after it ends ({until})")
    if last is not None and last < 1:
        raise ConfigError(f"`last` counts runs: give 1 or more, not {last!r}")
    if buckets < 1:
        raise ConfigError(f"`buckets` cuts the window into spans: give 1 or more, not {buckets!r}")


async def compute_metrics(
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    workflow: str | None = None,
    last: int | None = None,
    buckets: int = 12,
    targets: Targets | None = None,
) -> MetricsReport:
    """The metrics of the runs a store holds, from their journals.

    Args:
        store: an opened store.
        since: only runs created at or after this time (seconds since the epoch; ``None``:
            open on that side).
        until: only runs created at or before this time (seconds since the epoch; ``None``: open).
        workflow: only runs of the workflow of this name.
        last: only the `last` most recent of the runs selected.
        buckets: spans the window is cut into for the time series (``MetricsReport.series``).
        targets: what the six metrics are checked against (default: the seed's).

    Raises:
        ConfigError: an empty window, `last` or `buckets` below 1.
        StoreError: the store failed.
    """
    _check_args(since, until, last, buckets)
    runs = await select_runs(store, since=since, until=until, workflow=workflow, last=last)
    facts = await load_facts(store, runs)
    return build_report(
        facts,
        since=since,
        until=until,
        workflow=workflow,
        last=last,
        buckets=buckets,
        targets=targets or Targets(),
    )


__all__ = ["ALERTS_RUN_ID", "compute_metrics", "load_facts", "select_runs"]
