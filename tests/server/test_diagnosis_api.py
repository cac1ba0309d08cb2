"""`GET /api/runs/{id}/diagnosis`: what `podium diagnose --json` prints, over HTTP."""

from __future__ import annotations

from tests.server.conftest import Served


def test_a_clean_run_and_a_parked_one_and_an_unknown_one(server: Served) -> None:
    run = server.submit("hello", {"topic": "tides"})
    server.wait(run["run_id"])
    client = server.client()
    done = client.get(f"/api/runs/{run['run_id']}/diagnosis")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["run_id"], body["status"], body["finished"]) == (run["run_id"], "succeeded", True)
    # the test model's canned answer shares no word with the outline it was given
    assert body["labels"] == ["ignored_inputs"]
    [finding] = body["findings"]
    assert [(e["kind"], e["task"]) for e in finding["evidence"]] == [("TaskSucceeded", "write")]
    assert body["events"] >= 6
    parked = client.get(f"/api/runs/{server.park()}/diagnosis").json()
    assert (parked["status"], parked["finished"]) == ("waiting", False)
    missing = client.get("/api/runs/no-such-run/diagnosis")
    assert missing.status_code == 404
