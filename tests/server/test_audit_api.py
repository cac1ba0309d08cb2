"""Who did what: a run submitted, approved and cancelled by people of a tokens file, its audit
over HTTP (`GET /api/runs/{id}/audit`) and from the same SQLite file with ``podium audit``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium.cli import app
from podium.server import load_auth, token_digest
from tests.server.conftest import Served, StartServer

TOKENS = {"vera": "v-token", "otto": "o-token", "alice": "a-token"}
ROLES = {"vera": "viewer", "otto": "operator", "alice": "approver"}


@pytest.fixture
def guarded(start_server: StartServer, tmp_path: Path) -> Served:
    path = tmp_path / "tokens.yaml"
    lines = [
        f"  - {{user: {u}, roles: [{ROLES[u]}], token_sha256: {token_digest(t)}}}"
        for u, t in TOKENS.items()
    ]
    path.write_text("tokens:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return start_server(auth=load_auth(path), token=TOKENS["otto"])


def trail(served: Served, run_id: str, **params: str) -> list[dict[str, Any]]:
    response = served.client(token=TOKENS["vera"]).get(f"/api/runs/{run_id}/audit", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run_id"] == run_id
    entries: list[dict[str, Any]] = body["entries"]
    return entries


def cli(*args: object) -> Any:
    result = CliRunner().invoke(app, ["audit", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_the_audit_names_submitter_approver_canceller_and_agents(guarded: Served) -> None:
    run_id = guarded.park()  # submitted by otto (the operator's token)
    alice = guarded.client(token=TOKENS["alice"])
    decided = alice.post(
        f"/api/runs/{run_id}/approvals/send/approve", json={"comment": "ok", "resume": False}
    )
    assert decided.status_code == 200, decided.text
    cancelled = guarded.client().post(f"/api/runs/{run_id}/cancel", json={"reason": "not now"})
    assert cancelled.json()["status"] == "cancelled"

    entries = trail(guarded, run_id)
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("user:otto", "submitted", "run"),
        ("podium", "plan accepted", "run"),
        ("agent:worker", "task started", "task:draft"),
        ("agent:worker", "task succeeded", "task:draft"),
        ("podium", "approval requested", "task:send"),
        ("podium", "waiting", "run"),
        ("user:alice", "approval granted", "task:send"),
        ("user:otto", "cancelled", "run"),
    ]
    assert entries[0]["details"] == {"workflow": "gated"}
    assert entries[6]["details"] == {"comment": "ok"}
    assert entries[-1]["details"] == {"reason": "not now (by otto)"}
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert all(isinstance(e["ts"], float) for e in entries)

    by_alice = trail(guarded, run_id, actor="alice")
    assert [e["action"] for e in by_alice] == ["approval granted"]
    assert [e["action"] for e in trail(guarded, run_id, actor="user:otto")] == [
        "submitted",
        "cancelled",
    ]

    # the same trail from the same SQLite file, with the CLI
    as_json = json.loads(cli(run_id, "--store", guarded.store_url, "--json").stdout)
    assert as_json == entries
    only = json.loads(cli(run_id, "--store", guarded.store_url, "--json", "--actor", "otto").stdout)
    assert [e["action"] for e in only] == ["submitted", "cancelled"]
    table = cli(run_id, "--store", guarded.store_url).stdout
    for shown in ("user:alice", "approval granted", "agent:worker"):
        assert shown in table


def test_a_resume_after_an_approval_is_the_approvers(guarded: Served) -> None:
    run_id = guarded.park()
    alice = guarded.client(token=TOKENS["alice"])
    assert alice.post(f"/api/runs/{run_id}/approvals/send/approve", json={}).status_code == 200
    guarded.wait(run_id)
    entries = trail(guarded, run_id)
    after = [(e["actor"], e["action"], e["target"]) for e in entries][6:]
    assert after == [
        ("user:alice", "approval granted", "task:send"),
        ("user:alice", "resumed", "run"),
        ("agent:worker", "task started", "task:send"),
        ("agent:worker", "task succeeded", "task:send"),
        ("agent:worker", "task started", "task:done"),
        ("agent:worker", "task succeeded", "task:done"),
        ("podium", "run ended", "run"),
    ]
    assert entries[-1]["details"] == {"status": "succeeded"}


def test_an_operator_resume_and_a_fork_are_theirs(guarded: Served) -> None:
    run_id = guarded.park()
    operator = guarded.client()
    resumed = operator.post(f"/api/runs/{run_id}/resume")
    assert resumed.status_code == 202, resumed.text
    guarded.wait(run_id, {"waiting"})
    forked = operator.post(f"/api/runs/{run_id}/fork", json={"task": "draft"})
    assert forked.status_code == 201, forked.text
    fork_id = forked.json()["run_id"]
    guarded.wait(fork_id, {"waiting"})
    resumed_by = [e["actor"] for e in trail(guarded, run_id) if e["action"] == "resumed"]
    assert resumed_by[:1] == ["user:otto"]
    fork = trail(guarded, fork_id)
    assert [(e["actor"], e["action"]) for e in fork[:2]] == [
        ("user:otto", "submitted"),
        ("user:otto", "forked"),
    ]
    assert fork[1]["target"] == f"run:{run_id}"


def test_the_audit_needs_a_token_and_a_known_run(guarded: Served) -> None:
    assert guarded.client(token="").get("/api/runs/x/audit").status_code == 401
    missing = guarded.client(token=TOKENS["vera"]).get("/api/runs/no-such-run/audit")
    assert missing.status_code == 404
    assert "no-such-run" in missing.json()["error"]["message"]
    refused = CliRunner().invoke(app, ["audit", "no-such-run", "--store", guarded.store_url])
    assert refused.exit_code == 2
    assert "no-such-run" in refused.output
