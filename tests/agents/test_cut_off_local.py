"""A free-text answer of the embedded SmolLM2 cut off at a small token limit is continued."""

from __future__ import annotations

import msgspec
import pytest

from podium import Agent, Orchestrator, Plan, Task
from podium.events import ModelCalled, OutputRejected, TaskSucceeded
from podium.models import Model, ModelRequest, ModelResponse, UserMessage
from podium.models._base import ModelWrapper
from podium.models._registry import resolve_model
from podium.reliability._output import CONTINUE_PROMPT, cut_off_note, join_continued

pytestmark = [pytest.mark.slow, pytest.mark.model_requests, pytest.mark.anyio]

MAX_TOKENS = 24


class ShortAnswers(ModelWrapper):
    """The model with a small output token limit, so that an ordinary answer is cut off."""

    def __init__(self, model: Model) -> None:
        super().__init__(model)
        self.requests: list[ModelRequest] = []
        self.responses: list[ModelResponse] = []

    async def request(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        response = await self.inner.request(msgspec.structs.replace(request, max_tokens=MAX_TOKENS))
        self.responses.append(response)
        return response


async def test_the_local_model_is_asked_to_continue_a_cut_off_answer() -> None:
    pytest.importorskip("llama_cpp")
    model = ShortAnswers(resolve_model("local:smollm2"))
    writer = Agent(name="writer", model=model, instructions="You explain science to children.")
    task = Task(
        id="t", agent="writer", instruction="Explain in three sentences why the sky is blue."
    )
    async with Orchestrator(agents=[writer], store="memory://") as orch:
        result = await orch.run(Plan([task]))
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    first, *more = model.responses
    assert first.finish_reason == "length"  # the answer did not fit: it was cut off
    assert more  # and the model was asked for the rest, in the same attempt
    for request in model.requests[1:]:
        assert request.messages[-1] == UserMessage(content=CONTINUE_PROMPT)
    cuts = [e for e in journal if isinstance(e, OutputRejected)]
    assert [(e.error.type, e.repair) for e in cuts] == [("output_truncated", True)] * len(more)
    assert len([e for e in journal if isinstance(e, ModelCalled)]) == len(model.responses)
    texts = [r.text or "" for r in model.responses]
    expected = join_continued(texts)
    if model.responses[-1].finish_reason == "length":  # still cut off when the rounds ran out
        expected = cut_off_note(expected, len(texts))
    [done] = [e for e in journal if isinstance(e, TaskSucceeded)]
    assert done.output == expected
