"""What the SQL tools share across databases: limits, typed results, JSON-safe values, the
checks on a request before it reaches a database, and the allow-list of tables."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podium.exceptions import AccessRefused, ConfigError, ToolError

JSON = Any
Scalar = str | int | float | bool | None
Params = Sequence[Scalar] | Mapping[str, Scalar] | None

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
MAX_NESTING = 32  # of a JSON or array cell


class SQLError(ToolError):
    """A statement the SQL tools refuse, or one the database could not run; the message says
    which and why, and goes back to the model."""


class SQLRefused(SQLError, AccessRefused):
    """A statement that reaches outside the tool's scope: a table not on its list, a write
    through a read-only tool, a forbidden function or command. `target` names what it
    reached; the run journals it (`AccessDenied`, access ``sql``)."""

    def __init__(self, message: str, *, target: str) -> None:
        super().__init__(message, access="sql", target=target)


@dataclass(frozen=True, slots=True, kw_only=True)
class SQLLimits:
    """How much one call may ask of the database and return."""

    max_rows: int = 100
    timeout_s: float = 5.0
    max_result_bytes: int = 256_000
    max_cell_chars: int = 4_000
    max_sql_chars: int = 20_000
    max_params: int = 100
    max_param_bytes: int = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """A result column: its name and its type (the database's name for it)."""

    name: str
    type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryResult:
    """The rows of a query, JSON-safe: decimals as text, dates and times in ISO 8601, bytes as
    ``{"base64": …, "bytes": n}``. `truncated` says rows (or long cells) were left out."""

    columns: list[Column]
    rows: list[list[JSON]]
    row_count: int
    truncated: bool
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteResult:
    """What a write did: rows affected, and whether this call only replayed an earlier one
    with the same idempotency key (then nothing was applied again)."""

    rows_affected: int
    replayed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TableColumn:
    """One column of an allowed table."""

    name: str
    type: str
    nullable: bool
    primary_key: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """An allowed table (or view) and its columns; `exists` is false when it is missing."""

    name: str
    exists: bool
    columns: list[TableColumn]


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """The allowed tables of a database, and how to write a query for it."""

    dialect: str
    placeholders: str
    tables: list[Table]


class Backend(Protocol):
    """One database behind the SQL tools."""

    dialect: str
    placeholders: str

    def query(self, sql: str, params: Params) -> QueryResult: ...

    def write(self, sql: str, params: Params, key: str) -> WriteResult: ...

    def describe(self) -> Schema: ...


def check_identifier(name: str, what: str) -> str:
    """`name` if it is a plain SQL identifier (letters, digits, ``_``, ``$``), else
    `ConfigError`: names from options are quoted into the tools' own statements."""
    if not IDENTIFIER.match(name):
        raise ConfigError(f"{what} {name!r} is not a plain SQL name (letters, digits, _)")
    return name


def check_request(sql: str, params: Params, limits: SQLLimits) -> None:
    """Refuse an empty or oversized statement and parameters that are not a flat list or
    mapping of scalars within the limits."""
    if not sql.strip():
        raise SQLError("the SQL statement is empty")
    if len(sql) > limits.max_sql_chars:
        raise SQLError(f"the SQL statement is longer than {limits.max_sql_chars} characters")
    if params is None:
        return
    values = list(params.values()) if isinstance(params, Mapping) else list(params)
    if len(values) > limits.max_params:
        raise SQLError(f"more than {limits.max_params} parameters")
    size = 0
    for value in values:
        if not isinstance(value, Scalar):
            raise SQLError("parameters must be strings, numbers, booleans or null")
        size += len(value.encode()) if isinstance(value, str) else 8
    if size > limits.max_param_bytes:
        raise SQLError(f"the parameters are larger than {limits.max_param_bytes} bytes")


def json_cell(value: Any, limits: SQLLimits, depth: int = 0) -> tuple[JSON, bool]:
    """A database value as JSON, and whether it was cut to `limits.max_cell_chars`."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        blob = base64.b64encode(raw[: limits.max_cell_chars]).decode()
        return {"base64": blob, "bytes": len(raw)}, len(raw) > limits.max_cell_chars
    if isinstance(value, list | tuple | dict) and depth < MAX_NESTING:
        return _json_container(value, limits, depth)
    if value is None or isinstance(value, bool | int):
        return value, False
    if isinstance(value, float) and math.isfinite(value):
        return value, False
    if isinstance(value, dt.date | dt.time | dt.timedelta):  # a datetime is a date
        return _iso(value), False
    # text; and decimals, UUIDs, intervals, infinities and anything else as their text
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limits.max_cell_chars
    return (text[: limits.max_cell_chars] + "…" if cut else text), cut


def _iso(value: dt.date | dt.time | dt.timedelta) -> str:
    """A date, time or interval in ISO 8601 (an interval as ``P1DT3600S``, ``-P0DT1.5S``)."""
    if not isinstance(value, dt.timedelta):
        return value.isoformat()
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    seconds = value.seconds + value.microseconds / 1_000_000
    return f"{sign}P{value.days}DT{seconds:g}S"


def _json_container(value: Any, limits: SQLLimits, depth: int) -> tuple[JSON, bool]:
    cut = False
    if isinstance(value, dict):
        out: dict[str, JSON] = {}
        for k, v in value.items():
            out[str(k)], c = json_cell(v, limits, depth + 1)
            cut = cut or c
        return out, cut
    items = []
    for v in value:
        item, c = json_cell(v, limits, depth + 1)
        items.append(item)
        cut = cut or c
    return items, cut


class Rows:
    """Collects result rows up to the row and byte limits."""

    def __init__(self, limits: SQLLimits) -> None:
        self.limits = limits
        self.rows: list[list[JSON]] = []
        self.bytes = 0
        self.truncated = False
        self.cut_cells = False
        self.note: str | None = None

    def add(self, row: Sequence[Any]) -> bool:
        """Add `row`; False (and `truncated`) once a limit is reached: stop fetching."""
        if len(self.rows) >= self.limits.max_rows:
            self.truncated = True
            self.note = f"only the first {self.limits.max_rows} rows (the row limit)"
            return False
        cells = [json_cell(v, self.limits) for v in row]
        converted = [c for c, _ in cells]
        size = len(json.dumps(converted, ensure_ascii=False, default=str))
        if self.bytes + size > self.limits.max_result_bytes:
            self.truncated = True
            self.note = f"only {len(self.rows)} rows fit in {self.limits.max_result_bytes} bytes"
            return False
        self.bytes += size
        self.cut_cells = self.cut_cells or any(c for _, c in cells)
        self.rows.append(converted)
        return True

    def result(self, columns: list[Column]) -> QueryResult:
        """The collected rows as a `QueryResult`."""
        note = self.note
        if self.cut_cells:
            cells = f"values longer than {self.limits.max_cell_chars} characters were cut"
            note = f"{note}; {cells}" if note else cells
        return QueryResult(
            columns=columns,
            rows=self.rows,
            row_count=len(self.rows),
            truncated=self.truncated or self.cut_cells,
            note=note,
        )


__all__ = [
    "IDENTIFIER",
    "Backend",
    "Column",
    "Params",
    "QueryResult",
    "Rows",
    "SQLError",
    "SQLLimits",
    "SQLRefused",
    "Scalar",
    "Schema",
    "Table",
    "TableColumn",
    "WriteResult",
    "check_identifier",
    "check_request",
    "json_cell",
]
