"""The terminal as a new user finds it: one store per user, the lines a run ends with, the
columns of `podium runs`, the summary of `podium show`, nothing cut at the terminal's width."""

from __future__ import annotations

import io
import shlex
import time
from pathlib import Path

import pytest
from rich.console import Console

from podium.cli._hints import approval_block, decide_lines, me
from podium.cli._render import when
from podium.cli._store import default_store_url, store_flag, store_url, user_store_path, where
from podium.policy import Approval
from tests.cli.helpers import DATA, invoke, invoke_json

REPORT = DATA / "report.yaml"
MODELED = DATA / "modeled.yaml"
APPROVALS = Path(__file__).parents[1] / "approvals" / "data"


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_the_default_store_is_one_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "podium" / "podium.db"
    assert default_store_url() == str(expected)  # its folder is created
    assert expected.parent.is_dir()
    ran = invoke("run", REPORT, "-i", "topic=a", "--run-id", "mine")
    assert ran.exit_code == 0, ran.stderr
    assert expected.is_file()
    assert not (tmp_path / "podium.db").exists()  # not the folder the command ran in
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _, listed = invoke_json("runs")
    assert [r["run_id"] for r in listed] == ["mine"]
    assert _lines(ran.stdout)[-2:] == [f"stored in: {expected}", "see it again: podium show mine"]


def test_store_option_then_environment_then_user_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_db, flag_db = tmp_path / "env.db", tmp_path / "flag.db"
    assert store_url(None) == default_store_url()
    monkeypatch.setenv("PODIUM_STORE", str(env_db))
    assert store_url(None) == str(env_db)
    assert store_url(str(flag_db)) == str(flag_db)
    invoke_json("run", REPORT, "-i", "topic=e", "--run-id", "from-env")
    invoke_json("run", REPORT, "-i", "topic=f", "--run-id", "from-flag", "--store", flag_db)
    assert [r["run_id"] for r in invoke_json("runs")[1]] == ["from-env"]
    assert [r["run_id"] for r in invoke_json("runs", "--store", flag_db)[1]] == ["from-flag"]
    assert not user_store_path().exists()  # neither run touched the per-user store


def test_the_end_hint_names_the_store_when_it_is_not_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = invoke("run", REPORT, "-i", "topic=h", "--run-id", "h1", "--store", "sqlite:///rel.db")
    assert ran.exit_code == 0
    absolute = tmp_path / "rel.db"
    assert _lines(ran.stdout)[-2:] == [
        f"stored in: {absolute}",
        f"see it again: podium show h1 --store {absolute}",
    ]
    shown = invoke(*shlex.split(_lines(ran.stdout)[-1].partition(": ")[2])[1:])
    assert shown.exit_code == 0  # the hint works from another folder: its path is absolute
    assert "run h1 succeeded" in shown.stdout
    monkeypatch.setenv("PODIUM_STORE", str(absolute))
    assert store_flag(str(absolute)) == ""  # the same as without --store
    assert store_flag("sqlite:///rel.db") == ""
    resumed = invoke("resume", "h1", "--store", absolute)
    assert _lines(resumed.stdout)[-1] == "see it again: podium show h1"
    cancelled = invoke("cancel", "h1", "--store", tmp_path / "rel.db")
    assert _lines(cancelled.stdout)[-1] == "see it again: podium show h1"


def test_created_is_short_today_and_dated_before() -> None:
    now = time.mktime((2026, 12, 7, 15, 0, 0, 0, 0, -1))
    assert when(now - 3600, now=now) == "14:00:00"
    assert when(now - 86400, now=now) == "2026-12-06 15:00"


def test_hints_never_print_a_password() -> None:
    url = "postgresql://ann:s3cret@db.example:5432/podium"
    assert store_flag(url) == " --store postgresql://ann@db.example:5432/podium"
    assert where(url) == "postgresql://db.example:5432/podium"
    assert where("memory://") == "memory (gone when this command ends)"


def test_runs_shows_duration_tokens_and_cost(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line a run, to read the columns back
    prices = tmp_path / "prices.yaml"
    prices.write_text("test:test: {input_per_mtok: 1000000, output_per_mtok: 2000000}\n")
    _, modeled = invoke_json("run", MODELED, "--store", store, "--run-id", "m1", "--prices", prices)
    invoke_json("run", REPORT, "--store", store, "--run-id", "fn", "-i", "topic=x")
    used = modeled["usage"]
    assert used["cost_usd"] == used["input_tokens"] + 2 * used["output_tokens"] > 0

    code, runs = invoke_json("runs", "--store", store)
    assert code == 0
    by_id = {r["run_id"]: r for r in runs}
    assert by_id["m1"]["usage"] == used
    assert by_id["fn"]["usage"] == {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    assert by_id["m1"]["duration_s"] == by_id["m1"]["updated_at"] - by_id["m1"]["created_at"]

    table = invoke("runs", "--store", store)
    header, *rows = _lines(table.stdout)
    assert header.split() == [
        "run", "name", "status", "created", "duration", "tokens", "cost", "driven", "by",
    ]  # fmt: skip
    row = next(r.split() for r in rows if r.startswith("m1 "))
    total = used["input_tokens"] + used["output_tokens"]
    assert row[-3:] == [f"{total:,}", f"${used['cost_usd']:.4f}", "-"]
    assert row[-4].endswith("s")  # a duration
    fn_row = next(r.split() for r in rows if r.startswith("fn "))
    assert fn_row[-3:] == ["-", "-", "-"]


def test_show_summarises_time_tokens_and_cost_per_agent(store: str, tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("test:test: {input_per_mtok: 1000000, output_per_mtok: 0}\n")
    _, ran = invoke_json("run", MODELED, "--store", store, "--run-id", "s1", "--prices", prices)
    used = ran["usage"]
    total = used["input_tokens"] + used["output_tokens"]
    shown = _lines(invoke("show", "s1", "--store", store).stdout)
    took = next(line for line in shown if line.startswith("took "))
    assert took.split(" · ")[1:] == [
        f"{total:,} tokens ({used['input_tokens']:,} in, {used['output_tokens']:,} out)",
        f"${used['cost_usd']:.4f}",
    ]
    header = shown.index(next(line for line in shown if line.split()[:2] == ["agent", "tasks"]))
    assert shown[header + 1].split()[:3] == ["thinker", "1", "1"]
    assert shown[header + 1].split()[-2:] == [f"{total:,}", f"${used['cost_usd']:.4f}"]
    _, as_json = invoke_json("show", "s1", "--store", store)
    assert as_json["usage"] == used


def test_a_parked_run_prints_the_commands_that_decide_it(store: str) -> None:
    parked = invoke("run", APPROVALS / "gated.yaml", "--store", store, "--run-id", "p1")
    assert parked.exit_code == 1
    lines = _lines(parked.stdout)
    flag = store_flag(store)
    approve = f"podium approve p1 send --as {shlex.quote(me())}{flag}"
    assert f"approve: {approve}" in lines
    assert f"reject:  podium reject p1 send --as {shlex.quote(me())}{flag}" in lines
    assert "waits for approval to run task 'send'" in lines
    done = invoke(*shlex.split(approve)[1:])  # the very line, as printed, decides it
    assert done.exit_code == 0, done.stderr
    assert "run p1 succeeded" in done.stdout
    assert _lines(done.stdout)[-1] == f"see it again: podium show p1{flag}"


def test_approvals_show_the_exact_action_and_how_to_decide(store: str) -> None:
    invoke("run", APPROVALS / "payment.yaml", "--store", store, "--run-id", "pay1")
    listed = invoke("approvals", "--store", store)
    assert listed.exit_code == 0
    [pending] = invoke_json("approvals", "--store", store)[1]
    assert pending["action"] == "tool"
    text = listed.stdout
    assert "call tool: pay" in text
    for name, value in pending["arguments"].items():
        assert f'"{name}": "{value}"' in text  # every argument, whole
    who = shlex.quote(me())
    assert f"approve: podium approve pay1 pay --as {who}{store_flag(store)}" in _lines(text)
    assert f"reject:  podium reject pay1 pay --as {who}{store_flag(store)}" in _lines(text)


def test_long_output_wraps_and_is_never_cut(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    topic = "w" * 150 + " and " + " ".join(f"word{i}" for i in range(60))
    ran = invoke("run", REPORT, "--store", store, "--run-id", "long", "-i", f"topic={topic}")
    assert ran.exit_code == 0
    report = ran.stdout.split("stored in:")[0]  # the command lines after it stay whole
    assert max(len(line) for line in report.splitlines()) <= 40
    whole = "".join(ran.stdout.split())
    expected = " / ".join(f"{topic} point {i + 1}".upper() for i in range(2))
    assert "".join(expected.split()) in whole
    shown = invoke("show", "long", "--store", store)
    timeline = shown.stdout.split("details are shortened")[0]
    assert max(len(line) for line in timeline.splitlines()) <= 40
    hint = f"`podium show long{store_flag(store)} --json` gives every event whole"
    assert "".join(hint.split()) in "".join(shown.stdout.split())


def test_a_result_review_shows_the_whole_draft_at_any_width() -> None:
    draft = {"summary": "the tides " * 40, "sources": ["https://example.org/" + "x" * 90]}
    approval = Approval(
        run_id="r9", task="write", action="result", action_hash="h" * 64, result=draft
    )
    out = io.StringIO()
    console = Console(file=out, width=30, color_system=None)
    console.print(approval_block(approval))
    for line in decide_lines(approval, None):
        console.print(line, soft_wrap=True)
    lines = out.getvalue().splitlines()
    assert "commit the result of task 'write':" in " ".join(out.getvalue().split())
    block = "".join(out.getvalue().split("approve:")[0].split())
    assert "".join(draft["summary"].split()) in block
    assert draft["sources"][0] in block
    assert max(len(line) for line in out.getvalue().split("approve:")[0].splitlines()) <= 30
    assert lines[-2:] == [
        f"approve: podium approve r9 write --as {shlex.quote(me())}",
        f"reject:  podium reject r9 write --as {shlex.quote(me())}",
    ]
