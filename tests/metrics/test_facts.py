"""The fold of one journal, on events a grounding verifier will write (none does yet)."""

from __future__ import annotations

from podium.events import ErrorInfo, OutputRejected, TaskFailed, TaskStarted, TaskSucceeded
from podium.metrics import GROUNDING
from podium.metrics._facts import fold_run
from podium.metrics._totals import Totals


def test_grounding_rejections_asked_again_and_final_count_once_each() -> None:
    grounding = ErrorInfo(type=GROUNDING, message="claim not in its sources")
    events = [
        TaskStarted(run_id="r", seq=1, ts=10.0, task="a", agent="w"),
        # asked again after a grounding rejection, then fine
        OutputRejected(
            run_id="r", seq=2, ts=11.0, task="a", agent="w", error=grounding, repair=True
        ),
        TaskSucceeded(run_id="r", seq=3, ts=12.0, task="a", agent="w"),
        TaskStarted(run_id="r", seq=4, ts=12.0, task="b", agent="w"),
        # rejected for good: the attempt fails with the same error, which counts it
        OutputRejected(run_id="r", seq=5, ts=13.0, task="b", agent="w", error=grounding),
        TaskFailed(run_id="r", seq=6, ts=13.0, task="b", agent="w", error=grounding),
    ]
    facts = fold_run("r", "wf", 0.0, events)
    w = facts.agents["w"]
    assert (w.attempts, w.outputs, w.failures, w.rejections, w.grounding) == (2, 1, 1, 1, 2)
    assert w.latencies == [2.0, 1.0]
    totals = Totals()
    totals.add(facts)
    n = totals.numbers()
    assert n["hallucination_rate"] == 2 / 3  # 2 rejected of 1 output + 2 rejections
    assert n["error_rate"] == 2 / 3  # 1 failed attempt + 1 answer asked again, of 3 answers
    assert (n["runs"], n["finished_runs"], n["completion_rate"]) == (1, 0, None)
