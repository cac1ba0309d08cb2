"""`compensate:` in workflow files, and undos of mapped tasks."""

from __future__ import annotations

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, TaskCall, Workflow, tool
from podium.events import TaskCompensated
from podium.plan import Compensation, load_workflow_text
from podium.runtime._compensate import compensate, rollback_status

pytestmark = pytest.mark.anyio

HEAD = """\
name: saga
agents:
  w: {model: test}
tasks:
  - id: book
    agent: w
"""


def test_a_tool_undo_compiles_into_the_task() -> None:
    wf = load_workflow_text(
        HEAD + "    compensate: {tool: cancel, arguments: {id: '{{ tasks.book.output }}'}}\n"
    )
    comp = wf.plan.tasks["book"].compensate
    assert comp == Compensation(tool="cancel", arguments={"id": "{{ tasks.book.output }}"})


def test_an_agent_undo_compiles_into_the_task() -> None:
    wf = load_workflow_text(HEAD + "    compensate: {agent: w, instruction: undo it}\n")
    assert wf.plan.tasks["book"].compensate == Compensation(agent="w", instruction="undo it")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{tool: cancel, agent: w}", "give either `tool`"),
        ("{}", "give either `tool`"),
        ("{agent: w, arguments: {x: 1}}", "`arguments` go to a `tool`"),
        ("{agent: w}", "`instruction` is empty"),
        ("{tool: cancel, undo: x}", "undo"),
    ],
)
def test_a_bad_undo_is_refused_with_its_line(body: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"saga.yaml:7: tasks\[0\].compensate") as info:
        load_workflow_text(HEAD + f"    compensate: {body}\n", path="saga.yaml")
    assert says in str(info.value)


async def test_a_mapped_task_is_undone_item_by_item() -> None:
    undone: list[str] = []

    async def work(call: TaskCall) -> str:
        if call.task_id == "boom":
            raise ValueError("no")
        return f"seat-{call.item}"

    async def cancel(seat: str) -> None:
        """Free a seat."""
        undone.append(seat)

    comp = Compensation(tool="cancel", arguments={"seat": "{{ item }}"})
    plan = Plan(
        [
            Task(id="seats", agent="w", map="inputs.xs", compensate=comp),
            Task(id="boom", agent="w", needs=("seats",)),
        ]
    )
    agent = Agent(name="w", function=work, tools=(tool(cancel, effect="write"),))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        await orch.run(Workflow(name="saga", plan=plan), inputs={"xs": ["a", "b"]}, run_id="r")
        events = await orch.events("r")
    assert undone == ["b", "a"]
    tasks = [e.task for e in events if isinstance(e, TaskCompensated) and e.phase == "succeeded"]
    assert tasks == ["seats[1]", "seats[0]"]


async def test_undo_arguments_nest_and_a_bad_template_or_a_failing_agent_fails_that_undo() -> None:
    got: list[object] = []

    async def work(call: TaskCall) -> str:
        if call.task_id == "boom":
            raise ValueError("no")
        return f"out-{call.task_id}"

    async def cancel(what: list[dict[str, str]]) -> None:
        """Cancel things."""
        got.append(what)

    async def grumpy(call: TaskCall) -> str:
        raise RuntimeError("will not undo")

    nested = Compensation(tool="cancel", arguments={"what": [{"id": "{{ tasks.a.output }}"}]})
    plan = Plan(
        [
            Task(id="a", agent="w", compensate=nested),
            Task(
                id="b",
                agent="w",
                needs=("a",),
                compensate=Compensation(tool="cancel", arguments={"what": "{{ tasks.zz.output }}"}),
            ),
            Task(
                id="d",
                agent="w",
                needs=("b",),
                compensate=Compensation(agent="grumpy", instruction="undo {{ tasks.d.output }}"),
            ),
            Task(id="e", agent="w", needs=("d",)),
            Task(id="boom", agent="w", needs=("e",)),
        ]
    )
    agents = [
        Agent(name="w", function=work, tools=(tool(cancel, effect="write"),)),
        Agent(name="grumpy", function=grumpy),
    ]
    async with Orchestrator(agents=agents, store="memory://") as orch:
        result = await orch.run(Workflow(name="saga", plan=plan), run_id="r")
        state = await orch.state("r")
    assert got == [[{"id": "out-a"}]]
    phases = {
        t: (c.phase, c.error.message if c.error else "") for t, c in state.compensations.items()
    }
    assert phases["a"] == ("succeeded", "")
    assert phases["b"][0] == phases["d"][0] == "failed"
    assert "'zz' is not available" in phases["b"][1]
    assert "will not undo" in phases["d"][1]
    assert "undoing 'd', 'b' failed" in result.message
    assert rollback_status(state) == "incomplete"
    assert "e" not in state.compensable


async def test_a_run_without_undos_has_nothing_to_roll_back() -> None:
    async def work(call: TaskCall) -> str:
        raise ValueError("no")

    plan = Plan([Task(id="a", agent="w")])
    async with Orchestrator(agents=[Agent(name="w", function=work)], store="memory://") as orch:
        await orch.run(Workflow(name="plain", plan=plan), run_id="r")
        state = await compensate(orch, "r", retry_failed=True)
        events = await orch.events("r")
    assert rollback_status(state) == "none"
    assert not any(isinstance(e, TaskCompensated) for e in events)
