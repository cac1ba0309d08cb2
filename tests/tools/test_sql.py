"""The SQL tools on SQLite and on Postgres: typed rows, limits, idempotent writes, and hostile
statements refused or contained on both.

The shop database is real on both: a SQLite file, and a Postgres schema reached as a login role
that may only use what the tools list (the deployment the docs recommend).
"""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from podium.exceptions import ToolError
from podium.tools import Tool, ToolContext
from podium.tools.sql import SQLError, sql_query_tool, sql_schema_tool, sql_write_tool

ORDERS = 50
NUMS = 1000  # a three-way cross join of nums is a billion rows

SQLITE_SETUP = f"""
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total NUMERIC,
                     placed TEXT, data BLOB);
CREATE TABLE secret (s TEXT);
INSERT INTO secret VALUES ('the-password');
CREATE VIEW v AS SELECT s FROM secret;
CREATE TABLE nums (n INTEGER);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {ORDERS})
INSERT INTO orders (customer, total, placed, data)
SELECT 'c' || i, i * 1.5, '2024-01-02', x'0001' FROM r;
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {NUMS})
INSERT INTO nums SELECT i FROM r;
"""

POSTGRES_SETUP = f"""
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10, 2),
                     placed date, data bytea);
CREATE TABLE secret (s text);
INSERT INTO secret VALUES ('the-password');
CREATE VIEW v AS SELECT s FROM secret;
CREATE TABLE nums (n int);
INSERT INTO orders (customer, total, placed, data)
SELECT 'c' || i, i * 1.5, date '2024-01-02', '\\x0001' FROM generate_series(1, {ORDERS}) i;
INSERT INTO nums SELECT generate_series(1, {NUMS});
CREATE FUNCTION leak() RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN RETURN (SELECT s FROM secret LIMIT 1); END $$;
"""


@dataclass
class Shop:
    """One shop database: where it is, and how to look at it behind the tools' back."""

    kind: str
    url: str
    schema: str
    admin: Callable[[str], list[tuple[Any, ...]]]
    superuser_url: str = ""

    def p(self, n: int) -> str:
        """The n-th placeholder in this database's style."""
        return "?" if self.kind == "sqlite" else f"${n}"

    def tool(self, factory: Callable[..., Tool], tables: list[str], **options: Any) -> Tool:
        return factory(url=self.url, tables=tables, schema=self.schema, **options)

    def count(self, table: str) -> int:
        return int(self.admin(f"SELECT count(*) FROM {table}")[0][0])


def context(key: str) -> ToolContext:
    return ToolContext(
        run_id="run", task_id="task", agent="clerk", call_id="c", idempotency_key=key
    )


def sqlite_shop(tmp_path: Path) -> Shop:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SQLITE_SETUP)
    conn.close()

    def admin(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as c:
            rows = c.execute(sql).fetchall()
        c.close()
        return rows

    return Shop("sqlite", f"sqlite:///{path}", "main", admin)


@pytest.fixture
def postgres_shop(postgres_url: str) -> Iterator[Shop]:
    """A fresh schema, and a login role that may read orders and nums and write orders."""
    name = f"podium_sqltool_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"SET search_path = {name}")
        conn.execute(POSTGRES_SETUP.encode())
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'".encode())
        conn.execute(f"GRANT USAGE, CREATE ON SCHEMA {name} TO {name}".encode())
        conn.execute(f"GRANT SELECT ON {name}.orders, {name}.nums TO {name}".encode())
        conn.execute(f"GRANT INSERT, UPDATE, DELETE ON {name}.orders TO {name}".encode())
        conn.execute(f"GRANT USAGE ON SEQUENCE {name}.orders_id_seq TO {name}".encode())
    parts = urllib.parse.urlsplit(postgres_url)
    netloc = f"{name}:{password}@{parts.hostname}:{parts.port or 5432}"
    role_url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def admin(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(postgres_url, autocommit=True) as c:
            c.execute(f"SET search_path = {name}")
            return list(c.execute(sql.encode()).fetchall())

    yield Shop("postgres", role_url, name, admin, superuser_url=postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Shop:
    if request.param == "sqlite":
        return sqlite_shop(tmp_path)
    made: Shop = request.getfixturevalue("postgres_shop")
    return made


# ---------------------------------------------------------------------------------------------
# reading


def test_a_query_returns_typed_json_rows(shop: Shop) -> None:
    query = shop.tool(sql_query_tool, ["orders"])
    result = query.function(
        sql=f"SELECT id, customer, total, placed, data FROM orders WHERE id <= {shop.p(1)}"
        " ORDER BY id",
        params=[2],
    )
    assert [c.name for c in result.columns] == ["id", "customer", "total", "placed", "data"]
    assert (result.row_count, result.truncated, result.note) == (2, False, None)
    blob = {"base64": "AAE=", "bytes": 2}
    if shop.kind == "postgres":  # numeric as exact text, a date in ISO 8601
        assert [c.type for c in result.columns] == ["int4", "text", "numeric", "date", "bytea"]
        assert result.rows == [
            [1, "c1", "1.50", "2024-01-02", blob],
            [2, "c2", "3.00", "2024-01-02", blob],
        ]
    else:
        assert [c.type for c in result.columns] == ["integer", "text", "real", "text", "blob"]
        assert result.rows == [
            [1, "c1", 1.5, "2024-01-02", blob],
            [2, "c2", 3.0, "2024-01-02", blob],
        ]


def test_values_travel_as_parameters_never_as_sql(shop: Shop) -> None:
    query = shop.tool(sql_query_tool, ["orders"])
    hostile = "c1'; DROP TABLE orders; --"
    result = query.function(
        sql=f"SELECT id FROM orders WHERE customer = {shop.p(1)}", params=[hostile]
    )
    assert result.rows == []
    assert shop.count("orders") == ORDERS


HOSTILE_READS = [
    "SELECT * FROM orders; DROP TABLE orders",
    "SELECT 1; DROP TABLE orders",
    "ATTACH DATABASE '/tmp/podium-evil.db' AS evil",
    "PRAGMA writable_schema = ON",
    "PRAGMA table_info(secret)",
    "DELETE FROM orders",
    "INSERT INTO orders (customer, total) VALUES ('x', 1)",
    "UPDATE orders SET total = 0",
    "DROP TABLE orders",
    "CREATE TABLE evil (a int)",
    "BEGIN",
    "VACUUM",
    "SELECT * FROM secret",
    "SELECT (SELECT s FROM secret) AS s FROM orders",
    "SELECT * FROM orders WHERE customer IN (SELECT s FROM secret)",
    "WITH x AS (SELECT * FROM secret) SELECT * FROM x",
    "WITH orders AS (SELECT s AS customer FROM secret) SELECT * FROM orders",
    "SELECT * FROM v",
    "SELECT count(*) FROM secret",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pragma_table_info('secret')",
    "SELECT * FROM pg_catalog.pg_tables",
    "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
    "SELECT 1 FROM orders FOR UPDATE",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT query_to_xml('SELECT * FROM secret', true, true, '')",
    "SELECT leak()",
]


@pytest.mark.parametrize("sql", HOSTILE_READS)
def test_hostile_reads_are_refused(shop: Shop, sql: str) -> None:
    query = shop.tool(sql_query_tool, ["orders", "nums", "v"])
    with pytest.raises(SQLError) as info:
        query.function(sql=sql)
    assert "the-password" not in str(info.value)
    assert shop.count("orders") == ORDERS
    assert shop.admin("SELECT s FROM secret") == [("the-password",)]


def test_a_recursive_cte_that_never_ends_is_stopped(shop: Shop) -> None:
    query = shop.tool(sql_query_tool, ["orders"], timeout_s=0.3)
    endless = (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
    )
    with pytest.raises(SQLError, match=r"ran past the time limit of 0.3s and was stopped"):
        query.function(sql=endless)
    with pytest.raises(SQLError, match="time limit"):
        query.function(sql="SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e")


def test_a_cross_join_of_a_billion_rows_stops_at_the_row_limit(shop: Shop) -> None:
    query = shop.tool(sql_query_tool, ["nums"], max_rows=7)
    result = query.function(sql="SELECT a.n, b.n, c.n FROM nums a, nums b, nums c")
    assert (result.row_count, result.truncated) == (7, True)
    assert result.note == "only the first 7 rows (the row limit)"


def test_results_are_bounded_in_bytes_and_long_values_cut(shop: Shop) -> None:
    query = shop.tool(sql_query_tool, ["orders"], max_result_bytes=1000)
    result = query.function(sql="SELECT id, customer, placed FROM orders ORDER BY id")
    assert result.truncated
    assert 0 < result.row_count < ORDERS
    assert result.note == f"only {result.row_count} rows fit in 1000 bytes"
    wide = shop.tool(sql_query_tool, ["orders"])
    long = wide.function(
        sql=f"SELECT {shop.p(1)} || customer FROM orders WHERE id = 1", params=["x" * 5000]
    )
    [[text]] = long.rows
    assert (len(text), long.truncated) == (4001, True)
    assert long.note == "values longer than 4000 characters were cut"


def test_huge_or_malformed_params_are_refused(shop: Shop) -> None:
    query = shop.tool(sql_query_tool, ["orders"])
    sql = f"SELECT id FROM orders WHERE customer = {shop.p(1)}"
    with pytest.raises(SQLError, match="larger than 100000 bytes"):
        query.function(sql=sql, params=["x" * 200_000])
    with pytest.raises(SQLError, match="more than 100 parameters"):
        query.function(sql=sql, params=list(range(101)))
    with pytest.raises(SQLError, match="longer than 20000 characters"):
        query.function(sql="SELECT 1" + " " * 20_000)
    with pytest.raises(SQLError, match="empty"):
        query.function(sql="  ")
    with pytest.raises(ToolError, match="invalid arguments"):
        query.validate({"sql": sql, "params": [[1, 2]]})
    with pytest.raises(SQLError):
        query.function(sql=sql, params=[10**30] if shop.kind == "sqlite" else {"a": 1})


# ---------------------------------------------------------------------------------------------
# writing


def test_a_write_applies_once_per_idempotency_key(shop: Shop) -> None:
    write = shop.tool(sql_write_tool, ["orders"])
    sql = f"UPDATE orders SET total = total + 1 WHERE id <= {shop.p(1)}"
    first = write.function(sql=sql, params=[3], ctx=context("run/task/1:aa"))
    again = write.function(sql=sql, params=[3], ctx=context("run/task/1:aa"))
    assert (first.rows_affected, first.replayed) == (3, False)
    assert (again.rows_affected, again.replayed) == (3, True)
    assert shop.admin("SELECT sum(total) FROM orders WHERE id <= 3")[0][0] == pytest.approx(12)
    insert = f"INSERT INTO orders (customer, total) VALUES ({shop.p(1)}, {shop.p(2)})"
    added = write.function(sql=insert, params=["new", 2.5], ctx=context("run/task/2:bb"))
    assert (added.rows_affected, shop.count("orders")) == (1, ORDERS + 1)
    deleted = write.function(sql="DELETE FROM orders WHERE customer = 'nobody'", ctx=context("k3"))
    assert deleted.rows_affected == 0
    assert shop.count("podium_tool_effects") == 3


def test_concurrent_retries_of_one_write_apply_it_once(shop: Shop) -> None:
    write = shop.tool(sql_write_tool, ["orders"])
    insert = "INSERT INTO orders (customer, total) VALUES ('retry', 1)"
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: write.function(sql=insert, ctx=context("same")), range(4))
        )
    assert sorted(r.replayed for r in results) == [False, True, True, True]
    assert shop.admin("SELECT count(*) FROM orders WHERE customer = 'retry'")[0][0] == 1


def test_first_writes_of_many_processes_make_the_effects_table_once(shop: Shop) -> None:
    """Each tool (as each process) makes the effects table on its first write: at once, the
    creations race, and none may fail for it."""
    tools = [shop.tool(sql_write_tool, ["orders"]) for _ in range(8)]
    start = threading.Barrier(len(tools))

    def first_write(n: int) -> int:
        start.wait()
        insert = f"INSERT INTO orders (customer, total) VALUES ('first-{n}', 1)"
        return tools[n].function(sql=insert, ctx=context(f"first-{n}")).rows_affected

    with ThreadPoolExecutor(len(tools)) as pool:
        assert list(pool.map(first_write, range(len(tools)))) == [1] * len(tools)
    assert shop.admin("SELECT count(*) FROM podium_tool_effects")[0][0] == len(tools)


HOSTILE_WRITES = [
    "DELETE FROM secret",
    "UPDATE orders SET customer = (SELECT s FROM secret)",
    "INSERT INTO orders (customer) SELECT s FROM secret",
    "SELECT * FROM orders",
    "DROP TABLE orders",
    "CREATE TABLE evil (a int)",
    "DELETE FROM podium_tool_effects",
    "UPDATE orders SET total = 0; DROP TABLE orders",
    "INSERT INTO orders (customer) VALUES ('x') RETURNING id",
    "ATTACH DATABASE '/tmp/podium-evil.db' AS evil",
    "PRAGMA journal_mode = OFF",
    "WITH d AS (DELETE FROM secret RETURNING *) INSERT INTO orders (customer) SELECT s FROM d",
]


@pytest.mark.parametrize("sql", HOSTILE_WRITES)
def test_hostile_writes_are_refused(shop: Shop, sql: str) -> None:
    write = shop.tool(sql_write_tool, ["orders"])
    write.function(
        sql="DELETE FROM orders WHERE id = 50", ctx=context("first")
    )  # makes the effects table
    with pytest.raises(SQLError):
        write.function(sql=sql, ctx=context("hostile"))
    assert shop.count("orders") == ORDERS - 1
    assert shop.admin("SELECT s FROM secret") == [("the-password",)]
    assert shop.admin("SELECT key FROM podium_tool_effects") == [("first",)]
    assert shop.admin("SELECT count(*) FROM orders WHERE customer = 'the-password'") == [(0,)]


def test_the_schema_tool_describes_the_allowed_tables(shop: Shop) -> None:
    schema = shop.tool(sql_schema_tool, ["orders", "missing"]).function()
    assert schema.dialect == shop.kind
    assert [(t.name, t.exists) for t in schema.tables] == [("missing", False), ("orders", True)]
    columns = schema.tables[1].columns
    assert [c.name for c in columns] == ["id", "customer", "total", "placed", "data"]
    assert [(c.primary_key, c.nullable) for c in columns[:2]] == [(True, False), (False, False)]
    assert columns[2].type.lower() == "numeric"
