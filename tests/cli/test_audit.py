"""`podium audit RUN`: what people did with the CLI is theirs (the login name, or ``--as``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.cli._who import local_user
from tests.cli.helpers import invoke, invoke_json

GATED = Path(__file__).parents[1] / "server" / "data" / "gated.yaml"  # `send` needs approval
ME = f"user:{local_user()}"


def park(store: str, run_id: str) -> None:
    code, parked = invoke_json("run", GATED, "--store", store, "--run-id", run_id)
    assert (code, parked["status"]) == (1, "waiting")


def test_submit_approve_resume_and_cancel_from_the_cli_are_attributed(store: str) -> None:
    park(store, "r1")
    assert invoke("approve", "r1", "--as", "alice", "--no-resume", "--store", store).exit_code == 0
    code, resumed = invoke_json("resume", "r1", "--store", store)
    assert (code, resumed["status"]) == (0, "succeeded")
    code, entries = invoke_json("audit", "r1", "--store", store)
    assert code == 0
    people = [
        (e["actor"], e["action"])
        for e in entries
        if not e["actor"].startswith(("agent:", "podium"))
    ]
    assert people == [(ME, "submitted"), ("user:alice", "approval granted"), (ME, "resumed")]

    park(store, "r2")
    assert invoke("cancel", "r2", "--store", store).exit_code == 0
    _, cancelled = invoke_json("audit", "r2", "--store", store, "--actor", ME)
    assert [e["action"] for e in cancelled] == ["submitted", "cancelled"]
    _, as_someone = invoke_json("audit", "r2", "--store", store, "--actor", "nobody")
    assert as_someone == []
    assert (
        "no action by nobody" in invoke("audit", "r2", "--store", store, "--actor", "nobody").stdout
    )


def test_the_audit_table_has_a_row_an_action(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line a row, to count them
    park(store, "r1")
    table = invoke("audit", "r1", "--store", store)
    assert table.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["seq", "time", "actor", "action", "target", "details"]
    assert len(rows) == 6  # submitted, plan, draft started and succeeded, approval asked, waiting
    assert rows[0].split()[3:5] == [ME, "submitted"]


def test_a_narrow_terminal_gets_a_line_an_action_with_its_details_under_it(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    park(store, "r1")
    out = invoke("audit", "r1", "--store", store).stdout.splitlines()
    day, first, details, *_ = out
    assert len(day) == len("2026-12-07")
    assert first.split()[2:4] == [ME, "submitted"]
    assert details.startswith(" " * 16)
    assert "workflow=" in details
    assert all(len(line) <= 80 for line in out)


def test_run_resume_and_fork_record_who_as_said(store: str) -> None:
    code, parked = invoke_json("run", GATED, "--store", store, "--run-id", "r3", "--as", "ci-bot")
    assert (code, parked["status"]) == (1, "waiting")
    assert invoke("approve", "r3", "--as", "alice", "--no-resume", "--store", store).exit_code == 0
    code, resumed = invoke_json("resume", "r3", "--store", store, "--as", "ops")
    assert (code, resumed["status"]) == (0, "succeeded")
    args = ("fork", "r3", "--from", "send", "--run-id", "f3", "--store", store, "--as", "eve")
    code, forked = invoke_json(*args)
    assert code in (0, 1), forked
    _, entries = invoke_json("audit", "r3", "--store", store)
    people = [(e["actor"], e["action"]) for e in entries if e["actor"].startswith("user:")]
    assert people == [
        ("user:ci-bot", "submitted"),
        ("user:alice", "approval granted"),
        ("user:ops", "resumed"),
    ]
    _, fork_entries = invoke_json("audit", "f3", "--store", store, "--actor", "eve")
    assert "submitted" in [e["action"] for e in fork_entries]


def test_a_name_the_journal_cannot_hold_is_refused_before_anything_is_recorded(
    store: str,
) -> None:
    refused = invoke("run", GATED, "--store", store, "--run-id", "r4", "--as", "bad\udcffname")
    assert refused.exit_code == 2, refused.stdout
    assert "who acts cannot be recorded" in refused.stderr
    assert invoke("show", "r4", "--store", store).exit_code != 0  # no such run
