"""Data-access permissions: every refused access is an `AccessDenied` event, and the access
itself does not happen.

Each kind through a real run: blackboard keys outside a task's or an agent's `reads`/`writes`
(Python and model-driven agents), a tool not on the agent's list, SQL outside the tool's tables
or mode (a real SQLite file), a document outside the tool's folders (real files), a host off
the allow-list (a real HTTP server on loopback).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall
from podium.cli._render import details
from podium.events import AccessDenied, AnyEvent, ContextWritten, ToolCalled
from podium.exceptions import ContextScopeError, PlanValidationError, ToolError
from podium.models import ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow_text
from podium.runtime import RunResult
from podium.testing import ScriptedModel
from podium.tools import Tool
from podium.tools.documents import DocumentStore, document_tools
from podium.tools.sql import sql_query_tool, sql_write_tool
from podium.tools.web import web_fetch_tool
from tests.tools.test_sql import sqlite_shop
from tests.tools.test_web_fetch import Site, send

pytestmark = pytest.mark.anyio


async def run(agents: Sequence[Agent], tasks: Sequence[Task]) -> tuple[RunResult, list[AnyEvent]]:
    async with Orchestrator(agents=list(agents), store="memory://") as orch:
        result = await orch.run(Plan(tasks))
        return result, list(await orch.events(result.run_id))


def denied(events: Sequence[AnyEvent]) -> list[tuple[str, str, str, str]]:
    """(task, agent, access, target) of each `AccessDenied`."""
    return [(e.task, e.agent, e.access, e.target) for e in events if isinstance(e, AccessDenied)]


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> ScriptedModel:
    """A model that makes `calls` at once, then answers with what it read."""
    made = tuple(ToolCall(id=f"c{i}", name=n, arguments=a) for i, (n, a) in enumerate(calls))
    return ScriptedModel([ModelResponse(tool_calls=made), "done"])


def results(model: ScriptedModel) -> list[ToolResultMessage]:
    """What the model was told its calls gave."""
    return [m for m in model.requests[-1].messages if isinstance(m, ToolResultMessage)]


# -- the blackboard ------------------------------------------------------------------------------


def write_both(call: TaskCall) -> str:
    call.context.write("public", "public-value")
    call.context.write("secret", "secret-value")
    return "wrote"


async def test_a_write_outside_the_tasks_writes_fails_it_and_commits_nothing() -> None:
    agent = Agent(name="writer", function=write_both)
    result, events = await run([agent], [Task(id="w", agent="writer", writes=("public",))])
    assert result.status == "failed"
    assert result.tasks["w"]["error"]["type"] == "context_scope"
    assert "not among its `writes` ['public']" in result.tasks["w"]["error"]["message"]
    assert denied(events) == [("w", "writer", "context_write", "secret")]
    assert not [e for e in events if isinstance(e, ContextWritten)]  # not even the allowed one
    [event] = [e for e in events if isinstance(e, AccessDenied)]
    assert "add it there" in event.reason
    assert event.attempt == 1


def peek(call: TaskCall) -> Any:
    try:
        return call.context.get("secret")
    except ContextScopeError as exc:  # an agent that swallows the refusal is still seen
        return [exc.key, exc.access, exc.kind]


async def test_a_read_outside_the_tasks_reads_is_refused_and_journaled_even_when_caught() -> None:
    agents = [Agent(name="writer", function=write_both), Agent(name="peeker", function=peek)]
    tasks = [Task(id="w", agent="writer"), Task(id="p", agent="peeker", needs=("w",))]
    result, events = await run(agents, tasks)
    assert result.status == "succeeded"
    assert result.tasks["p"]["output"] == ["secret", "context_read", "context_scope"]
    assert denied(events) == [("p", "peeker", "context_read", "secret")]


def read_secret(call: TaskCall) -> Any:
    return call.context.get("secret")


async def test_an_agents_reads_bound_every_task_it_is_routed() -> None:
    agents = [
        Agent(name="writer", function=write_both),
        Agent(name="clerk", function=read_secret, capabilities=("file",), reads=("public",)),
    ]
    tasks = [
        Task(id="w", agent="writer"),
        Task(id="r", capability="file", needs=("w",), reads=("public", "secret")),
    ]
    result, events = await run(agents, tasks)
    assert result.status == "failed"
    error = result.tasks["r"]["error"]
    assert error["type"] == "context_scope"
    assert "agent 'clerk' may not read context key 'secret'" in error["message"]
    assert denied(events) == [("r", "clerk", "context_read", "secret")]


async def test_a_model_driven_agent_is_not_shown_a_key_its_bound_withholds() -> None:
    model = ScriptedModel(["summary"])
    agents = [
        Agent(name="writer", function=write_both),
        Agent(name="summer", model=model, capabilities=("sum",), reads=("public",)),
    ]
    tasks = [
        Task(id="w", agent="writer"),
        Task(id="s", capability="sum", needs=("w",), reads=("public", "secret")),
    ]
    result, events = await run(agents, tasks)
    assert result.status == "succeeded"
    prompt = "\n".join(str(m.content) for m in model.requests[0].messages)
    assert "public-value" in prompt
    assert "secret-value" not in prompt
    assert denied(events) == [("s", "summer", "context_read", "secret")]


async def test_an_agents_writes_bound_a_task_that_declares_none() -> None:
    agent = Agent(name="writer", function=write_both, writes=("public",))
    result, events = await run([agent], [Task(id="w", agent="writer")])
    assert result.status == "failed"
    assert (
        "agent 'writer' may not write context key 'secret'"
        in (result.tasks["w"]["error"]["message"])
    )
    assert denied(events) == [("w", "writer", "context_write", "secret")]
    assert not [e for e in events if isinstance(e, ContextWritten)]


SCOPED = """\
name: scoped
agents:
  clerk: {python: "tests.security.test_data_access:read_secret", reads: [public], writes: [log]}
  helper: {python: "tests.security.test_data_access:read_secret"}
tasks:
  - id: a
    agent: clerk
    reads: [public, secret]
  - id: b
    agent: helper
    backups: [clerk]
    writes: [log, audit]
"""


def test_a_task_that_declares_more_than_its_agent_allows_is_a_plan_problem() -> None:
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(SCOPED, path="scoped.yaml")
    found = {(p.where, p.line): p.message for p in info.value.problems}
    assert set(found) == {("tasks.a.reads", 8), ("tasks.b.writes", 12)}
    assert "agent 'clerk' may not read ['secret']" in found["tasks.a.reads", 8]
    assert found["tasks.b.writes", 12].startswith("backup agent 'clerk' may not write ['audit']")
    assert str(info.value).count("scoped.yaml:") == 2


async def test_a_python_plan_is_checked_against_its_agents_scopes_before_it_runs() -> None:
    clerk = Agent(name="clerk", function=read_secret, reads=("public",))
    async with Orchestrator(agents=[clerk], store="memory://") as orch:
        with pytest.raises(PlanValidationError, match=r"agent 'clerk' may not read \['secret'\]"):
            await orch.run(Plan([Task(id="a", agent="clerk", reads=("secret",))]))
        assert await orch.store.list_runs() == []  # nothing was submitted


# -- tools ---------------------------------------------------------------------------------------

wiped: list[str] = []


def wipe(path: str) -> str:
    """A tool no agent in these tests is given."""
    wiped.append(path)
    return "wiped"


def lookup(key: str) -> str:
    return key.upper()


async def test_a_tool_off_the_agents_list_is_a_tool_error_and_an_event() -> None:
    wiped.clear()
    model = tool_calls(("wipe", {"path": "/"}), ("lookup", {"key": "a"}))
    agent = Agent(name="clerk", model=model, tools=(Tool.from_function(lookup),))
    other = Agent(name="admin", model="test", tools=(Tool.from_function(wipe, effect="write"),))
    result, events = await run([agent, other], [Task(id="t", agent="clerk")])
    assert result.status == "succeeded"  # the model read the error and finished
    refused, answered = results(model)
    assert refused.is_error
    assert "unknown tool 'wipe'" in refused.content
    assert not answered.is_error
    assert answered.content == "A"
    assert denied(events) == [("t", "clerk", "tool", "wipe")]
    [event] = [e for e in events if isinstance(e, AccessDenied)]
    assert (event.tool, event.call_id) == ("wipe", "c0")
    assert wiped == []


def sync_caller(call: TaskCall) -> str:
    try:
        call.tools.call_sync("wipe", path="/")
    except ToolError as exc:
        return str(exc)
    return "called"


async def test_a_python_agent_calling_a_tool_it_was_not_given_is_journaled() -> None:
    wiped.clear()
    agent = Agent(name="py", function=sync_caller, tools=(Tool.from_function(lookup),))
    result, events = await run([agent], [Task(id="t", agent="py")])
    assert result.output.startswith("unknown tool 'wipe'")
    assert denied(events) == [("t", "py", "tool", "wipe")]
    assert wiped == []


# -- SQL -----------------------------------------------------------------------------------------


async def test_sql_outside_the_tables_or_the_mode_is_refused_and_journaled(tmp_path: Path) -> None:
    shop = sqlite_shop(tmp_path)
    query = sql_query_tool(url=shop.url, tables=["orders"], name="shop")
    write = sql_write_tool(url=shop.url, tables=["orders"], name="shop_write")
    model = tool_calls(
        ("shop", {"sql": "SELECT s FROM secret"}),
        ("shop", {"sql": "DELETE FROM orders"}),
        ("shop_write", {"sql": "UPDATE secret SET s = 'pwned'"}),
        ("shop", {"sql": "SELECT count(*) AS n FROM orders"}),
    )
    agent = Agent(name="clerk", model=model, tools=(query, write))
    result, events = await run([agent], [Task(id="t", agent="clerk")])
    assert result.status == "succeeded"
    told = results(model)
    assert [m.is_error for m in told] == [True, True, True, False]
    assert "not one of this tool's tables" in told[0].content
    assert "the-password" not in told[0].content
    assert denied(events) == [
        ("t", "clerk", "sql", "secret"),
        ("t", "clerk", "sql", "DELETE"),
        ("t", "clerk", "sql", "secret"),
    ]
    assert [e.tool for e in events if isinstance(e, AccessDenied)] == ["shop", "shop", "shop_write"]
    assert shop.admin("SELECT count(*) FROM orders") == [(50,)]
    assert shop.admin("SELECT s FROM secret") == [("the-password",)]
    called = [e for e in events if isinstance(e, ToolCalled)]
    assert [c.error is None for c in called] == [False, False, False, True]


# -- documents -----------------------------------------------------------------------------------


@pytest.fixture
def shared_store(tmp_path: Path) -> DocumentStore:
    """One store holding two folders: a handbook anyone may read, and HR's files."""
    handbook, hr = tmp_path / "handbook", tmp_path / "hr"
    handbook.mkdir()
    hr.mkdir()
    (handbook / "leave.md").write_text("# Leave\n\nAsk your manager before taking leave.\n")
    (hr / "salaries.md").write_text("# Salaries\n\nAlice earns 98000 a year; leave pay too.\n")
    return DocumentStore.open(tmp_path / "shared.db", embeddings=False)


async def test_a_document_outside_the_tools_folders_is_refused(
    shared_store: DocumentStore, tmp_path: Path
) -> None:
    await shared_store.ingest(tmp_path / "handbook", prefix="handbook/")
    await shared_store.ingest(tmp_path / "hr", prefix="hr/")
    search, get = document_tools(shared_store, name="docs", paths=["handbook/"])
    model = tool_calls(
        ("docs_search", {"query": "leave pay salaries", "k": 5}),
        ("docs_get", {"source_id": "hr/salaries.md#chunk-0"}),
        ("docs_get", {"source_id": "handbook/leave.md#chunk-0"}),
    )
    agent = Agent(name="reader", model=model, tools=(search, get))
    result, events = await run([agent], [Task(id="t", agent="reader")])
    await shared_store.close()
    assert result.status == "succeeded"
    found, refused, allowed = results(model)
    assert "handbook/leave.md#chunk-0" in found.content
    assert "hr/" not in found.content
    assert "98000" not in found.content
    assert refused.is_error
    assert "outside this tool's folders ['handbook/']" in refused.content
    assert "98000" not in refused.content
    assert not allowed.is_error
    assert denied(events) == [("t", "reader", "document", "hr/salaries.md#chunk-0")]
    # the store holds it: the scope, not its absence, kept it out
    unscoped = await DocumentStore.open(tmp_path / "shared.db", embeddings=False).get(
        "hr/salaries.md#chunk-0"
    )
    assert unscoped is not None
    assert "98000" in unscoped.text


def test_the_documents_kind_scopes_to_its_prefix_by_default() -> None:
    from podium.tools.documents import DocumentsOptions

    def scope(**options: Any) -> list[str] | None:
        return DocumentsOptions.model_validate({"store": "x.db", **options}).scope()

    assert scope() is None
    assert scope(ingest="hr", prefix="hr/") == ["hr/"]
    assert scope(prefix="hr/", paths=["hr/", "pay/"]) == ["hr/", "pay/"]
    with pytest.raises(ValueError, match="paths"):
        scope(paths=[" "])


# -- hosts ---------------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


async def test_a_host_off_the_allow_list_is_refused_even_through_a_redirect(site: Site) -> None:
    port = site.server.server_address[1]
    site.routes["/go"] = lambda h: send(
        h, 302, b"", None, {"Location": f"http://localhost:{port}/secret"}
    )
    site.routes["/secret"] = lambda h: send(h, 200, b"<p>secret</p>", "text/html")
    fetch = web_fetch_tool(allow_hosts=["127.0.0.1"], name="fetch")
    model = tool_calls(
        ("fetch", {"url": f"http://localhost:{port}/secret"}),
        ("fetch", {"url": f"{site.url}/go"}),
    )
    agent = Agent(name="reader", model=model, tools=(fetch,))
    result, events = await run([agent], [Task(id="t", agent="reader")])
    assert result.status == "succeeded"
    assert [m.is_error for m in results(model)] == [True, True]
    assert denied(events) == [
        ("t", "reader", "host", "localhost"),
        ("t", "reader", "host", "localhost"),
    ]
    assert site.hits["/go"] == 1
    assert site.hits["/secret"] == 0  # neither the direct call nor the redirect reached it


# -- rendering -----------------------------------------------------------------------------------


def test_podium_show_says_what_was_refused_and_why() -> None:
    event = AccessDenied(
        run_id="r",
        seq=3,
        ts=0.0,
        task="t",
        agent="clerk",
        access="sql",
        target="secret",
        reason="refused: the table 'secret' is not one of this tool's tables (orders)",
        tool="shop",
        call_id="c0",
    )
    line = details(event)
    assert line.startswith("access=sql target=secret tool=shop reason=refused: the table 'secret'")
    unknown = AccessDenied(
        run_id="r", seq=4, ts=0.0, task="t", access="tool", target="wipe", reason="no", tool="wipe"
    )
    assert details(unknown) == "access=tool target=wipe tool=wipe reason=no"
