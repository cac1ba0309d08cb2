"""Agents and tools of the chaos workflow: side effects in an idempotent ledger, attempts outside.

Every effect is an ``INSERT … ON CONFLICT (key) DO NOTHING`` into the ledger keyed by its
idempotency key: if the key were not stable across a crash, a re-executed effect would add a
second row for the same (task, effect). Every execution of a task body is also logged, without
any key, in a separate attempts table, so the harness can tell whether a task that had
succeeded ever ran again.

Configured by the environment: ``CHAOS_LEDGER`` (a SQLite file or a ``postgresql://`` URL),
``CHAOS_TABLE`` (the ledger table), ``CHAOS_ATTEMPTS`` (a SQLite file), ``CHAOS_PAUSE`` (the
longest random pause between effects, in seconds).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time

from podium import TaskCall, ToolContext


def _pause() -> None:
    time.sleep(random.uniform(0, float(os.environ.get("CHAOS_PAUSE", "0.03"))))


def _log_attempt(task: str) -> None:
    conn = sqlite3.connect(os.environ["CHAOS_ATTEMPTS"], timeout=30)
    try:
        conn.execute(
            "INSERT INTO attempts (task, pid, ts) VALUES (?, ?, ?)",
            (task, os.getpid(), time.time()),
        )
        conn.commit()
    finally:
        conn.close()


def _log_try(key: str) -> None:
    """Log that an effect is about to be made (so the harness sees how many repeats the
    ledger's key absorbed)."""
    conn = sqlite3.connect(os.environ["CHAOS_ATTEMPTS"], timeout=30)
    try:
        conn.execute("INSERT INTO tries (key) VALUES (?)", (key,))
        conn.commit()
    finally:
        conn.close()


def _effect(key: str, task: str, effect: str) -> None:
    _log_try(key)
    ledger, table = os.environ["CHAOS_LEDGER"], os.environ.get("CHAOS_TABLE", "ledger")
    insert = (
        f"INSERT INTO {table} (key, task, effect) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING"
    )
    if ledger.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(ledger, autocommit=True) as conn:
            conn.execute(insert, (key, task, effect))
        return
    conn = sqlite3.connect(ledger, timeout=30)
    try:
        conn.execute(insert.replace("%s", "?"), (key, task, effect))
        conn.commit()
    finally:
        conn.close()


def write_step(call: TaskCall) -> str:
    """Two effects, each keyed by `TaskCall.idempotency_key`, with pauses around them."""
    _log_attempt(call.task_id)
    _pause()
    _effect(call.idempotency_key("ledger"), call.task_id, "ledger")
    _pause()
    _effect(call.idempotency_key("notify"), call.task_id, "notify")
    _pause()
    return call.task_id


def list_items(call: TaskCall) -> list[int]:
    _log_attempt(call.task_id)
    return list(range(int(call.run_inputs.get("width", 3))))


def stamp(note: str, ctx: ToolContext) -> str:
    """Note that the task runs (a read: never replayed, so every execution shows)."""
    _log_attempt(ctx.task_id)
    return "stamped"


def book(note: str, ctx: ToolContext) -> str:
    """Book an entry (a write, keyed by the tool call's idempotency key)."""
    _pause()
    _effect(ctx.idempotency_key, ctx.task_id, "book")
    _pause()
    return "booked"
