"""Records the journals replayed by `test_journals.py` (run by hand, never by the tests).

    python tests/journals/record.py VERSION

Each journal is written once, by the Podium version named in its file name, and kept: later
versions must still load it and fold it to the same result.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from podium import Agent, ContextPolicy, MergePolicy, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import encode
from podium.testing import TestModel
from podium.tools import tool

HERE = Path(__file__).parent


@tool
def lookup(term: str) -> str:
    """Look a term up."""
    return f"definition of {term}"


async def split(call: TaskCall) -> list[str]:
    return ["alpha", "beta", "gamma"]


async def note(call: TaskCall) -> str:
    call.context.write("notes", call.item, sources=[f"doc:{call.item}"], confidence=0.9)
    return str(call.item).upper()


async def flaky(call: TaskCall) -> str:
    if call.attempt == 1:
        raise RuntimeError("transient failure")
    return "recovered"


async def broken(call: TaskCall) -> None:
    raise ValueError("this optional step always fails")


AGENTS = [
    Agent(name="splitter", function=split),
    Agent(name="noter", function=note, capabilities=("notes",)),
    Agent(name="flaky", function=flaky),
    Agent(name="broken", function=broken),
    Agent(name="llm", model=TestModel(), tools=(lookup,)),
]

WORKFLOWS = {
    "map_context_model": Workflow(
        name="map_context_model",
        plan=Plan([
            Task(id="split", agent="splitter"),
            Task(id="notes", capability="notes", needs=("split",), map="tasks.split.output"),
            Task(id="ask", agent="llm", needs=("notes",), reads=("notes",),
                 instruction="Define {{ tasks.notes.output[0] }}",
                 output_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}}),
        ], output={"notes": "{{ tasks.notes.output }}", "answer": "{{ tasks.ask.output }}"}),
        context=ContextPolicy(merge={"notes": MergePolicy("append")}),
    ),
    "retry_partial": Workflow(
        name="retry_partial",
        plan=Plan([
            Task(id="try", agent="flaky", retries=2),
            Task(id="extra", agent="broken", optional=True),
            Task(id="end", agent="flaky", needs=("try", "extra"), retries=1),
        ]),
    ),
}


async def main(version: str) -> None:
    for name, wf in WORKFLOWS.items():
        async with Orchestrator(agents=AGENTS, store="memory://") as orch:
            result = await orch.run(wf, run_id=f"{name}-{version}")
            events = await orch.events(result.run_id)
        stem = f"{name}.v{version}"
        (HERE / f"{stem}.jsonl").write_bytes(b"\n".join(encode(e) for e in events) + b"\n")
        expected: dict[str, Any] = {
            "status": result.status,
            "output": result.output,
            "tasks": {tid: t["status"] for tid, t in result.tasks.items()},
            "usage": [result.usage.input_tokens, result.usage.output_tokens],
        }
        (HERE / f"{stem}.expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
