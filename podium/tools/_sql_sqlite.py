"""The SQL tools on SQLite: a read-only connection, an authorizer that admits only the listed
tables, a progress handler for the time limit, and writes recorded under their idempotency key
in the same transaction.

The authorizer is SQLite's own check of every table and column a statement touches, at prepare
time, through views, subqueries, CTEs and triggers alike; it is consulted for *what* the
statement does (read, insert, attach, pragma …), so anything not explicitly admitted is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

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
T = TypeVar("T")

DENIED_FUNCTIONS = frozenset({"load_extension"})
_WRITES = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}
_ACTIONS = {
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_PRAGMA: "PRAGMA",
    sqlite3.SQLITE_INSERT: "INSERT",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_TRANSACTION: "a transaction statement",
}
_TYPES = {int: "integer", float: "real", str: "text", bytes: "blob", type(None): "null"}


class _Authorizer:
    """SQLite's authorizer callback: admits reads (and, for the write tool, writes) of the
    listed tables in the main database, and nothing else. Remembers the first refusal."""

    def __init__(self, tables: frozenset[str], stored: frozenset[str], *, writes: bool) -> None:
        self.tables = tables
        self.stored = stored
        self.writes = writes
        self.denied: str | None = None
        self.target = ""  # what the first refusal was of: a table, a function, a command
        self.wrote = False

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, _: Any
    ) -> int:
        reason = self._decide(action, arg1, arg2, db)
        if reason is None:
            return sqlite3.SQLITE_OK
        if self.denied is None:
            self.denied = reason
            if action == sqlite3.SQLITE_FUNCTION:
                self.target = arg2 or ""
            elif action == sqlite3.SQLITE_READ or (action in _WRITES and self.writes):
                self.target = arg1 or ""
            else:
                self.target = _ACTIONS.get(action, "statement")
        return sqlite3.SQLITE_DENY

    def _decide(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None
    ) -> str | None:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return None
        if action == sqlite3.SQLITE_FUNCTION:
            denied = (arg2 or "").casefold() in DENIED_FUNCTIONS
            return f"the function {arg2!r} is not allowed" if denied else None
        if action == sqlite3.SQLITE_READ:
            return self._table(arg1, db)
        if action in _WRITES and self.writes:
            self.wrote = True
            return self._table(arg1, db)
        what = _ACTIONS.get(action, "this kind of statement")
        return f"{what} is not allowed" + ("" if self.writes else " (this tool only reads)")

    def _table(self, name: str | None, db: str | None) -> str | None:
        if name is not None and db in ("main", None) and name.casefold() in self.tables:
            return None
        # SQLite names no database for a CTE; one named like a stored table is refused too
        stored = name is None or name.casefold() in self.stored or name.startswith("sqlite_")
        if db is None and not stored:
            return None
        listed = ", ".join(sorted(self.tables))
        return f"the table {name!r} is not one of this tool's tables ({listed})"


class _Deadline:
    """SQLite's progress handler: stops the statement once the time limit has passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.fired = False

    def __call__(self) -> int:
        if time.monotonic() > self.at:
            self.fired = True
            return 1
        return 0


class SQLiteBackend:
    """The SQL tools' backend for one SQLite file (which must already exist)."""

    dialect = "sqlite"
    placeholders = "? (positional, params as a list) or :name (params as an object)"

    def __init__(
        self, path: str, tables: Sequence[str], limits: SQLLimits, effects_table: str
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.tables = frozenset(t.casefold() for t in tables)
        self.names = sorted(tables)
        self.limits = limits
        self.effects = effects_table

    def _connect(self, mode: str) -> sqlite3.Connection:
        if not self.path.is_file():
            raise SQLError(f"there is no SQLite database at {str(self.path)!r}")
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode={mode}"
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=self.limits.timeout_s, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise SQLError(f"cannot open the SQLite database: {exc}") from None
        longest = max(1_000_000, 4 * self.limits.max_result_bytes)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, longest)  # no gigabyte strings or blobs
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.execute("PRAGMA trusted_schema = OFF")
        if mode == "ro":
            conn.execute("PRAGMA query_only = ON")
        return conn

    def _authorizer(self, conn: sqlite3.Connection, *, writes: bool) -> _Authorizer:
        names = conn.execute("SELECT name FROM sqlite_schema").fetchall()
        stored = frozenset(str(n[0]).casefold() for n in names)
        return _Authorizer(self.tables, stored, writes=writes)

    def _run(self, conn: sqlite3.Connection, auth: _Authorizer, work: Callable[[], T]) -> T:
        """`work()` under the authorizer and the time limit, with errors translated."""
        deadline = _Deadline(self.limits.timeout_s)
        conn.set_authorizer(auth)
        conn.set_progress_handler(deadline, 1000)
        try:
            return work()
        except sqlite3.Error as exc:
            raise _translate(exc, auth, deadline) from None
        except OverflowError:
            raise SQLError("a parameter is too large for SQLite (integers are 64-bit)") from None
        finally:
            conn.set_authorizer(None)
            conn.set_progress_handler(None, 0)

    def query(self, sql: str, params: Params) -> QueryResult:
        """Run one read-only statement and return its rows up to the limits."""
        conn = self._connect("ro")
        try:
            auth = self._authorizer(conn, writes=False)
            return self._run(conn, auth, lambda: self._fetch(conn, sql, params))
        finally:
            conn.close()

    def _fetch(self, conn: sqlite3.Connection, sql: str, params: Params) -> QueryResult:
        cursor = conn.execute(sql, params or ())
        if cursor.description is None:
            raise SQLError("the statement returned no rows: this tool runs queries (SELECT)")
        names = [d[0] for d in cursor.description]
        types: list[str | None] = [None] * len(names)
        rows = Rows(self.limits)
        while batch := cursor.fetchmany(min(self.limits.max_rows + 1, 200)):
            for row in batch:
                types = [
                    t or (_TYPES.get(type(v)) if v is not None else None)
                    for t, v in zip(types, row, strict=True)
                ]
                if not rows.add(row):
                    return rows.result(_columns(names, types))
        return rows.result(_columns(names, types))

    def write(self, sql: str, params: Params, key: str) -> WriteResult:
        """Run one INSERT, UPDATE or DELETE in a transaction that also records `key`; a key
        already recorded returns the recorded count and applies nothing."""
        conn = self._connect("rw")
        try:
            # IMMEDIATE takes the write lock now: no other writer between the check of the key
            # and its record
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._write(conn, sql, params, key)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise SQLError(f"the write failed: {exc}") from None
        finally:
            conn.close()
        return result

    def _write(self, conn: sqlite3.Connection, sql: str, params: Params, key: str) -> WriteResult:
        effects = f'"{self.effects}"'
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {effects}"
            " (key TEXT PRIMARY KEY, rows_affected INTEGER NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = conn.execute(f"SELECT rows_affected FROM {effects} WHERE key = ?", (key,)).fetchone()
        if done is not None:
            logger.info("sql_write %s already applied: not applied again", key)
            return WriteResult(rows_affected=done[0], replayed=True)
        auth = self._authorizer(conn, writes=True)
        cursor = self._run(conn, auth, lambda: conn.execute(sql, params or ()))
        if not auth.wrote:
            raise SQLError("this tool runs INSERT, UPDATE or DELETE; read with the query tool")
        if cursor.description is not None:
            raise SQLError("RETURNING is not supported: the tool returns the affected row count")
        count = cursor.rowcount
        now = dt.datetime.now(dt.UTC).isoformat()
        conn.execute(f"INSERT INTO {effects} VALUES (?, ?, ?)", (key, count, now))
        return WriteResult(rows_affected=count)

    def describe(self) -> Schema:
        """The columns of each allowed table, read with ``PRAGMA table_info``."""
        conn = self._connect("ro")
        try:
            tables = [self._table(conn, name) for name in self.names]
        finally:
            conn.close()
        return Schema(dialect=self.dialect, placeholders=self.placeholders, tables=tables)

    def _table(self, conn: sqlite3.Connection, name: str) -> Table:
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = [
            TableColumn(
                name=c[1],
                type=c[2] or "any",
                nullable=not c[3] and not c[5],
                primary_key=bool(c[5]),
            )
            for c in info
        ]
        return Table(name=name, exists=bool(info), columns=columns)


def _columns(names: list[str], types: list[str | None]) -> list[Column]:
    return [Column(name=n, type=t or "null") for n, t in zip(names, types, strict=True)]


def _translate(exc: sqlite3.Error, auth: _Authorizer, deadline: _Deadline) -> SQLError:
    if deadline.fired:
        return SQLError(
            f"the statement ran past the time limit of {deadline.seconds:g}s and was stopped"
        )
    if auth.denied is not None:
        return SQLRefused(f"refused: {auth.denied}", target=auth.target)
    text = str(exc)
    if "one statement at a time" in text:
        return SQLError("refused: one statement at a time (no ';' between statements)")
    if "readonly" in text:
        return SQLRefused("refused: this tool only reads", target="write")
    return SQLError(f"the database said: {text}")


__all__ = ["DENIED_FUNCTIONS", "SQLiteBackend"]
