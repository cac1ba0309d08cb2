"""Retries: policies, backoff journaled and waited out by the attempt, varied prompts, resume."""

from __future__ import annotations

import random

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import ErrorInfo, ModelCalled, TaskFailed, TaskRetrying, TaskStarted
from podium.exceptions import TaskError
from podium.models import ModelRequest, UserMessage
from podium.models._errors import AuthenticationError, RateLimited
from podium.reliability import Reliability, RetryPolicy, retry_note
from podium.store import MemoryStore
from podium.testing import FakeClock, ScriptedModel
from tests.helpers import ProcessDeath

from .helpers import kinds, of, run_plan

pytestmark = pytest.mark.anyio

ERR = ErrorInfo(type="timeout", message="slow", retryable=True)


def test_backoff_grows_is_capped_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=1, multiplier=3, max_backoff_s=20, jitter=0)
    assert [policy.delay_s(n) for n in range(1, 6)] == [1, 3, 9, 20, 20]
    jittery = RetryPolicy(backoff_s=10, jitter=0.5)
    rng = random.Random(1)
    delays = [jittery.delay_s(1, rng=rng) for _ in range(200)]
    assert all(5 <= d <= 10 for d in delays)
    assert len(set(delays)) > 100
    limited = ErrorInfo(type="RateLimited", message="", retryable=True, retry_after_s=30)
    assert jittery.delay_s(1, limited, rng) == 30  # the provider's Retry-After is a floor


def test_which_errors_retry() -> None:
    assert RetryPolicy().retries_error(ERR)
    assert not RetryPolicy().retries_error(ErrorInfo(type="x", message="", retryable=False))
    only = RetryPolicy(on=("output_invalid",))
    assert not only.retries_error(ERR)
    assert only.retries_error(ErrorInfo(type="output_invalid", message=""))
    assert RetryPolicy.from_retries(2) == RetryPolicy(attempts=3, backoff_s=0, jitter=0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("attempts", 0), ("backoff_s", -1), ("multiplier", 0.5), ("jitter", 1.5)],
)
def test_bad_policies_are_config_errors(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        RetryPolicy(**{field: value})


def test_retry_note_shows_the_error_and_output_and_varies() -> None:
    error = ErrorInfo(type="output_invalid", message="not JSON", raw_output="x" * 5000)
    notes = [retry_note(n, error) for n in (2, 3, 4)]
    assert len(set(notes)) == 3
    assert "output_invalid: not JSON" in notes[0]
    assert "Its output was:\nxxx" in notes[0]
    assert "more chars" in notes[0]
    assert retry_note(2, None) == ""


def flaky(fail_times: int, error: Exception | None = None) -> tuple[Agent, list[TaskCall]]:
    calls: list[TaskCall] = []

    async def work(call: TaskCall) -> str:
        calls.append(call)
        if len(calls) <= fail_times:
            raise error or TaskError("try again", kind="flaky")
        return "done"

    return Agent(name="flaky", function=work), calls


async def test_delay_is_journaled_and_waited_by_the_attempt_not_the_scheduler() -> None:
    clock = FakeClock(1000.0)
    agent, calls = flaky(2)
    seen: list[float] = []

    async def other(call: TaskCall) -> float:
        seen.append(clock.time())
        return clock.time()

    policy = RetryPolicy(attempts=3, backoff_s=10, multiplier=2, jitter=0)
    plan = Plan(
        [
            Task(id="a", agent="flaky", retry=policy),
            Task(id="b", agent="other"),
            Task(id="c", agent="other", needs=("b",)),
        ]
    )
    result, journal = await run_plan(plan, agent, Agent(name="other", function=other), clock=clock)
    assert result.status == "succeeded"
    retrying = of(journal, TaskRetrying, "a")
    assert [(r.attempt, r.delay_s) for r in retrying] == [(2, 10.0), (3, 20.0)]
    started = [e.ts for e in of(journal, TaskStarted, "a")]
    failed = [e.ts for e in of(journal, TaskFailed, "a")]
    assert [c.attempt for c in calls] == [1, 2, 3]
    assert failed == [1000.0, 1010.0]  # each attempt ran once its delay had passed
    assert journal[-1].ts == 1030.0
    assert seen == [1000.0, 1000.0]  # b and c did not wait for a's backoff
    assert started[1] == 1000.0  # the attempt started (holding its slot) and waited itself
    assert "The previous attempt failed with flaky: try again" in calls[1].instruction


async def test_plain_retries_still_retry_at_once() -> None:
    agent, _calls = flaky(2)
    result, journal = await run_plan(Plan([Task(id="a", agent="flaky", retries=2)]), agent)
    assert result.status == "succeeded"
    assert [r.delay_s for r in of(journal, TaskRetrying)] == [0.0, 0.0]
    assert kinds(journal, "a").count("TaskFailed") == 2


async def test_retry_policy_comes_from_task_then_agent_then_orchestrator() -> None:
    clock = FakeClock()
    agent, _ = flaky(1)
    agent = Agent(name="flaky", function=agent.function, retry=RetryPolicy(backoff_s=7, jitter=0))
    _, journal = await run_plan(Plan([Task(id="a", agent="flaky")]), agent, clock=clock)
    assert [r.delay_s for r in of(journal, TaskRetrying)] == [7.0]

    bare, _ = flaky(1)
    reliability = Reliability(retry=RetryPolicy(backoff_s=3, jitter=0))
    _, journal = await run_plan(
        Plan([Task(id="a", agent="flaky")]), bare, clock=clock, reliability=reliability
    )
    assert [r.delay_s for r in of(journal, TaskRetrying)] == [3.0]

    bare, _ = flaky(1)
    task = Task(id="a", agent="flaky", retry=RetryPolicy(backoff_s=1, jitter=0))
    _, journal = await run_plan(Plan([task]), bare, clock=clock, reliability=reliability)
    assert [r.delay_s for r in of(journal, TaskRetrying)] == [1.0]


async def test_only_listed_error_types_retry() -> None:
    agent, calls = flaky(1, TaskError("bad", kind="permanent_thing"))
    task = Task(id="a", agent="flaky", retry=RetryPolicy(backoff_s=0, on=("timeout",)))
    result, _ = await run_plan(Plan([task]), agent)
    assert result.status == "failed"
    assert len(calls) == 1


async def test_provider_errors_keep_their_retryability_and_retry_after() -> None:
    clock = FakeClock()
    model = ScriptedModel(
        [RateLimited("slow down", provider="test", retry_after_s=42), "fine"], name="m"
    )
    task = Task(id="a", agent="m", retry=RetryPolicy(backoff_s=1, jitter=0))
    result, journal = await run_plan(Plan([task]), Agent(name="m", model=model), clock=clock)
    assert result.status == "succeeded"
    [failed] = of(journal, TaskFailed)
    assert (failed.error.type, failed.error.retry_after_s) == ("RateLimited", 42)
    assert of(journal, TaskRetrying)[0].delay_s == 42

    denied = ScriptedModel([AuthenticationError("bad key", provider="test")], name="m")
    result, journal = await run_plan(Plan([task]), Agent(name="m", model=denied), clock=clock)
    assert result.status == "failed"
    assert not of(journal, TaskRetrying)
    assert of(journal, TaskFailed)[0].error.retryable is False


async def test_model_agents_see_the_previous_output_on_a_retry() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    model = ScriptedModel(["nope", "still nope", "again no", {"n": 1}], name="m")
    task = Task(id="a", agent="m", output_schema=schema, retries=1)
    result, journal = await run_plan(Plan([task]), Agent(name="m", model=model))
    assert result.status == "succeeded"
    second_attempt: ModelRequest = model.requests[2]
    prompt = next(m.content for m in second_attempt.messages if isinstance(m, UserMessage))
    assert "(Attempt 2. The previous attempt failed with output_invalid" in prompt
    assert "Its output was:\nstill nope" in prompt
    assert len(of(journal, ModelCalled)) == 4


async def test_a_resumed_run_waits_only_what_is_left_of_the_delay() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore()
    calls: list[float] = []

    death = ProcessDeath()

    async def work(call: TaskCall) -> str:
        calls.append(clock.time())
        if len(calls) == 1:
            raise TaskError("transient", kind="flaky")
        death.now()

    policy = RetryPolicy(attempts=5, backoff_s=100, max_backoff_s=1e3, jitter=0)
    wf = Workflow(name="plan", plan=Plan([Task(id="a", agent="w", retry=policy)]))
    async with Orchestrator(agents=[Agent(name="w", function=work)], store=store, clock=clock) as o:
        await death.run(o.run(wf, run_id="r"))
    assert calls == [0.0, 100.0]

    # a new process picks the run up 60s after the failure
    later = FakeClock(60.0)
    resumed: list[float] = []

    async def healthy(call: TaskCall) -> str:
        resumed.append(later.time())
        return "ok"

    agent = Agent(name="w", function=healthy)
    async with Orchestrator(agents=[agent], store=store, clock=later) as orch:
        result = await orch.resume("r", workflow=wf, upgrade=True)  # another agent function
    assert result.status == "succeeded"
    assert resumed == [100.0]  # it waited the 40s left, not another 100s
