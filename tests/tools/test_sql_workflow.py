"""The SQL tools from a workflow file, in a real run, and their configuration errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from podium import Orchestrator, Workflow
from podium.events import ToolCalled
from podium.exceptions import ConfigError, PlanValidationError
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow_text
from podium.testing import FunctionModel
from podium.tools.sql import SQLError, sql_query_tool, sql_write_tool
from tests.tools.test_sql import ORDERS, sqlite_shop

ROUNDS = [
    (
        ToolCall(id="1", name="shop_schema", arguments={}),
        ToolCall(
            id="2",
            name="shop",
            arguments={"sql": "SELECT count(*) AS n FROM orders WHERE total > ?", "params": [30]},
        ),
        ToolCall(id="3", name="shop", arguments={"sql": "SELECT * FROM secret"}),
    ),
    (
        ToolCall(
            id="4",
            name="shop_write",
            arguments={"sql": "UPDATE orders SET total = 0 WHERE id = :id", "params": {"id": 1}},
        ),
    ),
]


def clerk_model() -> FunctionModel:
    """Reads the schema, counts, tries a forbidden table, writes once, then reports."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            return ModelResponse(tool_calls=ROUNDS[0])
        if len(results) == len(ROUNDS[0]):
            return ModelResponse(tool_calls=ROUNDS[1])
        return "\n".join(r.content for r in results)

    return FunctionModel(answer)


def workflow(url: str) -> Workflow:
    text = f"""\
name: bookkeeping
tools:
  shop: {{use: sql_query, with: {{url: "{url}", tables: [orders], max_rows: 10}}}}
  shop_schema: {{use: sql_schema, with: {{url: "{url}", tables: [orders]}}}}
  shop_write: {{use: sql_write, with: {{url: "{url}", tables: [orders]}}}}
agents:
  clerk: {{model: test, tools: [shop, shop_schema, shop_write]}}
tasks:
  - {{id: books, agent: clerk, instruction: check the books}}
"""
    loaded = load_workflow_text(text, path="books.yaml")
    agents = tuple(dataclasses.replace(a, model=clerk_model()) for a in loaded.agents)
    return dataclasses.replace(loaded, agents=agents)


@pytest.mark.anyio
async def test_an_agent_reads_the_schema_queries_and_writes_once(tmp_path: Path) -> None:
    shop = sqlite_shop(tmp_path)
    wf = workflow(shop.url)
    assert [(t.name, t.effect) for t in wf.agents[0].tools] == [
        ("shop", "read"),
        ("shop_schema", "read"),
        ("shop_write", "write"),
    ]
    async with Orchestrator(store=str(tmp_path / "runs.db")) as orch:
        result = await orch.run(wf)
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    calls = {c.call_id: c for c in journal if isinstance(c, ToolCalled)}
    assert calls["1"].result["tables"][0]["name"] == "orders"
    assert calls["2"].result["rows"] == [[30]]
    assert calls["3"].error is not None
    assert "the table 'secret' is not one of this tool's tables (orders)" in calls["3"].error
    write = calls["4"]
    assert (write.effect, write.result) == ("write", {"rows_affected": 1, "replayed": False})
    assert shop.admin("SELECT key FROM podium_tool_effects") == [(write.idempotency_key,)]
    assert shop.admin("SELECT total FROM orders WHERE id = 1") == [(0,)]
    assert "the-password" not in result.output


def test_importing_the_sql_tools_for_sqlite_does_not_load_the_postgres_backend(
    tmp_path: Path,
) -> None:
    code = (
        "import sys, podium.tools.sql as s;"
        f" s.sql_query_tool(url='sqlite:///{tmp_path}/x.db', tables=['t']);"
        " print('podium.tools._sql_postgres' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def problems(tools: str) -> list[str]:
    text = f"name: f\ntools:\n  db: {tools}\nagents:\n  a: {{model: test, tools: [db]}}\n"
    text += "tasks:\n  - {id: t, agent: a}\n"
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(text, path="f.yaml")
    return [p.message for p in info.value.problems]


def test_bad_options_are_reported_with_their_field() -> None:
    assert problems("{use: sql_query, with: {tables: [t]}}") == [
        "tool kind 'sql_query': url: Field required"
    ]
    assert problems("{use: sql_query, with: {url: x.db, tables: []}}") == [
        "tool kind 'sql_query': tables: List should have at least 1 item after validation, not 0"
    ]
    [message] = problems("{use: sql_write, with: {url: x.db, tables: [t], max_rows: 0}}")
    assert message.startswith("tool kind 'sql_write': max_rows: Input should be greater")
    [message] = problems('{use: sql_schema, with: {url: x.db, tables: ["t; DROP TABLE t"]}}')
    assert "'t; DROP TABLE t' is not a plain SQL name" in message


def test_misuse_from_python_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown database URL 'mysql://x'"):
        sql_query_tool(url="mysql://x", tables=["t"])
    with pytest.raises(ConfigError, match="effects table 'podium_tool_effects' cannot be"):
        sql_write_tool(url="x.db", tables=["podium_tool_effects"])
    with pytest.raises(ConfigError, match="SQLite tables are plain names"):
        sql_query_tool(url="x.db", tables=["main.t"])
    with pytest.raises(ConfigError, match="schema 'a b' is not a plain SQL name"):
        sql_query_tool(url="postgresql://x/y", tables=["t"], schema="a b")
    missing = sql_query_tool(url=f"sqlite:///{tmp_path}/missing.db", tables=["t"])
    with pytest.raises(SQLError, match="there is no SQLite database at"):
        missing.function(sql="SELECT 1")
    assert not (tmp_path / "missing.db").exists()


def test_sqlite_values_that_are_too_big_are_refused(tmp_path: Path) -> None:
    shop = sqlite_shop(tmp_path)
    query = sql_query_tool(url=shop.url, tables=["orders"])
    with pytest.raises(SQLError, match="string or blob too big"):
        query.function(sql="SELECT randomblob(100000000)")
    with pytest.raises(SQLError, match="integers are 64-bit"):
        query.function(sql="SELECT ?", params=[10**30])
    assert query.function(sql="SELECT count(*) FROM orders").rows == [[ORDERS]]
