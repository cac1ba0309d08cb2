"""The SQL tools on Postgres as a superuser: refused unless allowed, and then the plan check
alone still refuses other tables and the functions that reach beyond them."""

from __future__ import annotations

import pytest

from podium.tools.sql import SQLError, sql_query_tool, sql_write_tool
from tests.tools.test_sql import ORDERS, Shop, context, postgres_shop  # noqa: F401

pytestmark = pytest.mark.postgres


def test_a_superuser_connection_is_refused_unless_allowed(postgres_shop: Shop) -> None:  # noqa: F811
    shop = postgres_shop
    query = sql_query_tool(url=shop.superuser_url, tables=["orders"], schema=shop.schema)
    with pytest.raises(SQLError, match="connected as a superuser"):
        query.function(sql="SELECT 1")
    write = sql_write_tool(url=shop.superuser_url, tables=["orders"], schema=shop.schema)
    with pytest.raises(SQLError, match="connected as a superuser"):
        write.function(sql="DELETE FROM orders", ctx=context("k"))
    assert shop.count("orders") == ORDERS


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM secret", "uses {schema}.secret, which is not one of"),
        ("SELECT * FROM v", "uses {schema}.secret"),
        ("SELECT * FROM pg_catalog.pg_authid", "uses pg_catalog.pg_authid"),
        ("SELECT query_to_xml('SELECT * FROM secret', true, true, '')", "'query_to_xml'"),
        ("SELECT pg_read_file('/etc/passwd')", "'pg_read_file'"),
        ("SELECT pg_catalog.pg_ls_dir('.')", "'pg_ls_dir'"),
        ("SELECT set_config('role', 'postgres', false)", "'set_config'"),
        ("SELECT current_setting('data_directory')", "'current_setting'"),
        ("SELECT lo_import('/etc/passwd')", "'lo_import'"),
        (
            "SELECT (SELECT table_to_xml('secret', true, true, '')::text) FROM orders",
            "'table_to_xml'",
        ),
        ("DELETE FROM orders", "this tool only reads"),
        ("SELECT setval('orders_id_seq', 1)", "'setval'"),
    ],
)
def test_as_a_superuser_the_plan_check_still_refuses(
    postgres_shop: Shop,  # noqa: F811
    sql: str,
    message: str,
) -> None:
    shop = postgres_shop
    query = sql_query_tool(
        url=shop.superuser_url, tables=["orders", "v"], schema=shop.schema, allow_superuser=True
    )
    with pytest.raises(SQLError, match="refused") as info:
        query.function(sql=sql)
    assert message.format(schema=shop.schema) in str(info.value)
    assert query.function(sql="SELECT count(*) FROM orders").rows == [[ORDERS]]


def test_the_database_enforces_what_the_plan_cannot_see(postgres_shop: Shop) -> None:  # noqa: F811
    """A function's body is not in the plan: the role's privileges stop it."""
    shop = postgres_shop
    query = sql_query_tool(url=shop.url, tables=["orders"], schema=shop.schema)
    with pytest.raises(SQLError, match="permission denied for table secret"):
        query.function(sql="SELECT leak()")
    trusted = sql_query_tool(
        url=shop.superuser_url, tables=["orders"], schema=shop.schema, allow_superuser=True
    )
    # which is why a superuser needs allow_superuser: here nothing holds the function back
    assert trusted.function(sql="SELECT leak()").rows == [["the-password"]]


def test_an_unreachable_database_is_a_clear_error() -> None:
    query = sql_query_tool(url="postgresql://nobody@127.0.0.1:1/none", tables=["t"], timeout_s=1)
    with pytest.raises(SQLError, match="cannot connect to the database"):
        query.function(sql="SELECT 1")


def test_postgres_values_become_json(postgres_shop: Shop) -> None:  # noqa: F811
    query = sql_query_tool(url=postgres_shop.url, tables=["orders"], schema=postgres_shop.schema)
    result = query.function(
        sql="SELECT array['a', 'b'] AS tags, '{\"k\": [1, 2.5]}'::jsonb AS doc,"
        " interval '1 day' AS gap, interval '-1.5 seconds' AS back, 'NaN'::float8 AS nan,"
        " time '12:30' AS at,"
        " '00000000-0000-0000-0000-000000000001'::uuid AS id, 12345678901234567890 AS big"
    )
    assert [(c.name, c.type) for c in result.columns] == [
        ("tags", "text[]"),
        ("doc", "jsonb"),
        ("gap", "interval"),
        ("back", "interval"),
        ("nan", "float8"),
        ("at", "time"),
        ("id", "uuid"),
        ("big", "numeric"),
    ]
    assert result.rows == [
        [
            ["a", "b"],
            {"k": [1, 2.5]},
            "P1DT0S",
            "-P0DT1.5S",
            "nan",
            "12:30:00",
            "00000000-0000-0000-0000-000000000001",
            "12345678901234567890",
        ]
    ]
