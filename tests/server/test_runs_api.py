"""`podium serve` end to end over a real socket: submit, list, detail, events, steer."""

from __future__ import annotations

import getpass
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import DATA, Served, StartServer

USER = getpass.getuser()


def test_submit_runs_in_the_background_and_details_every_task(server: Served) -> None:
    run = server.submit("hello", {"topic": "tides"})
    assert run["workflow"] == "hello"
    assert run["status"] in ("running", "succeeded")
    done = server.wait(run["run_id"])
    assert done["status"] == "succeeded", done
    tasks = {t["id"]: t for t in done["tasks"]}
    assert list(tasks) == ["outline", "write"]
    assert tasks["write"]["needs"] == ["outline"]
    assert tasks["outline"]["output"] == {"topic": "tides", "points": ["tides 1", "tides 2"]}
    [attempt] = tasks["write"]["attempts"]
    assert attempt["agent"] == "writer"
    assert attempt["status"] == "succeeded"
    assert attempt["routing"]["reason"]
    assert tasks["outline"]["attempts"][0]["routing"] is None  # a fixed agent: not routed
    assert len(attempt["model_calls"]) >= 1
    assert done["tokens_in"] == sum(t["tokens_in"] for t in done["tasks"]) > 0
    [usage] = done["usage"]
    assert (usage["agent"], usage["calls"]) == ("writer", len(attempt["model_calls"]))
    assert done["inputs"] == {"topic": "tides"}
    assert done["ended_ts"] >= done["started_ts"]


def test_a_run_id_is_idempotent_and_bound_to_its_workflow(server: Served) -> None:
    client = server.client()
    first = client.post("/api/runs", json={"workflow": "hello", "run_id": "same-1"})
    assert first.status_code == 201
    server.wait("same-1")
    again = client.post("/api/runs", json={"workflow": "hello", "run_id": "same-1"})
    assert again.status_code == 200
    assert again.json()["run_id"] == "same-1"
    other = client.post("/api/runs", json={"workflow": "failing", "run_id": "same-1"})
    assert other.status_code == 409
    assert other.json()["error"]["type"] == "conflict"
    listed = client.get("/api/runs").json()["runs"]
    assert [r["run_id"] for r in listed] == ["same-1"]


def test_bad_submissions_are_refused_with_the_field(server: Served) -> None:
    client = server.client()
    unknown = client.post("/api/runs", json={"workflow": "nope"})
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]["message"]
    outside = client.post("/api/runs", json={"workflow": "/etc/passwd"})
    assert outside.status_code == 404
    missing = client.post("/api/runs", json={"inputs": {}})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "body.workflow"
    bad_input = client.post("/api/runs", json={"workflow": "slow", "inputs": {"seconds": "x"}})
    assert bad_input.status_code == 422
    assert client.get("/api/runs").json()["runs"] == []


def test_list_filters_and_pages_without_gaps(server: Served) -> None:
    ids = [server.submit("hello", run_id=f"h{i}")["run_id"] for i in range(5)]
    failed = server.submit("failing", run_id="f0")["run_id"]
    for run_id in [*ids, failed]:
        server.wait(run_id)
    client = server.client()
    only_failed = client.get("/api/runs", params={"status": "failed"}).json()
    assert [r["run_id"] for r in only_failed["runs"]] == ["f0"]
    assert only_failed["next_cursor"] is None
    hello = client.get("/api/runs", params={"workflow": "hello", "status": "succeeded,failed"})
    assert sorted(r["run_id"] for r in hello.json()["runs"]) == sorted(ids)

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/runs", params=params).json()
        seen += [r["run_id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([*ids, failed])
    assert len(seen) == len(set(seen))
    started = [r["started_ts"] for r in client.get("/api/runs").json()["runs"]]
    assert started == sorted(started, reverse=True)
    after_all = client.get("/api/runs", params={"since": max(started) + 1}).json()
    assert after_all["runs"] == []
    assert client.get("/api/runs", params={"status": "bogus"}).status_code == 422
    assert client.get("/api/runs", params={"cursor": "!!"}).status_code == 422


def test_events_page_from_a_sequence_number(server: Served) -> None:
    run_id = server.submit("hello")["run_id"]
    server.wait(run_id)
    client = server.client()
    everything = client.get(f"/api/runs/{run_id}/events").json()
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == list(range(len(seqs)))
    assert everything["events"][0]["kind"] == "RunSubmitted"
    assert everything["events"][-1]["kind"] == "RunSucceeded"
    assert everything["finished"] is True
    part = client.get(f"/api/runs/{run_id}/events", params={"after": 2, "limit": 3}).json()
    assert [e["seq"] for e in part["events"]] == [3, 4, 5]
    assert part["last_seq"] == 5
    assert part["finished"] is False
    missing = client.get("/api/runs/nope/events")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"


def test_approve_resumes_the_run_and_records_who(server: Served) -> None:
    run_id = server.park({"who": "bob"})
    client = server.client()
    [pending] = client.get("/api/approvals").json()["approvals"]
    assert (pending["run_id"], pending["task"], pending["workflow"]) == (run_id, "send", "gated")
    assert pending["instruction"] == "send to bob"
    detail = client.get(f"/api/runs/{run_id}").json()
    assert [a["task"] for a in detail["approvals"]] == ["send"]
    decided = client.post(f"/api/runs/{run_id}/approvals/send/approve", json={"comment": "fine"})
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["approval"]["status"] == "granted"
    assert body["approval"]["by"] == USER
    done = server.wait(run_id)
    assert done["status"] == "succeeded"
    assert done["decisions"] == [
        {
            "task": "send",
            "granted": True,
            "by": USER,
            "comment": "fine",
            "ts": done["decisions"][0]["ts"],
        }
    ]
    assert client.get("/api/approvals").json()["approvals"] == []
    again = client.post(f"/api/runs/{run_id}/approvals/send/approve", json={})
    assert again.status_code == 404


def test_reject_fails_the_task_and_a_decision_can_wait_for_resume(server: Served) -> None:
    client = server.client()
    rejected = server.park()
    answer = client.post(f"/api/runs/{rejected}/approvals/send/reject", json={"comment": "no"})
    assert answer.status_code == 200
    assert answer.json()["approval"]["status"] == "rejected"
    assert server.wait(rejected)["status"] == "failed"

    later = server.park()
    kept = client.post(f"/api/runs/{later}/approvals/send/approve", json={"resume": False})
    assert kept.json()["run"]["status"] == "waiting"
    resumed = client.post(f"/api/runs/{later}/resume")
    assert resumed.status_code == 202
    assert server.wait(later)["status"] == "succeeded"
    finished = client.post(f"/api/runs/{later}/resume")
    assert finished.status_code == 409


def test_cancel_records_who_and_refuses_a_finished_run(server: Served) -> None:
    run_id = server.submit("slow", {"seconds": 60})["run_id"]
    server.wait(run_id, {"running"})
    client = server.client()
    cancelled = client.post(f"/api/runs/{run_id}/cancel", json={"reason": "enough"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    events = client.get(f"/api/runs/{run_id}/events").json()["events"]
    assert events[-1]["kind"] == "RunCancelled"
    assert events[-1]["reason"] == f"enough (by {USER})"
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_feedback_is_journaled_with_who_and_checked(server: Served) -> None:
    run_id = server.submit("hello")["run_id"]
    server.wait(run_id)
    client = server.client()
    rated = client.post(f"/api/runs/{run_id}/feedback", json={"score": 4, "comment": "good"})
    assert rated.status_code == 200
    assert rated.json()["by"] == USER
    assert client.get(f"/api/runs/{run_id}").json()["feedback"][0]["score"] == 4
    bad = client.post(f"/api/runs/{run_id}/feedback", json={"score": 9})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body.score"
    assert client.post("/api/runs/nope/feedback", json={"score": 3}).status_code == 404


def test_fork_and_compare(server: Served) -> None:
    parent = server.submit("hello", {"topic": "tides"})["run_id"]
    server.wait(parent)
    client = server.client()
    forked = client.post(
        f"/api/runs/{parent}/fork", json={"task": "write", "instruction": "Write it shorter"}
    )
    assert forked.status_code == 201, forked.text
    child = forked.json()
    assert child["forked_from"] == {"run_id": parent, "task": "write"}
    assert server.wait(child["run_id"])["status"] == "succeeded"
    compared = client.get("/api/compare", params={"a": parent, "b": child["run_id"]}).json()
    rows = {r["task"]: r for r in compared["tasks"]}
    assert rows["outline"]["copied"] == [False, True]
    assert rows["outline"]["same_output"] is True
    assert rows["write"]["copied"] == [False, False]
    bad = client.post(f"/api/runs/{parent}/fork", json={"task": "nope"})
    assert bad.status_code == 422
    assert client.get("/api/compare", params={"a": parent, "b": "nope"}).status_code == 404


@pytest.mark.slow
def test_a_run_parked_by_another_process_shows_and_is_approved_here(
    server: Served, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from podium.cli import main; main()",
            "run",
            str(DATA / "gated.yaml"),
            "--store",
            server.store_url,
            "--run-id",
            "cli-1",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # parked
    client = server.client()
    listed = client.get("/api/runs").json()["runs"]
    assert [(r["run_id"], r["status"], r["workflow"]) for r in listed] == [
        ("cli-1", "waiting", "gated")
    ]
    decided = client.post("/api/runs/cli-1/approvals/send/approve", json={})
    assert decided.status_code == 200
    assert server.wait("cli-1")["status"] == "succeeded"


def test_stopping_the_server_interrupts_its_runs_resumably(start_server: StartServer) -> None:
    first = start_server()
    run_id = first.submit("slow", {"seconds": 60})["run_id"]
    first.wait(run_id, {"running"})
    first.stop()
    second = start_server()
    detail = second.client().get(f"/api/runs/{run_id}").json()
    assert detail["status"] == "interrupted"
    assert detail["events"] > 0


def test_dashboard_and_metrics_are_served(server: Served) -> None:
    run_id = server.submit("hello")["run_id"]
    server.wait(run_id)
    client = server.client()
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert client.get("/openapi.json").json()["info"]["title"] == "Podium"
    report = client.get("/api/metrics")
    assert report.status_code == 200, report.text
    text = client.get("/metrics")
    assert text.status_code == 200
    assert "podium_" in text.text
    me = client.get("/api/me").json()
    assert me == {"user": USER, "roles": ["operator", "approver"], "auth": False}


def test_agents_and_workflows(server: Served) -> None:
    run_id = server.submit("hello")["run_id"]
    server.wait(run_id)
    client = server.client()
    names = [w["name"] for w in client.get("/api/workflows").json()["workflows"]]
    assert names == ["failing", "gated", "hello", "slow"]
    agents = {a["name"]: a for a in client.get("/api/agents").json()["agents"]}
    assert agents["planner"]["capabilities"] == ["outline"]
    assert agents["planner"]["model"] == "python"
    assert agents["writer"]["workflows"] == ["hello"]
    assert agents["writer"]["description"] == "Writes it up"


@pytest.mark.postgres
def test_submit_on_postgres(start_server: StartServer, postgres_url: str) -> None:
    server = start_server(store_url=postgres_url)
    run_id = server.submit("hello")["run_id"]
    assert server.wait(run_id)["status"] == "succeeded"


def test_the_same_new_run_id_submitted_at_once_is_one_run(server: Served) -> None:
    answers: list[int] = []

    def post() -> None:
        response = server.client().post("/api/runs", json={"workflow": "gated", "run_id": "twin"})
        answers.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200, 200, 200, 201]
    server.wait("twin", {"waiting"})
    assert [r["run_id"] for r in server.client().get("/api/runs").json()["runs"]] == ["twin"]


def test_a_huge_body_is_refused_before_it_is_read(server: Served) -> None:
    client = server.client()
    huge = {"workflow": "hello", "inputs": {"topic": "x" * (9 * 1024 * 1024)}}
    refused = client.post("/api/runs", json=huge)
    assert refused.status_code == 413
    assert refused.json()["error"]["type"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it streams
        yield b'{"workflow": "hello", "inputs": {"topic": "'
        for _ in range(10):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    streamed = client.post(
        "/api/runs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert client.get("/api/runs").json()["runs"] == []


@pytest.mark.slow
def test_a_run_driven_elsewhere_conflicts_and_is_cancelled_through_the_store(
    server: Served, tmp_path: Path
) -> None:
    cli = [sys.executable, "-c", "from podium.cli import main; main()"]
    args = ["run", str(DATA / "slow.yaml"), "--store", server.store_url, "--run-id", "far"]
    process = subprocess.Popen(
        [*cli, *args, "-i", "seconds=120"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = server.client()
        for _ in range(3000):
            found = client.get("/api/runs/far")
            tasks = found.json().get("tasks") if found.status_code == 200 else None
            if tasks and tasks[0]["status"] == "running":  # (none before the plan is journaled)
                break
            threading.Event().wait(0.01)
        holder = found.json()["driven_by"]
        assert holder is not None
        resumed = client.post("/api/runs/far/resume")
        assert resumed.status_code == 409
        assert resumed.json()["error"]["holder"] == holder
        cancelled = client.post("/api/runs/far/cancel", json={"reason": "too slow"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    events = client.get("/api/runs/far/events").json()["events"]
    assert events[-1]["kind"] == "RunCancelled"
    assert events[-1]["reason"] == f"too slow (by {USER})"
