"""The benchmark's graph shapes, run by LangGraph (the same shapes, with trivial nodes)."""

from __future__ import annotations

import asyncio
import operator
import os
import sqlite3
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from typing import Annotated, Any, Literal, TypedDict

from common import (
    CHAIN_STEPS,
    CONCURRENT_STEPS,
    FANOUT_WIDTH,
    GATE,
    LANGGRAPH_POOL,
    PARKED_STEPS,
    SLEEP_S,
    JournalSize,
    ParkedMemory,
    drop_schema,
    new_schema,
    parked_memory,
    postgres_url,
    sqlite_file_bytes,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

Mode = Literal["async", "sync"]
Saver = Literal["none", "memory", "sqlite", "sqlite-full", "aiosqlite", "postgres"]
RECURSION_LIMIT = 10_000


class State(TypedDict, total=False):
    n: int
    items: Annotated[list[int], operator.add]


def sync_step(state: State) -> State:
    return {"n": state.get("n", 0) + 1}


async def async_step(state: State) -> State:
    return {"n": state.get("n", 0) + 1}


async def sleeper(state: State) -> State:
    await asyncio.sleep(SLEEP_S)
    return {"items": [1]}


async def branch(state: State) -> State:
    return {"items": [1]}


async def join(state: State) -> State:
    return {"n": len(state.get("items", ()))}


async def parked(state: State) -> State:
    await GATE.wait()
    return {"n": state.get("n", 0) + 1}


def chain_graph(steps: int, node: Any, checkpointer: Any = None) -> Any:
    g = StateGraph(State)
    prev = START
    for i in range(steps):
        g.add_node(f"t{i}", node)
        g.add_edge(prev, f"t{i}")
        prev = f"t{i}"
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer)


def fanout_graph(width: int, node: Any) -> Any:
    g = StateGraph(State)
    names = [f"b{i}" for i in range(width)]
    for name in names:
        g.add_node(name, node)
        g.add_edge(START, name)
    g.add_node("join", join)
    g.add_edge(names, "join")
    g.add_edge("join", END)
    return g.compile()


def _config(thread: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"recursion_limit": RECURSION_LIMIT}
    if thread is not None:
        config["configurable"] = {"thread_id": thread}
    return config


_SAVER_LABELS = {
    "none": "no checkpointer",
    "memory": "InMemorySaver",
    "sqlite": "SqliteSaver (WAL, synchronous=NORMAL as Podium)",
    "sqlite-full": "SqliteSaver (WAL, its default synchronous=FULL: fsync per commit)",
    "aiosqlite": "AsyncSqliteSaver (WAL, synchronous=NORMAL)",
    "postgres": f"AsyncPostgresSaver (psycopg pool of {LANGGRAPH_POOL}, fresh schema)",
}


async def _checkpointer(saver: Saver, stack: AsyncExitStack) -> Any:
    """A new checkpointer of kind `saver` on fresh storage; `stack` closes and removes it."""
    if saver == "none":
        return None
    if saver == "memory":
        return InMemorySaver()
    if saver == "postgres":
        return await _postgres_saver(stack)
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lg-bench-"))
    path = os.path.join(tmp, "langgraph.db")
    if saver == "aiosqlite":
        aio = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(path))
        await aio.setup()
        await aio.conn.execute("PRAGMA synchronous=NORMAL")
        return aio
    conn = sqlite3.connect(path, check_same_thread=False)
    stack.callback(conn.close)
    sync = SqliteSaver(conn)
    sync.setup()
    if saver == "sqlite":
        conn.execute("PRAGMA synchronous=NORMAL")
    return sync


async def _postgres_saver(stack: AsyncExitStack) -> AsyncPostgresSaver:
    """`AsyncPostgresSaver` on a pool of `LANGGRAPH_POOL` connections, as LangGraph's docs set
    it up (autocommit, no prepared statements, dict rows), its tables in a fresh schema."""
    schema = new_schema("lg_bench")
    stack.callback(drop_schema, schema)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        postgres_url(),
        min_size=LANGGRAPH_POOL,
        max_size=LANGGRAPH_POOL,
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "options": f"-c search_path={schema}",
        },
        open=False,
    )
    await pool.open(wait=True)
    stack.push_async_callback(pool.close)
    saver = AsyncPostgresSaver(pool)
    await saver.setup()
    return saver


class Chain:
    """One `CHAIN_STEPS`-node chain per repetition, with or without a checkpointer."""

    def __init__(self, mode: Mode, saver: Saver, durability: str | None = None) -> None:
        self.mode = mode
        self.saver = saver
        self.durability = durability
        call = "ainvoke, async nodes" if mode == "async" else "invoke, sync nodes"
        dur = "" if saver == "none" else f", durability={durability or 'async (default)'}"
        self.label = f"LangGraph, {_SAVER_LABELS[saver]}, {call}{dur}"
        self._stack = AsyncExitStack()
        self.graph: Any = None

    async def setup(self) -> None:
        node = async_step if self.mode == "async" else sync_step
        self.graph = chain_graph(CHAIN_STEPS, node, await _checkpointer(self.saver, self._stack))

    async def once(self) -> float:
        thread = None if self.saver == "none" else uuid.uuid4().hex
        kwargs: dict[str, Any] = {}
        if self.durability is not None:
            kwargs["durability"] = self.durability
        start = time.perf_counter()
        if self.mode == "async":
            out = await self.graph.ainvoke({"n": 0}, _config(thread), **kwargs)
        else:
            out = self.graph.invoke({"n": 0}, _config(thread), **kwargs)
        elapsed = time.perf_counter() - start
        assert out["n"] == CHAIN_STEPS, out
        return elapsed

    async def teardown(self) -> None:
        await self._stack.aclose()


class Fanout:
    """`FANOUT_WIDTH` parallel nodes from START, all joined by one node (`ainvoke`)."""

    def __init__(self, *, sleep: bool) -> None:
        self.graph = fanout_graph(FANOUT_WIDTH, sleeper if sleep else branch)
        self.label = "LangGraph, no checkpointer, ainvoke, async nodes"

    async def setup(self) -> None:
        return None

    async def once(self) -> float:
        start = time.perf_counter()
        out = await self.graph.ainvoke({"items": []}, _config())
        elapsed = time.perf_counter() - start
        assert out["n"] == FANOUT_WIDTH, out
        return elapsed

    async def teardown(self) -> None:
        return None


class Concurrent:
    """`runs` concurrent `ainvoke`s of a short chain, per repetition, each on its own thread
    when there is a checkpointer."""

    def __init__(self, runs: int, saver: Saver = "none", durability: str | None = None) -> None:
        self.runs = runs
        self.saver = saver
        self.durability = durability
        dur = "" if saver == "none" else f", durability={durability or 'async (default)'}"
        self.label = (
            f"LangGraph, {_SAVER_LABELS[saver]}, {runs} x ainvoke() in one asyncio.gather{dur}"
        )
        self._stack = AsyncExitStack()
        self.graph: Any = None

    async def setup(self) -> None:
        checkpointer = await _checkpointer(self.saver, self._stack)
        self.graph = chain_graph(CONCURRENT_STEPS, async_step, checkpointer)

    def _invoke(self) -> Any:
        thread = None if self.saver == "none" else uuid.uuid4().hex
        kwargs: dict[str, Any] = {}
        if self.durability is not None:
            kwargs["durability"] = self.durability
        return self.graph.ainvoke({"n": 0}, _config(thread), **kwargs)

    async def once(self) -> float:
        start = time.perf_counter()
        outs = await asyncio.gather(*(self._invoke() for _ in range(self.runs)))
        elapsed = time.perf_counter() - start
        assert all(o["n"] == CONCURRENT_STEPS for o in outs)
        return elapsed

    async def teardown(self) -> None:
        await self._stack.aclose()


def journal_size(directory: str) -> JournalSize:
    """One `CHAIN_STEPS`-node chain checkpointed by `SqliteSaver` in a fresh file."""
    path = os.path.join(directory, "langgraph-journal.db")
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        graph = chain_graph(CHAIN_STEPS, sync_step, saver)
        out = graph.invoke({"n": 0}, _config("journal"))
        assert out["n"] == CHAIN_STEPS, out
        checkpoints, cp_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0)"
            " FROM checkpoints"
        ).fetchone()
        writes, w_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM writes"
        ).fetchone()
    finally:
        conn.close()
    return JournalSize(
        records=checkpoints + writes,
        payload_bytes=cp_bytes + w_bytes,
        file_bytes=sqlite_file_bytes(path),
    )


async def memory(runs: int) -> ParkedMemory:
    """Memory while `runs` `ainvoke`s of a `PARKED_STEPS`-node chain all wait on the gate."""
    graph = chain_graph(PARKED_STEPS, parked)
    return await parked_memory(lambda _: graph.ainvoke({"n": 0}, _config()), runs)
