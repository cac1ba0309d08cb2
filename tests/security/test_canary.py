"""Canary: a secret planted in the environment, a tool's output and a model's answer reaches
no sink — SQLite bytes, Postgres rows, exported spans, log records, CLI output, API responses.

The scenario is `bench/canary.py` (which prints the table); each sink must also hold the
redaction mark, which shows the secret did reach it and was replaced.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from podium.secrets import forget_all

BENCH = Path(__file__).parents[2] / "bench" / "canary.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("podium_bench_canary", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench() -> Iterator[ModuleType]:
    yield _load()
    forget_all()


def _check(found: dict[str, tuple[bool, int]], sinks: set[str]) -> None:
    assert set(found) == sinks
    leaked = [sink for sink, (hit, _) in found.items() if hit]
    assert leaked == []
    unreached = [sink for sink, (_, marks) in found.items() if marks == 0]
    assert unreached == []  # else the canary never got there and "absent" proves nothing


SINKS = {"SQLite file bytes", "exported spans", "log records", "CLI stdout/stderr", "API responses"}


@pytest.mark.slow
def test_the_canary_is_absent_from_every_sink(bench: ModuleType, tmp_path: Path) -> None:
    _check(bench.canary(tmp_path), SINKS)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_canary_is_absent_from_postgres_rows(
    bench: ModuleType, tmp_path: Path, postgres_url: str
) -> None:
    _check(bench.canary(tmp_path, postgres_url), SINKS | {"Postgres rows"})


def test_without_registration_the_canary_is_found(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: with resolved secrets not registered, the sinks do hold the value."""
    monkeypatch.setattr("podium.secrets._ref.register", lambda value, label: False)
    monkeypatch.setattr(bench, "cli_output", lambda store, run_id: "")  # no process: quicker
    found = bench.canary(tmp_path)
    assert {sink: hit for sink, (hit, _) in found.items()} == {
        **dict.fromkeys(SINKS - {"CLI stdout/stderr"}, True),
        "CLI stdout/stderr": False,
    }
