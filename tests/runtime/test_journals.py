"""Journals recorded by earlier versions (tests/journals/) still load, fold and resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from podium import Orchestrator
from podium.events import RunSubmitted, TaskSucceeded, decode
from podium.runtime import RunResult, RunState
from podium.store import MemoryStore

JOURNALS = Path(__file__).parent.parent / "journals"
RECORDED = sorted(JOURNALS.glob("*.jsonl"))
sys.path.insert(0, str(JOURNALS))
from record import AGENTS, WORKFLOWS  # noqa: E402

pytestmark = pytest.mark.anyio


def load(path: Path) -> list:  # type: ignore[type-arg]
    return [decode(line) for line in path.read_bytes().splitlines() if line]


def expected(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.with_name(path.name.replace(".jsonl", ".expected.json")).read_text())


def test_there_are_recorded_journals() -> None:
    assert len(RECORDED) >= 2


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_recorded_journal_folds_to_the_recorded_result(path: Path) -> None:
    events = load(path)
    state = RunState.from_events(events[0].run_id, events)
    result = RunResult.from_state(state)
    want = expected(path)
    assert result.status == want["status"]
    assert result.output == want["output"]
    assert {tid: t["status"] for tid, t in result.tasks.items()} == want["tasks"]
    assert [result.usage.input_tokens, result.usage.output_tokens] == want["usage"]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
async def test_recorded_journal_cut_short_resumes_to_the_same_result(path: Path) -> None:
    events = load(path)
    first_success = next(i for i, e in enumerate(events) if isinstance(e, TaskSucceeded))
    cut = events[: first_success + 1]  # as if the process died right after the first success
    assert isinstance(cut[0], RunSubmitted)
    store = MemoryStore()
    run_id = cut[0].run_id
    await store.create_run(run_id, cut[0])
    await store.append(run_id, cut[1:])
    workflow = WORKFLOWS[path.name.split(".v")[0]]
    async with Orchestrator(agents=AGENTS, store=store) as orch:
        result = await orch.resume(run_id, workflow=workflow)
        journal = await orch.events(run_id)
    want = expected(path)
    assert result.status == want["status"]
    assert result.output == want["output"]
    assert journal[: len(cut)] == cut
    done_once = [e.task for e in journal if isinstance(e, TaskSucceeded)]
    assert len(done_once) == len(set(done_once))
