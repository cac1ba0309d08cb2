"""The SQL of the Postgres store: its schema and statements."""

from __future__ import annotations

from typing import LiteralString

SCHEMA: tuple[LiteralString, ...] = (
    # Serialises schema creation: two processes racing on CREATE TABLE IF NOT EXISTS can both
    # miss the table and one then fails on the catalog's unique index.
    "SELECT pg_advisory_xact_lock(hashtext('podium.store.schema'))",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        events INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at)",
    """CREATE TABLE IF NOT EXISTS events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (run_id, seq)
    )""",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_owner TEXT",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_token BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_expires DOUBLE PRECISION",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS cancel_reason TEXT",
    """CREATE TABLE IF NOT EXISTS outcomes (
        kind TEXT NOT NULL,
        agent TEXT NOT NULL,
        runs BIGINT NOT NULL,
        successes BIGINT NOT NULL,
        checked BIGINT NOT NULL,
        checks_passed BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        cost_runs BIGINT NOT NULL,
        latency_s DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (kind, agent)
    )""",
)

CREATE_RUN: LiteralString = """
WITH run AS (
    INSERT INTO runs (run_id, status, name, created_at, updated_at, events, lease_owner,
        lease_token, lease_expires)
    VALUES (%(run_id)s, 'running', %(name)s, %(ts)s, %(ts)s, 1, %(owner)s::text,
        CASE WHEN %(owner)s::text IS NULL THEN 0 ELSE 1 END,
        CASE WHEN %(owner)s::text IS NULL THEN NULL
            ELSE extract(epoch FROM clock_timestamp()) + %(lease_s)s END)
    ON CONFLICT (run_id) DO NOTHING
    RETURNING run_id
)
INSERT INTO events (run_id, seq, data) SELECT run_id, %(seq)s, %(data)s FROM run
"""
# A lone append (the common case of a run driven alone) as one statement of scalars: cheaper
# to send than the batch statement's arrays. Its INSERT reads the UPDATE's RETURNING, so an
# unknown run, or an append its lease does not allow, inserts nothing (rowcount 0); a taken seq
# fails it with a unique violation.
APPEND: LiteralString = """
WITH run AS (
    UPDATE runs SET status = coalesce(%(status)s, status), updated_at = %(now)s,
        events = events + %(n)s,
        lease_owner = CASE WHEN %(release)s THEN NULL ELSE lease_owner END,
        lease_expires = CASE WHEN %(release)s THEN NULL ELSE lease_expires END,
        cancel_reason = CASE WHEN %(final)s THEN NULL ELSE cancel_reason END
    WHERE run_id = %(run_id)s AND CASE WHEN %(fence)s::bigint IS NULL
        THEN lease_owner IS NULL OR lease_expires < extract(epoch FROM clock_timestamp())
        ELSE lease_owner IS NOT NULL AND lease_token = %(fence)s::bigint END
    RETURNING run_id
)
INSERT INTO events (run_id, seq, data)
SELECT run.run_id, e.seq, e.data
FROM run, unnest(%(seqs)s::integer[], %(datas)s::bytea[]) AS e (seq, data)
"""
# Many runs created in one statement (distinct run ids; the batch's rows inserted in run-id
# order, so two batches that share runs cannot deadlock). It returns the runs it created.
CREATE_RUNS: LiteralString = """
WITH batch AS (
    SELECT * FROM unnest(%(run_id)b::text[], %(name)b::text[], %(ts)b::float8[],
        %(owner)b::text[], %(lease_s)b::float8[], %(seq)b::integer[], %(data)b::bytea[])
        AS b (run_id, name, ts, owner, lease_s, seq, data)
),
run AS (
    INSERT INTO runs (run_id, status, name, created_at, updated_at, events, lease_owner,
        lease_token, lease_expires)
    SELECT run_id, 'running', name, ts, ts, 1, owner, CASE WHEN owner IS NULL THEN 0 ELSE 1 END,
        CASE WHEN owner IS NULL THEN NULL
            ELSE extract(epoch FROM clock_timestamp()) + lease_s END
    FROM batch ORDER BY run_id
    ON CONFLICT (run_id) DO NOTHING
    RETURNING run_id
),
written AS (
    INSERT INTO events (run_id, seq, data)
    SELECT b.run_id, b.seq, b.data FROM batch AS b JOIN run ON run.run_id = b.run_id
)
SELECT run_id FROM run
"""
# One statement appends a whole batch (at most one append per run): each run's row is updated
# only where its append may land (its fence holds, none of its seqs is taken or repeated), and
# the events of exactly those appends are inserted, as one transaction. The statement returns,
# by the append's index in the batch, those that landed (true) and those whose seqs were taken
# (false); the store asks why the others were refused (`LEASES`). A seq taken by a writer whose
# commit this statement's snapshot does not see still fails it with a unique violation. Its
# parameters are sent in binary (`%b`): arrays dump much faster so.
APPEND_BATCH: LiteralString = """
WITH batch AS (
    SELECT * FROM unnest(%(i)b::integer[], %(run_id)b::text[], %(fence)b::bigint[],
        %(status)b::text[], %(n)b::integer[], %(release)b::boolean[], %(final)b::boolean[],
        %(dup)b::boolean[]) AS b (i, run_id, fence, status, n, release, final, dup)
),
event AS (
    SELECT * FROM unnest(%(e_i)b::integer[], %(e_run)b::text[], %(e_seq)b::integer[],
        %(e_data)b::bytea[]) AS e (i, run_id, seq, data)
),
taken AS (
    SELECT e.i FROM event AS e JOIN events AS x ON x.run_id = e.run_id AND x.seq = e.seq
    UNION SELECT i FROM batch WHERE dup
),
run AS (
    UPDATE runs SET status = coalesce(b.status, runs.status), updated_at = %(now)b,
        events = runs.events + b.n,
        lease_owner = CASE WHEN b.release THEN NULL ELSE runs.lease_owner END,
        lease_expires = CASE WHEN b.release THEN NULL ELSE runs.lease_expires END,
        cancel_reason = CASE WHEN b.final THEN NULL ELSE runs.cancel_reason END
    FROM batch AS b
    WHERE runs.run_id = b.run_id AND b.i NOT IN (SELECT i FROM taken) AND CASE
        WHEN b.fence IS NULL THEN runs.lease_owner IS NULL
            OR runs.lease_expires < extract(epoch FROM clock_timestamp())
        ELSE runs.lease_owner IS NOT NULL AND runs.lease_token = b.fence END
    RETURNING b.i
),
written AS (
    INSERT INTO events (run_id, seq, data)
    SELECT e.run_id, e.seq, e.data FROM event AS e JOIN run ON run.i = e.i
)
SELECT i, true FROM run UNION ALL SELECT i, false FROM taken
"""
TOUCH_RUN: LiteralString = "UPDATE runs SET updated_at = %s WHERE run_id = %s"
LEASE: LiteralString = (
    "SELECT lease_owner, lease_token, lease_expires, extract(epoch FROM clock_timestamp())"
    " FROM runs WHERE run_id = %s"
)
ACQUIRE: LiteralString = """
UPDATE runs SET
    lease_token = CASE WHEN lease_owner IS NOT DISTINCT FROM %(owner)s THEN lease_token
        ELSE lease_token + 1 END,
    lease_owner = %(owner)s,
    lease_expires = extract(epoch FROM clock_timestamp()) + %(lease_s)s
WHERE run_id = %(run_id)s AND (lease_owner IS NULL OR lease_owner = %(owner)s
    OR lease_expires IS NULL OR lease_expires < extract(epoch FROM clock_timestamp())
    OR lease_token = %(takeover)s::bigint)
RETURNING lease_token, lease_expires, cancel_reason
"""
RENEW: LiteralString = """
UPDATE runs SET lease_expires = extract(epoch FROM clock_timestamp()) + %(lease_s)s
WHERE run_id = %(run_id)s AND lease_token = %(token)s AND lease_owner IS NOT NULL
RETURNING lease_expires, cancel_reason
"""
RELEASE: LiteralString = (
    "UPDATE runs SET lease_owner = NULL, lease_expires = NULL"
    " WHERE run_id = %s AND lease_token = %s"
)
REQUEST_CANCEL: LiteralString = "UPDATE runs SET cancel_reason = %s WHERE run_id = %s"
LANDED: LiteralString = (
    "SELECT e.run_id, e.seq, e.data FROM events AS e"
    " JOIN unnest(%s::text[], %s::integer[]) AS k (run_id, seq)"
    " ON e.run_id = k.run_id AND e.seq = k.seq"
)
LEASES: LiteralString = (
    "SELECT run_id, lease_owner, lease_token, lease_expires,"
    " extract(epoch FROM clock_timestamp()) FROM runs WHERE run_id = ANY(%s)"
)
LOAD: LiteralString = "SELECT data FROM events WHERE run_id = %s AND seq > %s ORDER BY seq"
RUN_EXISTS: LiteralString = "SELECT 1 FROM runs WHERE run_id = %s"
RUN_COLUMNS: LiteralString = (
    "run_id, status, name, created_at, updated_at, events, lease_owner, lease_expires"
)
GET_RUN: LiteralString = "SELECT " + RUN_COLUMNS + " FROM runs WHERE run_id = %s"
LIST_RUNS: LiteralString = "SELECT " + RUN_COLUMNS + " FROM runs ORDER BY created_at DESC LIMIT %s"
# The approval events of the runs that wait: picked by their encoded prefix, so the rest of
# each journal is neither decoded nor sent.
WAITING_APPROVALS: LiteralString = (
    "SELECT e.data FROM runs AS r JOIN events AS e ON e.run_id = r.run_id"
    " WHERE r.status = 'waiting' AND substring(e.data FROM 1 FOR %(n)s) = %(prefix)s"
    " ORDER BY e.run_id, e.seq"
)
# The sums of the events that count in a run's usage, picked by their encoded prefix.
RUN_USAGE: LiteralString = (
    "SELECT run_id, sum((j->>'input_tokens')::bigint), sum((j->>'output_tokens')::bigint),"
    " sum((j->>'cost_usd')::double precision) FROM ("
    " SELECT run_id, convert_from(data, 'UTF8')::jsonb AS j FROM events"
    " WHERE run_id = ANY(%(ids)s) AND (substring(data FROM 1 FOR %(n1)s) = %(p1)s"
    " OR substring(data FROM 1 FOR %(n2)s) = %(p2)s)) AS used GROUP BY run_id"
)
# One statement for a whole batch (its pairs are distinct: summed before), each pair's sums
# growing in place; concurrent writers serialise on the pair's row.
ADD_OUTCOMES: LiteralString = """
INSERT INTO outcomes (kind, agent, runs, successes, checked, checks_passed, cost_usd, cost_runs,
    latency_s, updated_at)
SELECT * FROM unnest(%(kind)s::text[], %(agent)s::text[], %(runs)s::bigint[],
    %(successes)s::bigint[], %(checked)s::bigint[], %(checks_passed)s::bigint[],
    %(cost_usd)s::float8[], %(cost_runs)s::bigint[], %(latency_s)s::float8[],
    %(updated_at)s::float8[])
ON CONFLICT (kind, agent) DO UPDATE SET
    runs = outcomes.runs + excluded.runs,
    successes = outcomes.successes + excluded.successes,
    checked = outcomes.checked + excluded.checked,
    checks_passed = outcomes.checks_passed + excluded.checks_passed,
    cost_usd = outcomes.cost_usd + excluded.cost_usd,
    cost_runs = outcomes.cost_runs + excluded.cost_runs,
    latency_s = outcomes.latency_s + excluded.latency_s,
    updated_at = greatest(outcomes.updated_at, excluded.updated_at)
"""
OUTCOME_STATS: LiteralString = """
SELECT kind, agent, runs, successes, checked, checks_passed, cost_usd, cost_runs, latency_s,
    updated_at
FROM outcomes WHERE %(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[])
ORDER BY kind, agent
"""

OUTCOME_FIELDS = (
    "kind",
    "agent",
    "runs",
    "successes",
    "checked",
    "checks_passed",
    "cost_usd",
    "cost_runs",
    "latency_s",
    "updated_at",
)
