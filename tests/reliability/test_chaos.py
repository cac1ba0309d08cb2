"""Chaos: `podium` is SIGKILLed at random moments and resumed; every effect lands exactly once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.reliability.chaos_harness import Storage, chaos_run, chaos_workflow, expected_effects


def test_the_chaos_workflow_has_many_side_effects() -> None:
    text = chaos_workflow(6, 3)
    assert "map: tasks.items.output" in text
    assert "effect: write" in text
    effects = expected_effects(6, 3)
    assert len(effects) == 2 * 4 + 2 * 3 + 2  # writers, mapped writers, model-driven bookings


@pytest.mark.slow
def test_kill_9_and_resume_sqlite(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    storage.create()
    # steps long enough (pause_s) and kills soon enough (max_delay_s) that the run cannot finish
    # before three kills, however fast the machine
    report = chaos_run(
        storage,
        run_id="chaos-sqlite",
        steps=9,
        width=3,
        max_kills=5,
        seed=7,
        pause_s=0.2,
        max_delay_s=0.25,
    )
    assert report.kills >= 3
    assert report.status == "succeeded"
    assert report.duplicate_effects == {}
    assert report.missing_effects == []
    assert report.reruns_after_success == []
    assert report.ok


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_9_and_resume_postgres(tmp_path: Path, postgres_url: str) -> None:
    storage = Storage(tmp_path, postgres_url=postgres_url, tag=uuid.uuid4().hex[:12])
    storage.create()
    try:
        report = chaos_run(
            storage,
            run_id="chaos-pg",
            steps=9,
            width=3,
            max_kills=5,
            seed=11,
            pause_s=0.2,
            max_delay_s=0.25,
        )
    finally:
        storage.drop()
    assert report.kills >= 3
    assert report.status == "succeeded"
    assert report.duplicate_effects == {}
    assert report.missing_effects == []
    assert report.reruns_after_success == []
