"""Kill `podium` with SIGKILL at random moments, resume it, and check that effects land once.

One chaos run: a workflow of many side-effecting steps (Python agents keyed by
`TaskCall.idempotency_key`, model-driven agents calling a ``write`` tool keyed by
`ToolContext.idempotency_key`, a fan-out) is started with ``podium run``; whenever its journal has
grown, the process is killed after a random delay and the run is continued with ``podium
resume``, until a process finishes it. Then:

- every run completed (``RunSucceeded``, exit code 0);
- every effect landed exactly once: one ledger row per (task, effect);
- no task that had succeeded ran again: before each kill the harness notes which tasks had
  succeeded and how far the attempts log went; no later attempt is of such a task.

Used by `tests/reliability/test_chaos.py` (short) and `bench/chaos.py` (long).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
PODIUM = str(Path(sys.executable).parent / "podium")


def chaos_workflow(steps: int, width: int) -> str:
    """A chain of `steps` tasks (every third one model-driven), with a fan-out of `width`
    sub-tasks in the middle."""
    lines = [
        "name: chaos",
        "inputs:",
        f"  width: {{type: integer, default: {width}}}",
        "agents:",
        '  writer: {python: "chaos_agents:write_step"}',
        '  lister: {python: "chaos_agents:list_items"}',
        "  clerk: {model: test, tools: [stamp, book]}",
        "tools:",
        '  stamp: {python: "chaos_agents:stamp", effect: read}',
        '  book: {python: "chaos_agents:book", effect: write}',
        "tasks:",
    ]
    previous: str | None = None
    for i in range(1, steps + 1):
        tid = f"s{i:02d}"
        agent = "clerk" if i % 3 == 0 else "writer"
        needs = f", needs: [{previous}]" if previous else ""
        lines.append(f"  - {{id: {tid}, agent: {agent}{needs}}}")
        previous = tid
        if i == steps // 2:
            lines.append(f"  - {{id: items, agent: lister, needs: [{previous}]}}")
            lines.append("  - {id: each, agent: writer, needs: [items], map: tasks.items.output}")
            previous = "each"
    lines.append(f'output: "{{{{ tasks.{previous}.output }}}}"')
    return "\n".join(lines) + "\n"


def expected_effects(steps: int, width: int) -> Counter[tuple[str, str]]:
    """(task, effect) → 1 for every effect the workflow makes."""
    out: Counter[tuple[str, str]] = Counter()
    writers = [f"s{i:02d}" for i in range(1, steps + 1) if i % 3 != 0]
    writers += [f"each[{i}]" for i in range(width)]
    for tid in writers:
        out[(tid, "ledger")] = out[(tid, "notify")] = 1
    for i in range(3, steps + 1, 3):
        out[(f"s{i:02d}", "book")] = 1
    return out


# -- storage: the journal (SQLite or Postgres), the ledger and the attempts log -----------------


@dataclass
class Storage:
    """Where one chaos run keeps its journal and ledger: all SQLite, or all Postgres."""

    workdir: Path
    postgres_url: str | None = None
    tag: str = "chaos"

    @property
    def attempts(self) -> Path:
        return self.workdir / "attempts.db"

    @property
    def table(self) -> str:
        return f"ledger_{self.tag}"

    @property
    def schema(self) -> str:
        return f"podium_{self.tag}"

    @property
    def store_url(self) -> str:
        if self.postgres_url is None:
            return f"sqlite:///{self.workdir / 'runs.db'}"
        sep = "&" if "?" in self.postgres_url else "?"
        return f"{self.postgres_url}{sep}options=-csearch_path%3D{self.schema}"

    @property
    def ledger(self) -> str:
        return self.postgres_url or str(self.workdir / "ledger.db")

    def create(self) -> None:
        with sqlite3.connect(self.attempts) as conn:
            conn.execute(
                "CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL,"
                " pid INTEGER NOT NULL, ts REAL NOT NULL)"
            )
            conn.execute("CREATE TABLE tries (key TEXT NOT NULL)")
        conn.close()
        ledger = f"CREATE TABLE {self.table} (key TEXT PRIMARY KEY, task TEXT, effect TEXT)"
        if self.postgres_url is None:
            with sqlite3.connect(self.ledger) as conn:
                conn.execute(ledger)
            conn.close()
            return
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as pg:
            pg.execute(f'CREATE SCHEMA "{self.schema}"')
            pg.execute(ledger)

    def drop(self) -> None:
        if self.postgres_url is None:
            return
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as pg:
            pg.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            pg.execute(f"DROP TABLE IF EXISTS {self.table}")

    def journal(self, run_id: str) -> list[dict[str, Any]]:
        query = "SELECT data FROM events WHERE run_id = {} ORDER BY seq"
        if self.postgres_url is None:
            db = self.workdir / "runs.db"
            if not db.exists():
                return []
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
                    rows = conn.execute(query.format("?"), (run_id,)).fetchall()
                conn.close()
            except sqlite3.OperationalError:  # the tables are not there yet
                return []
            return [json.loads(r[0]) for r in rows]
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as pg:
            try:
                cur = pg.execute(
                    query.format("%s").replace("events", f'"{self.schema}".events'), (run_id,)
                )
            except psycopg.errors.UndefinedTable:
                return []
            return [json.loads(bytes(r[0])) for r in cur.fetchall()]

    def effects(self) -> Counter[tuple[str, str]]:
        query = f"SELECT task, effect FROM {self.table}"
        if self.postgres_url is None:
            with sqlite3.connect(self.ledger) as conn:
                rows = conn.execute(query).fetchall()
            conn.close()
        else:
            import psycopg

            with psycopg.connect(self.postgres_url, autocommit=True) as pg:
                rows = pg.execute(query).fetchall()
        return Counter((str(t), str(e)) for t, e in rows)

    def tries(self) -> int:
        """How many times an effect was made (repeats included)."""
        with sqlite3.connect(self.attempts, timeout=30) as conn:
            (count,) = conn.execute("SELECT count(*) FROM tries").fetchone()
        conn.close()
        return int(count)

    def attempt_log(self, after_id: int = 0) -> list[tuple[int, str]]:
        with sqlite3.connect(self.attempts, timeout=30) as conn:
            rows = conn.execute(
                "SELECT id, task FROM attempts WHERE id > ? ORDER BY id", (after_id,)
            ).fetchall()
        conn.close()
        return [(int(i), str(t)) for i, t in rows]


# -- the kill loop --------------------------------------------------------------------------


@dataclass
class Snapshot:
    """What had happened just before a kill."""

    succeeded: set[str]
    last_attempt: int


@dataclass
class ChaosReport:
    run_id: str
    kills: int = 0
    processes: int = 0
    seconds: float = 0.0
    events: int = 0
    tasks: int = 0
    attempts: int = 0
    effects: int = 0
    repeats_absorbed: int = 0
    """Effects made again after a crash whose second row the ledger's key refused."""
    duplicate_effects: dict[str, int] = field(default_factory=dict)
    missing_effects: list[str] = field(default_factory=list)
    reruns_after_success: list[str] = field(default_factory=list)
    status: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.status == "succeeded"
            and not self.duplicate_effects
            and not self.missing_effects
            and not self.reruns_after_success
        )


def _succeeded(journal: list[dict[str, Any]]) -> set[str]:
    return {str(e["task"]) for e in journal if e["kind"] == "TaskSucceeded"}


def chaos_run(
    storage: Storage,
    *,
    run_id: str,
    steps: int,
    width: int,
    max_kills: int,
    max_delay_s: float = 0.5,
    pause_s: float = 0.03,
    seed: int = 0,
    timeout_s: float = 600,
    log: Callable[[str], None] = lambda _line: None,
) -> ChaosReport:
    """Run the chaos workflow to its end, killing the process up to `max_kills` times."""
    rng = random.Random(seed)
    flow = storage.workdir / "chaos.yaml"
    flow.write_text(chaos_workflow(steps, width), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(DATA), os.environ.get("PYTHONPATH", "")]),
        "CHAOS_LEDGER": storage.ledger,
        "CHAOS_TABLE": storage.table,
        "CHAOS_ATTEMPTS": str(storage.attempts),
        "CHAOS_PAUSE": str(pause_s),
    }
    env.pop("PODIUM_STORE", None)
    store = ["--store", storage.store_url]
    command = [PODIUM, "run", str(flow), *store, "--run-id", run_id, "--json"]
    report = ChaosReport(run_id=run_id)
    snapshots: list[Snapshot] = []
    started = time.monotonic()
    while True:
        seen = len(storage.journal(run_id))
        proc = subprocess.Popen(
            command, cwd=storage.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        report.processes += 1
        if report.kills < max_kills and _wait_for_progress(
            storage, run_id, seen, proc, rng, max_delay_s
        ):
            journal = storage.journal(run_id)  # first the journal, then the attempts log
            snapshot = Snapshot(_succeeded(journal), _last_attempt(storage))
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            if proc.returncode == -signal.SIGKILL:
                snapshots.append(snapshot)
                report.kills += 1
                done = len(snapshot.succeeded)
                log(f"kill {report.kills}: {done} tasks done, {len(journal)} events")
                command = [PODIUM, "resume", run_id, *store, "--json"]
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"chaos run {run_id} did not finish in {timeout_s}s")
                continue
        out, err = proc.communicate(timeout=timeout_s)
        if proc.returncode != 0:
            raise RuntimeError(f"podium exited with {proc.returncode}: {err.decode()[-2000:]}")
        report.status = json.loads(out)["status"]
        break
    report.seconds = time.monotonic() - started
    _check(storage, report, snapshots, steps=steps, width=width)
    return report


def _wait_for_progress(
    storage: Storage,
    run_id: str,
    seen: int,
    proc: subprocess.Popen[bytes],
    rng: random.Random,
    max_delay_s: float,
) -> bool:
    """Wait until the journal grows, then a random delay; ``False`` if the process ended."""
    while len(storage.journal(run_id)) <= seen:
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    time.sleep(rng.uniform(0, max_delay_s))
    return proc.poll() is None


def _last_attempt(storage: Storage) -> int:
    log = storage.attempt_log()
    return log[-1][0] if log else 0


def _check(
    storage: Storage, report: ChaosReport, snapshots: list[Snapshot], *, steps: int, width: int
) -> None:
    journal = storage.journal(report.run_id)
    report.events = len(journal)
    successes = Counter(str(e["task"]) for e in journal if e["kind"] == "TaskSucceeded")
    report.tasks = len(successes)
    if journal and journal[-1]["kind"] != "RunSucceeded":
        report.status = journal[-1]["kind"]
    doubled = [t for t, n in successes.items() if n != 1]
    attempts = storage.attempt_log()
    report.attempts = len(attempts)
    landed = storage.effects()
    expected = expected_effects(steps, width)
    report.effects = sum(landed.values())
    report.repeats_absorbed = storage.tries() - report.effects
    report.duplicate_effects = {f"{t}:{e}": n for (t, e), n in landed.items() if n > 1}
    report.missing_effects = sorted(f"{t}:{e}" for (t, e) in expected if (t, e) not in landed)
    reruns = set(doubled)
    for snap in snapshots:
        reruns |= {task for i, task in attempts if i > snap.last_attempt and task in snap.succeeded}
    report.reruns_after_success = sorted(reruns)
