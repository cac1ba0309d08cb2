"""`podium stats` and `podium feedback`, run in-process as a user would."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from podium.cli import app
from tests.metrics.conftest import populate


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def ids(tmp_path: Path, store: str) -> dict[str, list[str]]:
    return populate(tmp_path / "runs.db")


def test_stats_table_against_the_targets(store: str, ids: dict[str, list[str]]) -> None:
    result = invoke("stats", "--store", store)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for metric in ("completion_rate", "step_latency", "error_rate", "hallucination_rate"):
        assert metric in out
    assert "33.33%" in out  # completion: 3 of 9
    assert "not met" in out
    assert " met" in out
    assert "runs 9 (failed 5, succeeded 4)" in out
    assert "approvals 2 asked, 1 granted, 1 rejected; mean wait 45.00 s" in out
    assert "loopy" in out
    assert "quick" in out


def test_stats_json_and_filters(store: str, ids: dict[str, list[str]]) -> None:
    result = invoke("stats", "--store", store, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["runs"] == 9
    assert data["totals"]["satisfaction"] == 3.0
    assert [t["metric"] for t in data["targets"]] == [
        "completion_rate",
        "step_latency",
        "error_rate",
        "hallucination_rate",
        "satisfaction",
        "cost_per_run",
    ]
    assert "alerts" not in data
    steady = json.loads(invoke("stats", "--store", store, "--workflow", "doomed", "--json").stdout)
    assert (steady["runs"], steady["totals"]["completion_rate"]) == (2, 0.0)
    last = json.loads(invoke("stats", "--store", store, "--last", "1", "--json").stdout)
    assert last["statuses"] == {"failed": 1}  # loopy, the last run
    # the lab's clock starts in 1970: nothing was created in the last 7 days
    recent = json.loads(invoke("stats", "--store", store, "--since", "7d", "--json").stdout)
    assert recent["runs"] == 0
    assert {t["status"] for t in recent["targets"]} == {"no data"}


def test_stats_of_an_empty_store_says_no_data(store: str) -> None:
    result = invoke("stats", "--store", store)
    assert result.exit_code == 0
    assert "no data" in result.stdout
    assert "runs 0 (none)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "not a duration"),
        (["--since", "0d"], "not a duration"),
        (["--last", "0"], "`last`"),
        (["--alerts", "missing.yaml"], "cannot read the alerts file"),
    ],
)
def test_stats_bad_input_is_a_clean_usage_error(store: str, args: list[str], message: str) -> None:
    result = invoke("stats", "--store", store, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_stats_with_alerts_and_a_dead_webhook(
    tmp_path: Path, store: str, ids: dict[str, list[str]]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "alerts:\n"
        "  - metric: completion_rate\n"
        "    below: 0.98\n"
        f"    webhook: http://127.0.0.1:{port}/down\n"
        "  - metric: step_latency_mean_s\n"
        "    above: 5\n",
        encoding="utf-8",
    )
    result = invoke("stats", "--store", store, "--alerts", rules)
    assert result.exit_code == 0, result.stderr  # a dead webhook does not break stats
    assert "completion_rate<0.98" in result.stdout  # the rule's id (folded to the width)
    assert "firing" in result.stdout
    assert "failed:" in result.stdout
    data = json.loads(invoke("stats", "--store", store, "--alerts", rules, "--json").stdout)
    assert data["runs"] == 9  # the alerts journal is not counted
    first, second = data["alerts"]
    assert (first["state"], first["posted"], first["delivered"]) == ("firing", True, False)
    assert (second["state"], second["posted"]) == ("ok", False)
    shown = json.loads(invoke("show", "podium-alerts", "--store", store, "--json").stdout)
    assert [e["kind"] for e in shown["events"]].count("ContextWritten") == 3


def test_bad_alerts_file_points_at_the_line(tmp_path: Path, store: str) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "alerts:\n  - metric: completion_rate\n    below: 0.9\n  - metric: x\n    above: 1\n"
    )
    result = invoke("stats", "--store", store, "--alerts", rules)
    assert result.exit_code == 2
    assert f"{rules}:4: alert 2: unknown metric 'x'" in result.stderr


def test_feedback_is_recorded_and_counted(store: str, ids: dict[str, list[str]]) -> None:
    run_id = ids["doomed"][0]
    result = invoke(
        "feedback", run_id, "--score", "1", "--comment", "broke", "--as", "cy", "--store", store
    )
    assert result.exit_code == 0, result.stderr
    assert f"rated run {run_id} 1/5 (by cy)" in result.stdout
    given = json.loads(
        invoke("feedback", run_id, "--score", "4", "--store", store, "--json").stdout
    )
    assert (given["kind"], given["score"], given["run_id"]) == ("RunFeedback", 4, run_id)
    assert given["by"]  # the user name by default
    data = json.loads(invoke("stats", "--store", store, "--json").stdout)
    # ann 3 and bob 4 on steady, ann 2 on mixed, cy 1 and the user 4 on doomed
    assert data["totals"]["feedback_count"] == 5
    assert data["totals"]["satisfaction"] == pytest.approx((3 + 4 + 2 + 1 + 4) / 5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--score", "0"], "whole number from 1 to 5"),
        (["--score", "6"], "whole number from 1 to 5"),
        (["--score", "4", "--as", " "], "say who"),
        (["--score", "4", "--comment", "bad \udcff"], "--comment: the text has an unpaired"),
        (["--score", "4", "--as", "\udcfe"], "--as: the text has an unpaired"),
    ],
)
def test_feedback_bad_input(
    store: str, ids: dict[str, list[str]], args: list[str], message: str
) -> None:
    result = invoke("feedback", ids["steady"][0], *args, "--store", store)
    assert result.exit_code == 2
    assert message in result.stderr


def test_feedback_on_an_unknown_run(store: str, ids: dict[str, list[str]]) -> None:
    result = invoke("feedback", "nope", "--score", "3", "--store", store)
    assert result.exit_code == 2
    assert "nope" in result.stderr


def test_feedback_score_must_be_a_number(store: str) -> None:
    result = invoke("feedback", "r", "--score", "great", "--store", store)
    assert result.exit_code == 2
