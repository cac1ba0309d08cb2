"""Tables, timelines and JSON of the commands."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from podium.cli import _render as render
from podium.events import (
    AnyEvent,
    ContextWritten,
    ErrorInfo,
    ModelCalled,
    PlanAccepted,
    PlanExtended,
    RunPartiallySucceeded,
    RunSubmitted,
    TaskFailed,
    TaskRetrying,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
    Usage,
)
from podium.runtime import RunResult, RunState


def text(renderable: object, width: int = 120) -> str:
    console = Console(width=width, force_terminal=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0.0, "0.00s"), (1.234, "1.23s"), (75.0, "1m15s"), (3725.0, "1h02m")],
)
def test_duration(seconds: float | None, shown: str) -> None:
    assert render.duration(seconds) == shown


@pytest.mark.parametrize(
    ("event", "shown"),
    [
        (PlanAccepted(run_id="r", seq=1, ts=0, tasks=[{"id": "a"}, {"id": "b"}]), "2 tasks"),
        (
            PlanExtended(run_id="r", seq=1, ts=0, parent="m", tasks=[{"id": "m[0]"}]),
            "1 sub-tasks of m",
        ),
        (
            ModelCalled(
                run_id="r",
                task="t",
                seq=1,
                ts=0,
                agent="a",
                model="test",
                input_tokens=5,
                output_tokens=7,
                latency_s=0.25,
            ),
            "test 5+7 tokens 0.25s",
        ),
        (
            ToolCalled(
                run_id="r",
                task="t",
                seq=1,
                ts=0,
                agent="a",
                tool="search",
                arguments={"q": "x"},
                result=["hit"],
            ),
            'search({"q": "x"}) → ["hit"]',
        ),
        (
            ToolCalled(run_id="r", task="t", seq=1, ts=0, agent="a", tool="search", error="down"),
            "search({}) → error: down",
        ),
        (
            TaskFailed(
                run_id="r",
                task="t",
                seq=1,
                ts=0,
                error=ErrorInfo(type="timeout", message="slow"),
                final=False,
            ),
            "timeout: slow (will retry)",
        ),
        (
            TaskRetrying(run_id="r", task="t", seq=1, ts=0, attempt=2, delay_s=0.5),
            "attempt=2 delay_s=0.5",
        ),
        (TaskStarted(run_id="r", task="t", seq=1, ts=0, agent="a"), "attempt=1"),
        (
            ContextWritten(run_id="r", task="t", seq=1, ts=0, key="k", value={"v": 1}, version=3),
            'key=k version=3 value={"v": 1}',
        ),
        (
            TaskSucceeded(run_id="r", task="t", seq=1, ts=0, output="x" * 100),
            "output=" + "x" * 59 + "…",
        ),
        (
            RunPartiallySucceeded(run_id="r", seq=1, ts=0, missing=["c"], reason="optional"),
            'missing=["c"] reason=optional',
        ),
    ],
)
def test_event_details(event: AnyEvent, shown: str) -> None:
    assert render.details(event) == shown


def mapped_state() -> RunState:
    state = RunState("r")
    events: list[AnyEvent] = [
        RunSubmitted(run_id="r", seq=0, ts=10.0),
        PlanAccepted(run_id="r", seq=1, ts=10.0, tasks=[{"id": "m"}, {"id": "z", "needs": ["m"]}]),
        PlanExtended(
            run_id="r",
            seq=2,
            ts=10.0,
            parent="m",
            tasks=[
                {"id": "m[1]", "parent": "m", "index": 1},
                {"id": "m[0]", "parent": "m", "index": 0},
            ],
        ),
        TaskStarted(run_id="r", seq=3, ts=10.5, task="m[0]", agent="w"),
        TaskSucceeded(
            run_id="r",
            seq=4,
            ts=11.0,
            task="m[0]",
            agent="w",
            output=1,
            usage=Usage(input_tokens=1000, output_tokens=234),
        ),
    ]
    for ev in events:
        state.apply(ev)
    return state


def test_sub_tasks_sit_under_their_parent_in_order() -> None:
    state = mapped_state()
    assert [t.task.id for t in render.ordered_tasks(state)] == ["m", "m[0]", "m[1]", "z"]
    rows = text(render.task_table(state, now=12.0)).splitlines()
    assert rows[2].split() == ["└", "m[0]", "succeeded", "w", "1", "0.50s", "1,234"]
    assert rows[3].split() == ["└", "m[1]", "pending", "-", "-", "-", "-"]


def test_result_with_structured_output_and_usage() -> None:
    result = RunResult(
        run_id="r9",
        status="partially_succeeded",
        reason="optional tasks did not succeed: c",
        output={"answer": [1, 2]},
        tasks={"a": {}, "c": {}},
        usage=Usage(input_tokens=1200, output_tokens=34, cost_usd=0.01234),
        elapsed_s=2.5,
    )
    shown = text(render.result_renderable(result))
    assert "run r9 partially succeeded" in shown
    assert "optional tasks did not succeed: c" in shown
    assert json.loads(shown[shown.index("{") : shown.rindex("}") + 1]) == {"answer": [1, 2]}
    assert shown.splitlines()[-1] == ("2 tasks · 2.50s · 1,234 tokens (1,200 in, 34 out) · $0.0123")


def test_error_text_does_not_repeat_the_type() -> None:
    assert render.error_text({"type": "ValueError", "message": "ValueError: x"}) == "ValueError: x"
    assert render.error_text({"type": "timeout", "message": "slow"}) == "timeout: slow"


def test_dump_json_handles_journal_values() -> None:
    assert json.loads(render.dump_json({"u": Usage(input_tokens=1), "t": (1, 2)})) == {
        "u": {"input_tokens": 1},
        "t": [1, 2],
    }
