"""SQL tools for SQLite and Postgres: read (``sql_query``), write (``sql_write``) and describe
(``sql_schema``) an allow-list of tables.

- ``sql_query`` (effect ``read``) runs one query on a read-only connection and returns typed,
  JSON-safe rows, at most `max_rows` of them and `max_result_bytes` in all, within `timeout_s`.
- ``sql_write`` (effect ``write``) runs one INSERT, UPDATE or DELETE in a transaction that also
  records the call's idempotency key, so a retried call is not applied twice.
- ``sql_schema`` (effect ``read``) lists the allowed tables' columns, so a model can write
  queries.

Values always travel as bound parameters (``params``), never inside the SQL text. Tables
outside the list are refused however they are reached (a subquery, a CTE, a view). SQLite checks
with its authorizer; Postgres with a read-only transaction and a check of the statement's plan
(see `podium.tools._sql_postgres`): give it a role that may only use the listed tables.

In a workflow file::

    tools:
      shop: {use: sql_query, with: {url: "sqlite:///shop.db", tables: [orders, customers]}}
      shop_schema: {use: sql_schema, with: {url: "sqlite:///shop.db", tables: [orders]}}

In Python: `sql_query_tool`, `sql_write_tool`, `sql_schema_tool`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from podium.exceptions import ConfigError
from podium.tools._sql_common import (
    Backend,
    Column,
    QueryResult,
    Scalar,
    Schema,
    SQLError,
    SQLLimits,
    SQLRefused,
    Table,
    TableColumn,
    WriteResult,
    check_identifier,
    check_request,
)
from podium.tools._standard import options
from podium.tools._tool import Tool, ToolContext

Params = list[Scalar] | dict[str, Scalar] | None


class SQLOptions(pydantic.BaseModel):
    """The ``with:`` options of ``sql_query``, ``sql_write`` and ``sql_schema``."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)
    url: str = pydantic.Field(min_length=1)
    tables: list[str] = pydantic.Field(min_length=1)
    max_rows: int = pydantic.Field(default=100, ge=1, le=10_000)
    timeout_s: float = pydantic.Field(default=5.0, gt=0, le=300)
    max_result_bytes: int = pydantic.Field(default=256_000, ge=1_000, le=50_000_000)
    db_schema: str = pydantic.Field(default="public", alias="schema")
    allow_superuser: bool = False
    effects_table: str = "podium_tool_effects"

    def limits(self) -> SQLLimits:
        """The per-call limits these options set."""
        return SQLLimits(
            max_rows=self.max_rows,
            timeout_s=self.timeout_s,
            max_result_bytes=self.max_result_bytes,
        )


def connect(o: SQLOptions, kind: str) -> Backend:
    """The backend for `o.url` (nothing is opened until a call): ``sqlite:///FILE``, a plain
    ``*.db`` path, or ``postgresql://…``."""
    for table in o.tables:
        for part in table.split(".", 1):
            check_identifier(part, f"{kind}: table")
    check_identifier(o.db_schema, f"{kind}: schema")
    check_identifier(o.effects_table, f"{kind}: effects_table")
    if o.effects_table.casefold() in {t.casefold() for t in o.tables}:
        raise ConfigError(f"{kind}: the effects table {o.effects_table!r} cannot be a tool table")
    url = o.url
    if url.startswith(("postgresql://", "postgres://")):
        from podium.tools._sql_postgres import PostgresBackend

        return PostgresBackend(
            url,
            o.tables,
            o.db_schema,
            o.limits(),
            allow_superuser=o.allow_superuser,
            effects_table=o.effects_table,
        )
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        url = path[1:] if path.startswith("/") else path
    elif "://" in url:
        raise ConfigError(
            f"{kind}: unknown database URL {url!r}: use sqlite:///FILE or postgresql://…"
        )
    from podium.tools._sql_sqlite import SQLiteBackend

    if any("." in t for t in o.tables):
        raise ConfigError(f"{kind}: SQLite tables are plain names, not schema.table")
    return SQLiteBackend(url, o.tables, o.limits(), o.effects_table)


def _described(backend: Backend, o: SQLOptions, what: str) -> str:
    tables = ", ".join(o.tables)
    return (
        f"{what} on the {backend.dialect} database (tables: {tables}). One statement;"
        f" put every value in params, never in the SQL text; placeholders:"
        f" {backend.placeholders}."
    )


def _tool_from(o: SQLOptions, kind: str, name: str) -> Tool:
    backend = connect(o, kind)
    limits = o.limits()

    if kind == "sql_write":

        def sql_write(sql: str, ctx: ToolContext, params: Params = None) -> WriteResult:
            check_request(sql, params, limits)
            return backend.write(sql, params, ctx.idempotency_key)

        what = "Run one INSERT, UPDATE or DELETE and return the affected row count"
        return Tool.from_function(
            sql_write, name=name, effect="write", description=_described(backend, o, what)
        )
    if kind == "sql_schema":

        def sql_schema() -> Schema:
            return backend.describe()

        what = "Describe the tables (columns, types, keys) and the SQL dialect"
        return Tool.from_function(sql_schema, name=name, description=_described(backend, o, what))

    def sql_query(sql: str, params: Params = None) -> QueryResult:
        check_request(sql, params, limits)
        return backend.query(sql, params)

    what = f"Run one read-only SQL query; returns columns and up to {o.max_rows} rows"
    return Tool.from_function(sql_query, name=name, description=_described(backend, o, what))


def _build(kind: str, name: str, settings: Mapping[str, Any]) -> Tool:
    return _tool_from(options(SQLOptions, settings, kind), kind, name)


def sql_query_tool(
    *,
    url: str,
    tables: Sequence[str],
    max_rows: int = 100,
    timeout_s: float = 5.0,
    max_result_bytes: int = 256_000,
    schema: str = "public",
    allow_superuser: bool = False,
    name: str = "sql_query",
) -> Tool:
    """A read-only tool that runs one SQL query on the listed tables.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``postgresql://…``.
        tables: the tables (and views) it may read; on Postgres ``table`` (in `schema`) or
            ``schema.table``. A view's own tables must be listed too.
        max_rows: rows returned at most (the result says ``truncated``).
        timeout_s: the longest a statement may run.
        max_result_bytes: the JSON size of the rows at most.
        schema: Postgres: the schema of unqualified names (the session's search path).
        allow_superuser: Postgres: run even when connected as a superuser.
        name: the tool's name.

    Raises:
        ConfigError: a bad URL, table name or limit.
    """
    settings = dict(
        url=url,
        tables=list(tables),
        max_rows=max_rows,
        timeout_s=timeout_s,
        max_result_bytes=max_result_bytes,
        schema=schema,
        allow_superuser=allow_superuser,
    )
    return _build("sql_query", name, settings)


def sql_write_tool(
    *,
    url: str,
    tables: Sequence[str],
    timeout_s: float = 5.0,
    schema: str = "public",
    allow_superuser: bool = False,
    effects_table: str = "podium_tool_effects",
    name: str = "sql_write",
) -> Tool:
    """A write tool that runs one INSERT, UPDATE or DELETE on the listed tables, once per
    idempotency key (recorded in `effects_table`, in the same database and transaction).

    Args: as `sql_query_tool`, and `effects_table`, where applied keys are recorded (created
    on first use).
    """
    settings = dict(
        url=url,
        tables=list(tables),
        timeout_s=timeout_s,
        schema=schema,
        allow_superuser=allow_superuser,
        effects_table=effects_table,
    )
    return _build("sql_write", name, settings)


def sql_schema_tool(
    *,
    url: str,
    tables: Sequence[str],
    timeout_s: float = 5.0,
    schema: str = "public",
    allow_superuser: bool = False,
    name: str = "sql_schema",
) -> Tool:
    """A read-only tool that describes the listed tables' columns. Args: as `sql_query_tool`."""
    settings = dict(
        url=url, tables=list(tables), timeout_s=timeout_s, schema=schema,
        allow_superuser=allow_superuser,
    )  # fmt: skip
    return _build("sql_schema", name, settings)


def make_query(raw: Mapping[str, Any]) -> Sequence[Tool]:
    """The ``sql_query`` standard tool kind."""
    return [_build("sql_query", "sql_query", raw)]


def make_write(raw: Mapping[str, Any]) -> Sequence[Tool]:
    """The ``sql_write`` standard tool kind."""
    return [_build("sql_write", "sql_write", raw)]


def make_schema(raw: Mapping[str, Any]) -> Sequence[Tool]:
    """The ``sql_schema`` standard tool kind."""
    return [_build("sql_schema", "sql_schema", raw)]


__all__ = [
    "Column",
    "QueryResult",
    "SQLError",
    "SQLOptions",
    "SQLRefused",
    "Schema",
    "Table",
    "TableColumn",
    "WriteResult",
    "make_query",
    "make_schema",
    "make_write",
    "sql_query_tool",
    "sql_schema_tool",
    "sql_write_tool",
]
