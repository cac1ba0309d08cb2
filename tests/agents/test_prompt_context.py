"""What a model-driven agent is shown: its role, the context keys it reads, its needs' outputs.

(`test_model_agent.py::test_model_by_name_and_context_in_prompt` only checks the answer.)
"""

from __future__ import annotations

import json

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall
from podium.models import ModelRequest, SystemMessage, UserMessage
from podium.testing import FunctionModel

pytestmark = pytest.mark.anyio


def note(call: TaskCall) -> str:
    call.context.write("tide", {"cause": "the Moon"})
    call.context.write("secret", "not for the writer")
    return "noted"


async def test_the_model_sees_the_keys_it_reads_and_the_outputs_it_needs() -> None:
    seen: list[ModelRequest] = []

    def model(request: ModelRequest) -> str:
        seen.append(request)
        return "written"

    writer = Agent(
        name="writer",
        description="Writes short notes.",
        instructions="You write for children.",
        model=FunctionModel(model),
    )
    plan = Plan(
        [
            Task(id="n", agent="note"),
            Task(
                id="w", agent="writer", instruction="Explain tides", needs=("n",), reads=("tide",)
            ),
        ]
    )
    async with Orchestrator(agents=[Agent(name="note", function=note), writer]) as orch:
        result = await orch.run(plan)
    assert result.output == "written"
    [request] = seen
    system, user = request.messages
    assert isinstance(system, SystemMessage)
    assert system.content.startswith("You write for children.")
    assert "Your speciality: Writes short notes." in system.content
    shared = system.content.split("Shared context:\n", 1)[1]
    assert json.loads(shared) == {"tide": {"cause": "the Moon"}}  # only the key it reads
    assert isinstance(user, UserMessage)
    instruction, results = user.content.split("\n\nResults of earlier tasks:\n")
    assert instruction == "Explain tides"
    assert json.loads(results) == {"n": "noted"}
