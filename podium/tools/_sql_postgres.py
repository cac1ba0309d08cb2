"""The SQL tools on Postgres (psycopg 3, the ``postgres`` extra), imported only when a tool is
set up with a ``postgresql://`` URL.

Four checks, the first three enforced by the server:

1. Reads run in a ``READ ONLY`` transaction on a session whose
   ``default_transaction_read_only`` is on, so no write, DDL or ``setval`` can happen whatever
   the statement is; every statement has a ``statement_timeout``.
2. Statements always go by the extended protocol (``$1`` parameters, bound, never spliced),
   which refuses more than one statement: ``SELECT 1; DROP TABLE t`` is a syntax error.
3. Rows are read through a server-side cursor (``DECLARE … CURSOR``, which takes only a
   query), a bounded number at a time: a cross join of millions of rows sends no more than the
   limit.
4. Before it runs, the statement is planned with ``EXPLAIN (VERBOSE, FORMAT JSON)``: every
   relation the plan touches (through views, subqueries, CTEs, sub-plans) must be in the list,
   a read must not modify anything and a write must, and no expression may call a function that
   runs SQL text or reaches beyond the tables (``query_to_xml``, ``pg_read_file``,
   ``set_config``, ``dblink`` …; see `DENIED_FUNCTIONS`).

The plan check cannot see inside the bodies of functions (a PL/pgSQL function that reads
another table), so the tool refuses to run as a superuser unless told to: connect as a role
that may only read (or write) the listed tables, and the database enforces what the plan check
cannot.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import psycopg.errors

from podium.tools._sql_common import (
    Column,
    Params,
    QueryResult,
    Rows,
    Schema,
    SQLError,
    SQLLimits,
    SQLRefused,
    Table,
    TableColumn,
    WriteResult,
)

logger = logging.getLogger(__name__)

DENIED_PREFIXES = (
    "pg_read", "pg_ls_", "pg_stat_file", "pg_terminate", "pg_cancel", "pg_reload", "pg_rotate",
    "pg_switch", "pg_create", "pg_drop", "pg_advisory", "pg_try_advisory", "pg_notify",
    "pg_logical", "pg_replication", "pg_promote", "pg_backup", "pg_start", "pg_stop", "pg_file",
    "pg_import", "pg_log_", "pg_signal", "lo_", "dblink", "query_to_", "cursor_to_",
    "table_to_", "schema_to_", "database_to_", "set_config", "current_setting", "setval",
    "txid_", "pg_current_", "pg_export",
)  # fmt: skip
"""Function names (prefixes) a statement may not call: they run SQL given as text, read
files or settings, signal other sessions, or change server state."""
# a name followed by "(": possessive, so a long run of letters costs linear time, not quadratic
_CALL = re.compile(r'(?<![\w$])"?([A-Za-z_][\w$]*+)"?\s*+\(')
_QUERY_CURSOR = "podium_sql_query"
_COLUMNS = """
SELECT c.column_name, c.data_type, c.is_nullable = 'YES', EXISTS (
    SELECT 1 FROM information_schema.key_column_usage k
    JOIN information_schema.table_constraints t USING (constraint_schema, constraint_name)
    WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema
    AND k.table_name = c.table_name AND k.column_name = c.column_name)
FROM information_schema.columns c WHERE c.table_schema = $1 AND c.table_name = $2
ORDER BY c.ordinal_position
"""


class PostgresBackend:
    """The SQL tools' backend for one Postgres database and schema."""

    dialect = "postgres"
    placeholders = "$1, $2, … (params as a list)"

    def __init__(
        self,
        url: str,
        tables: Sequence[str],
        schema: str,
        limits: SQLLimits,
        *,
        allow_superuser: bool,
        effects_table: str,
    ) -> None:
        self.url = url
        self.schema = schema
        self.allowed = frozenset(_qualified(t, schema) for t in tables)
        self.limits = limits
        self.allow_superuser = allow_superuser
        self.effects = f'"{schema}"."{effects_table}"'
        self._effects_ready = False

    def _connect(self, *, read_only: bool) -> psycopg.Connection[Any]:
        timeout_ms = max(1, math.ceil(self.limits.timeout_s * 1000))
        options = f"-c statement_timeout={timeout_ms} -c search_path={self.schema}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        try:
            conn = psycopg.connect(
                self.url,
                connect_timeout=max(2, math.ceil(self.limits.timeout_s)),
                options=options,
            )
        except psycopg.Error as exc:
            raise SQLError(f"cannot connect to the database: {_first_line(exc)}") from None
        conn.read_only = read_only
        if conn.info.parameter_status("is_superuser") == "on" and not self.allow_superuser:
            conn.close()
            raise SQLError(
                "refused: the tool is connected as a superuser, whom no table list can hold;"
                " connect as a role that may only use the listed tables (or set"
                " allow_superuser: true for a trusted database)"
            )
        return conn

    def query(self, sql: str, params: Params) -> QueryResult:
        """Check the plan, then read the rows up to the limits through a server cursor."""
        values = _positional(params)
        with self._connect(read_only=True) as conn, _translated(self.limits):
            self._check(conn, sql, values, write=False)
            rows = Rows(self.limits)
            with psycopg.RawServerCursor(conn, _QUERY_CURSOR) as cursor:
                cursor.execute(sql, values)
                columns = [
                    Column(name=d.name, type=_type_name(conn, d.type_code))
                    for d in cursor.description or ()
                ]
                while batch := cursor.fetchmany(min(self.limits.max_rows + 1, 200)):
                    if not all(rows.add(row) for row in batch):
                        break
            conn.rollback()
            return rows.result(columns)

    def write(self, sql: str, params: Params, key: str) -> WriteResult:
        """Check the plan, then run the write and record `key` in one transaction; a key
        already recorded (or being recorded by a concurrent retry, which this call waits for)
        returns the recorded count and applies nothing."""
        values = _positional(params)
        if not self._effects_ready:
            self._create_effects_table()
        with self._connect(read_only=False) as conn, _translated(self.limits):
            self._check(conn, sql, values, write=True)
            cursor = psycopg.RawCursor(conn)
            cursor.execute(
                f"INSERT INTO {self.effects} (key, rows_affected) VALUES ($1, -1)"
                " ON CONFLICT (key) DO NOTHING",
                [key],
            )
            if cursor.rowcount == 0:
                done = cursor.execute(
                    f"SELECT rows_affected FROM {self.effects} WHERE key = $1", [key]
                ).fetchone()
                conn.rollback()
                logger.info("sql_write %s already applied: not applied again", key)
                return WriteResult(rows_affected=int(done[0]) if done else 0, replayed=True)
            cursor.execute(sql, values, binary=True)  # binary: the extended protocol, always
            if cursor.description is not None:
                raise SQLError(
                    "RETURNING is not supported: the tool returns the affected row count"
                )
            count = cursor.rowcount
            cursor.execute(
                f"UPDATE {self.effects} SET rows_affected = $2 WHERE key = $1", [key, count]
            )
            conn.commit()
            return WriteResult(rows_affected=count)

    def _create_effects_table(self) -> None:
        with self._connect(read_only=False) as conn, _translated(self.limits):
            # IF NOT EXISTS races in Postgres (two creators both pass the check, the second
            # fails on the table's row type): creators queue on a lock named after the table
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.effects])
            try:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.effects} (key text PRIMARY KEY,"
                    " rows_affected bigint NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                conn.commit()
            except (
                psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateTable,
                psycopg.errors.DuplicateObject,
            ):
                conn.rollback()  # made meanwhile by a creator that does not take the lock
        self._effects_ready = True

    def _check(
        self, conn: psycopg.Connection[Any], sql: str, values: list[Any], *, write: bool
    ) -> None:
        """Plan the statement (without running it) and refuse what it must not touch."""
        cursor = psycopg.RawCursor(conn)
        cursor.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + sql, values, binary=True)
        row = cursor.fetchone()
        plan = row[0] if row else []
        relations: set[tuple[str, str]] = set()
        calls: set[str] = set()
        modifies = False
        for node in _nodes(plan):
            if "Relation Name" in node:
                relations.add((node.get("Schema", self.schema), node["Relation Name"]))
            modifies = modifies or node.get("Node Type") == "ModifyTable"
            calls.update(_calls(node))
        outside = sorted(f"{s}.{t}" for s, t in relations - self.allowed)
        if outside:
            listed = ", ".join(sorted(f"{s}.{t}" for s, t in self.allowed))
            raise SQLRefused(
                f"refused: the statement uses {', '.join(outside)}, which is not one of this"
                f" tool's tables ({listed})",
                target=", ".join(outside),
            )
        denied = sorted(c for c in calls if c.lower().startswith(DENIED_PREFIXES))
        if denied:
            raise SQLRefused(
                f"refused: the function {denied[0]!r} is not allowed", target=denied[0]
            )
        if modifies and not write:
            raise SQLRefused("refused: this tool only reads", target="write")
        if write and not modifies:
            raise SQLError("this tool runs INSERT, UPDATE or DELETE; read with the query tool")

    def describe(self) -> Schema:
        """The columns of each allowed table, from ``information_schema``."""
        tables = []
        with self._connect(read_only=True) as conn, _translated(self.limits):
            cursor = psycopg.RawCursor(conn)
            for schema, name in sorted(self.allowed):
                cursor.execute(
                    _COLUMNS,
                    [schema, name],
                )
                columns = [
                    TableColumn(name=r[0], type=r[1], nullable=bool(r[2]), primary_key=bool(r[3]))
                    for r in cursor.fetchall()
                ]
                shown = name if schema == self.schema else f"{schema}.{name}"
                tables.append(Table(name=shown, exists=bool(columns), columns=columns))
            conn.rollback()
        return Schema(dialect=self.dialect, placeholders=self.placeholders, tables=tables)


def _qualified(table: str, schema: str) -> tuple[str, str]:
    first, _, second = table.partition(".")
    return (first, second) if second else (schema, first)


def _positional(params: Params) -> list[Any]:
    if params is None:
        return []
    if isinstance(params, dict):
        raise SQLError("Postgres takes params as a list, for $1, $2, … in the statement")
    return list(params)


def _nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, sub-plans and CTEs included."""
    stack = [plan]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)


def _calls(node: dict[str, Any]) -> Iterator[str]:
    """The names called in a plan node's expressions (``Output``, ``Filter``, ``Function
    Call`` …), as the server deparsed them."""
    for value in node.values():
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for text in texts:
            if isinstance(text, str):
                yield from _CALL.findall(text)


def _type_name(conn: psycopg.Connection[Any], oid: int) -> str:
    info = conn.adapters.types.get(oid)
    if info is None:
        return str(oid)
    return f"{info.name}[]" if info.array_oid == oid else info.name


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _translated:
    """Turns psycopg's errors into `SQLError`s that say what happened."""

    def __init__(self, limits: SQLLimits) -> None:
        self.limits = limits

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if not isinstance(exc, psycopg.Error):
            return
        if isinstance(exc, psycopg.errors.QueryCanceled):
            raise SQLError(
                f"the statement ran past the time limit of {self.limits.timeout_s:g}s and was"
                " stopped"
            ) from None
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            raise SQLRefused("refused: this tool only reads", target="write") from None
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):  # the role's own grants
            text = _first_line(exc)
            raise SQLRefused(f"refused: the database said: {text}", target=text) from None
        text = _first_line(exc)
        if "multiple commands" in text:
            raise SQLError("refused: one statement at a time (no ';' between statements)") from None
        raise SQLError(f"the database said: {text}") from None


__all__ = ["DENIED_PREFIXES", "PostgresBackend"]
