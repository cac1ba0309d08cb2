"""The SQL of the SQLite store: its schema and statements."""

from __future__ import annotations

LEASE_COLUMNS = (
    ("lease_owner", "TEXT"),
    ("lease_token", "INTEGER NOT NULL DEFAULT 0"),
    ("lease_expires", "REAL"),
    ("cancel_reason", "TEXT"),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_token INTEGER NOT NULL DEFAULT 0,
    lease_expires REAL,
    cancel_reason TEXT
);
CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outcomes (
    kind TEXT NOT NULL,
    agent TEXT NOT NULL,
    runs INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    checked INTEGER NOT NULL,
    checks_passed INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cost_runs INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, agent)
) WITHOUT ROWID;
"""

INSERT_RUN = (
    "INSERT INTO runs (run_id, status, name, created_at, updated_at, events, lease_owner,"
    " lease_token, lease_expires) VALUES (?, 'running', ?, ?, ?, 1, ?, ?, ?)"
    " ON CONFLICT (run_id) DO NOTHING"
)
INSERT_EVENT = "INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)"
# The run row is written only when the status changes: a row update on every append would add
# a page to each commit. Its event count and last update are read off the journal instead.
UPDATE_RUN = "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?"
RELEASE_ON_STATUS = (
    "UPDATE runs SET lease_owner = NULL, lease_expires = NULL,"
    " cancel_reason = CASE WHEN ? THEN NULL ELSE cancel_reason END WHERE run_id = ?"
)
LOAD = "SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq"
RUN_EXISTS = "SELECT 1 FROM runs WHERE run_id = ?"
LEASE = "SELECT lease_owner, lease_token, lease_expires, cancel_reason FROM runs WHERE run_id = ?"
TAKE_LEASE = "UPDATE runs SET lease_owner = ?, lease_token = ?, lease_expires = ? WHERE run_id = ?"
RENEW_LEASE = (
    "UPDATE runs SET lease_expires = ? WHERE run_id = ? AND lease_token = ?"
    " AND lease_owner IS NOT NULL"
)
RELEASE_LEASE = (
    "UPDATE runs SET lease_owner = NULL, lease_expires = NULL WHERE run_id = ? AND lease_token = ?"
)
REQUEST_CANCEL = "UPDATE runs SET cancel_reason = ? WHERE run_id = ?"
SEQS_OF = "SELECT seq, data FROM events WHERE run_id = ? AND seq >= ? AND seq <= ?"
RUN_COLUMNS = (
    "r.run_id, r.status, r.name, r.created_at,"
    " max(r.updated_at, coalesce((SELECT json_extract(CAST(e.data AS TEXT), '$.ts') FROM events"
    " AS e WHERE e.run_id = r.run_id ORDER BY e.seq DESC LIMIT 1), 0)),"
    " (SELECT count(*) FROM events AS e WHERE e.run_id = r.run_id),"
    " r.lease_owner, r.lease_expires"
)
GET_RUN = f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.run_id = ?"
LIST_RUNS = f"SELECT {RUN_COLUMNS} FROM runs AS r ORDER BY r.created_at DESC LIMIT ?"
# The approval events of the runs that wait: picked by their encoded prefix, so the rest of
# each journal is neither decoded nor returned.
WAITING_APPROVALS = (
    "SELECT e.data FROM runs AS r JOIN events AS e ON e.run_id = r.run_id"
    " WHERE r.status = 'waiting' AND substr(e.data, 1, ?) = ? ORDER BY e.run_id, e.seq"
)
# The sums of the events that count in a run's usage, picked by their encoded prefix, for the
# runs of `{marks}` (a list of placeholders).
RUN_USAGE = (
    "SELECT run_id, total(json_extract(CAST(data AS TEXT), '$.input_tokens')),"
    " total(json_extract(CAST(data AS TEXT), '$.output_tokens')),"
    " total(json_extract(CAST(data AS TEXT), '$.cost_usd')) FROM events"
    " WHERE run_id IN ({marks}) AND (substr(data, 1, ?) = ? OR substr(data, 1, ?) = ?)"
    " GROUP BY run_id"
)
OUTCOME_COLUMNS = (
    "kind, agent, runs, successes, checked, checks_passed, cost_usd, cost_runs, latency_s,"
    " updated_at"
)
# Unqualified names in DO UPDATE are the stored row's: each pair's sums grow in place.
ADD_OUTCOMES = (
    f"INSERT INTO outcomes ({OUTCOME_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kind, agent) DO UPDATE SET runs = runs + excluded.runs,"
    " successes = successes + excluded.successes, checked = checked + excluded.checked,"
    " checks_passed = checks_passed + excluded.checks_passed,"
    " cost_usd = cost_usd + excluded.cost_usd, cost_runs = cost_runs + excluded.cost_runs,"
    " latency_s = latency_s + excluded.latency_s,"
    " updated_at = max(updated_at, excluded.updated_at)"
)
OUTCOME_STATS = f"SELECT {OUTCOME_COLUMNS} FROM outcomes{{where}} ORDER BY kind, agent"
