"""examples/recruiting: source, screen, shortlist, approve and send outreach, schedule.

In process with scripted models (the deterministic parts: ranking, the draft check and its
template fallback, the approval bound to the exact messages, bookings that land once), and
through the real CLI in subprocesses (on the test model, and once on the local model with an
interruption and a resume).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from podium import Orchestrator, RunResult, TaskCall, Workflow, load_workflow
from podium.models import ModelRequest, UserMessage
from podium.testing import FunctionModel
from podium.tools import action_hash

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "examples" / "recruiting" / "workflow.yaml"
PODIUM = str(Path(sys.executable).parent / "podium")
JSON = Any


@pytest.fixture
def agents(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's agents module (the workflow imports it from its folder)."""
    monkeypatch.setattr(sys, "path", [str(EXAMPLE.parent), *sys.path])
    return importlib.import_module("recruiting_agents")


def prompt(request: ModelRequest) -> str:
    return [m.content for m in request.messages if isinstance(m, UserMessage)][-1]


def recruiter(scores: dict[str, int], drafts: Callable[[str], str]) -> FunctionModel:
    """Screens by the candidate's title (`scores`, default 5) and drafts with `drafts(name)`."""

    def answer(request: ModelRequest) -> str:
        text = prompt(request)
        if "Score the candidate" in text:
            title = re.search(r"Candidate: (.+?), \d+ years", text)
            assert title is not None, text
            return json.dumps({"score": scores.get(title.group(1), 5), "reason": "fits"})
        name = re.search(r"email \(under 80 words\) to (.+?), a ", text)
        assert name is not None, text
        return json.dumps({"body": drafts(name.group(1))})

    return FunctionModel(answer)


def good_draft(name: str) -> str:
    return (
        f"Hi {name.split(maxsplit=1)[0]},\n\nWe would love to talk to you about the Backend"
        " Engineer role at Larkspur Analytics. Do you have time for a first interview next"
        " week?\n\nBest,\nPriya"
    )


def with_model(workflow: Workflow, model: FunctionModel, **functions: Any) -> Workflow:
    agents = [
        dataclasses.replace(a, model=model) if a.model else a
        for a in workflow.agents
        if a.name not in functions
    ]
    agents += [
        dataclasses.replace(a, function=functions[a.name])
        for a in workflow.agents
        if a.name in functions
    ]
    return dataclasses.replace(workflow, agents=agents)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def bookings(db: Path) -> dict[str, str]:
    return dict(rows(db, "SELECT candidate_id, slot || ' ' || interviewer FROM calendar"
                         " WHERE candidate_id IS NOT NULL"))  # fmt: skip


async def run_and_approve(
    orch: Orchestrator, workflow: Workflow, data: Path, **inputs: JSON
) -> tuple[RunResult, RunResult]:
    parked = await orch.run(workflow, inputs={"data_dir": str(data), **inputs})
    assert parked.status == "waiting", parked
    return parked, await orch.approve(
        parked.run_id, "outreach", by="hiring-manager", workflow=workflow
    )


@pytest.mark.anyio
async def test_the_approval_shows_the_exact_messages_that_are_sent(
    tmp_path: Path, agents: ModuleType
) -> None:
    bad = {"Yusuf Demir": "Hello, I'm Yusuf Demir, a Backend Engineer at Larkspur Analytics."}
    model = recruiter({}, lambda name: bad.get(name, good_draft(name)))
    workflow = with_model(load_workflow(EXAMPLE), model)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(workflow, inputs={"data_dir": str(tmp_path)})
        assert parked.status == "waiting"
        db = tmp_path / "recruiting.db"
        assert rows(db, "SELECT count(*) FROM outreach") == [(0,)]  # nothing sent yet
        [asked] = await orch.approvals()
        assert (asked.tool, asked.task) == ("send_outreach", "outreach")
        messages = asked.arguments["messages"]
        assert asked.action_hash == action_hash("send_outreach", {"messages": messages})
        done = await orch.approve(parked.run_id, by="hiring-manager", workflow=workflow)
    assert done.status == "succeeded", done
    sent = rows(db, "SELECT candidate_id, email, subject, body, drafted_by FROM outreach")
    assert [list(r) for r in sent] == [
        [m["candidate_id"], m["to"], m["subject"], m["body"], m["drafted_by"]] for m in messages
    ]
    by_name = {m["body"].split(",")[0]: m for m in messages}
    assert by_name["Hi Hiroshi"]["drafted_by"] == "model"  # a fit draft goes out as written
    assert by_name["Hi Hiroshi"]["body"] == good_draft("Hiroshi Tanaka")
    assert by_name["Hi Yusuf"]["drafted_by"] == "template"  # it spoke as the candidate
    assert "Backend Engineer (Python, data platform)" in by_name["Hi Yusuf"]["body"]
    report = str(done.output)
    assert "Pool 30 · screened 8 · shortlisted 3 · contacted 3 · scheduled 3" in report
    assert len(set(bookings(db).values())) == 3


@pytest.mark.anyio
async def test_a_rejected_outreach_contacts_and_schedules_nobody(tmp_path: Path) -> None:
    workflow = with_model(load_workflow(EXAMPLE), recruiter({}, good_draft))
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(workflow, inputs={"data_dir": str(tmp_path)})
        done = await orch.reject(
            parked.run_id, "outreach", by="hiring-manager", comment="no", workflow=workflow
        )
    assert done.status == "partially_succeeded"
    assert "Nobody was contacted" in str(done.output)
    assert "No interviews were scheduled." in str(done.output)
    db = tmp_path / "recruiting.db"
    assert rows(db, "SELECT count(*) FROM outreach") == [(0,)]
    assert bookings(db) == {}


@pytest.mark.anyio
async def test_the_model_moves_the_ranking_only_within_its_share(tmp_path: Path) -> None:
    # the screener loves the data engineers and hates everyone else
    scores = {"Data Engineer": 10, "Staff Engineer": 0, "Backend Engineer": 0}
    workflow = with_model(load_workflow(EXAMPLE), recruiter(scores, good_draft))
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(workflow, inputs={"data_dir": str(tmp_path), "top_n": 4})
    ranked = parked.tasks["rank"]["output"]["screened"]
    for c in ranked:
        assert c["score"] == round(0.7 * c["skills_score"] + 0.3 * c["model_score"], 1)
    assert [c["score"] for c in ranked] == sorted((c["score"] for c in ranked), reverse=True)
    shortlist = [c["id"] for c in parked.tasks["rank"]["output"]["shortlist"]]
    # 10 against 0 is worth 3 points: Pedro (skills 6.7) and Bruno (5.0) overtake Ada (7.5),
    # yet the model's darlings without the skills (Esther, 5.0 with a 5) stay out
    assert shortlist == ["c16", "c02", "c08", "c25"]
    assert [c["id"] for c in ranked][-1] == "c19"  # 5.8 skills, 0 from the model


@pytest.mark.anyio
async def test_a_failed_screening_leaves_the_skills_match_to_rank(tmp_path: Path) -> None:
    def broken(request: ModelRequest) -> str:
        if "Score the candidate" in prompt(request):
            return "I think they are great"  # not the JSON asked for, every time
        return json.dumps({"body": "[Your Name]"})

    workflow = with_model(load_workflow(EXAMPLE), FunctionModel(broken))
    async with Orchestrator(store="memory://") as orch:
        _, done = await run_and_approve(orch, workflow, tmp_path)
    assert done.status == "partially_succeeded"
    ranked = done.tasks["rank"]["output"]["screened"]
    assert all(c["model_score"] is None and c["score"] == c["skills_score"] for c in ranked)
    sent = rows(tmp_path / "recruiting.db", "SELECT drafted_by FROM outreach")
    assert sent == [("template",)] * 3


@pytest.mark.anyio
async def test_a_scheduler_that_fails_after_booking_books_once_when_retried(
    tmp_path: Path, agents: ModuleType
) -> None:
    attempts: list[int] = []

    async def crash_after_booking(call: TaskCall) -> JSON:
        out = await agents.schedule(call)
        attempts.append(call.attempt)
        if call.attempt == 1:
            raise ConnectionResetError("the process died after the calendar writes")
        return out

    workflow = with_model(
        load_workflow(EXAMPLE), recruiter({}, good_draft), scheduler=crash_after_booking
    )
    db = tmp_path / "recruiting.db"
    async with Orchestrator(store="memory://") as orch:
        _, done = await run_and_approve(orch, workflow, tmp_path)
        assert attempts == [1, 2]
        booked = bookings(db)
        assert len(set(booked.values())) == len(booked) == 3
        assert [b["new"] for b in done.tasks["schedule"]["output"]] == [True] * 3
        # a second campaign for the same job contacts them again but never re-books them
        _, again = await run_and_approve(orch, workflow, tmp_path)
    assert bookings(db) == booked
    assert "(booked earlier)" in str(again.output)
    assert rows(db, "SELECT count(*) FROM podium_tool_effects") == [(3,)]


@pytest.mark.anyio
async def test_concurrent_runs_never_double_book(tmp_path: Path) -> None:
    workflow = with_model(load_workflow(EXAMPLE), recruiter({}, good_draft))
    async with Orchestrator(store="memory://") as orch:
        results = await asyncio.gather(
            *(run_and_approve(orch, workflow, tmp_path, top_n=n) for n in (3, 4, 5))
        )
    db = tmp_path / "recruiting.db"
    booked = bookings(db)
    assert len(booked) == 5  # the union of the shortlists, each booked once
    assert len(set(booked.values())) == 5  # no slot twice
    blocked = rows(db, "SELECT count(*) FROM calendar WHERE blocked IS NOT NULL"
                       " AND candidate_id IS NOT NULL")  # fmt: skip
    assert blocked == [(0,)]
    for _, done in results:
        for b in done.tasks["schedule"]["output"]:
            assert f"{b['slot']} {b['interviewer']}" == booked[b["candidate_id"]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("inputs", "says"),
    [({"top_n": -1}, "'top_n' must be 0 or more"), ({"job_file": "nope.md"}, "nope.md")],
)
async def test_bad_inputs_fail_before_any_model_call(
    tmp_path: Path, inputs: dict[str, JSON], says: str
) -> None:
    model = recruiter({}, good_draft)
    workflow = with_model(load_workflow(EXAMPLE), model)
    async with Orchestrator(store="memory://") as orch:
        run = await orch.run(workflow, inputs={"data_dir": str(tmp_path), **inputs})
    assert run.status == "failed"
    assert says in str(run.tasks["prepare"]["error"])
    assert model.requests == []


@pytest.mark.anyio
async def test_a_working_copy_deleted_while_parked_sends_nothing(tmp_path: Path) -> None:
    workflow = with_model(load_workflow(EXAMPLE), recruiter({}, good_draft))
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(workflow, inputs={"data_dir": str(tmp_path / "data")})
        (tmp_path / "data" / "recruiting.db").unlink()
        done = await orch.approve(parked.run_id, by="hiring-manager", workflow=workflow)
    assert done.status == "partially_succeeded"
    assert "Nobody was contacted" in str(done.output)
    assert not (tmp_path / "data" / "recruiting.db").exists()  # not re-created empty


def test_the_draft_check(agents: ModuleType) -> None:
    from recruiting_data import load_job

    job = load_job(EXAMPLE.parent / "data" / "job.md")
    ok = good_draft("Ada Okafor")
    assert agents.usable_draft(ok, "Ada Okafor", job)
    assert not agents.usable_draft(ok, "Bruno Lindqvist", job)  # someone else's name
    assert not agents.usable_draft(ok.replace("Backend Engineer", "Data role"), "Ada X", job)
    cut = ok.split("\n\nBest")[0] + " We could also talk about"
    assert not agents.usable_draft(cut, "Ada Okafor", job)  # cut off mid-sentence
    assert not agents.usable_draft(ok + " more" * 100, "Ada Okafor", job)  # at the length cap
    assert not agents.usable_draft(ok + "\n[Your Name].", "Ada Okafor", job)
    assert not agents.usable_draft("Hi Ada, Backend Engineer.", "Ada Okafor", job)  # too short


# -- through the CLI --------------------------------------------------------------------------


def cli(tmp_path: Path, *args: str, model: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1"} if model else None
    return subprocess.run(
        [PODIUM, *args, "--store", f"sqlite:///{tmp_path / 'p.db'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


def json_of(proc: subprocess.CompletedProcess[str], code: int) -> dict[str, JSON]:
    assert proc.returncode == code, proc.stderr + proc.stdout
    result: dict[str, JSON] = json.loads(proc.stdout)
    return result


@pytest.mark.slow
def test_cli_parks_then_sends_and_schedules_on_approval(tmp_path: Path) -> None:
    data = f"data_dir={tmp_path / 'data'}"
    parked = json_of(cli(tmp_path, "run", str(EXAMPLE), "--json", "-i", data, "--model", "test"), 1)
    assert parked["status"] == "waiting"
    human = cli(tmp_path, "approvals")
    assert human.returncode == 0, human.stderr
    assert "call tool: send_outreach" in human.stdout
    assert "hiroshi.tanaka@example.com" in human.stdout
    run_id = str(parked["run_id"])
    done = json_of(cli(tmp_path, "approve", run_id, "--as", "hm", "--json"), 0)
    assert done["status"] == "succeeded"
    assert "contacted 3 · scheduled 3" in str(done["output"])
    db = tmp_path / "data" / "recruiting.db"
    assert rows(db, "SELECT candidate_id FROM outreach ORDER BY candidate_id") == [
        ("c01",), ("c08",), ("c25",)
    ]  # fmt: skip
    assert sorted(bookings(db)) == ["c01", "c08", "c25"]


@pytest.mark.slow
def test_local_model_run_interrupted_and_resumed(tmp_path: Path) -> None:
    """The README's walk-through: Ctrl-C while screening, resume, approve."""
    data = f"data_dir={tmp_path / 'data'}"
    run_id = "recruit-1"
    args = [PODIUM, "run", str(EXAMPLE), "-i", data, "--run-id", run_id, "--json"]
    env = {**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1"}
    store = ["--store", f"sqlite:///{tmp_path / 'p.db'}"]
    proc = subprocess.Popen([*args, *store], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        for _ in range(600):  # until two screenings are journaled
            time.sleep(0.5)
            shown = cli(tmp_path, "show", run_id, "--json")
            done = [
                e["task"]
                for e in (json.loads(shown.stdout)["events"] if shown.returncode == 0 else [])
                if e["kind"] == "TaskSucceeded" and e["task"].startswith("screen[")
            ]
            if len(done) >= 2 or proc.poll() is not None:
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert len(done) >= 2
    parked = json_of(cli(tmp_path, "resume", run_id, "--json", model=True), 1)
    assert parked["status"] == "waiting"
    events = json.loads(cli(tmp_path, "show", run_id, "--json").stdout)["events"]
    started = [e["task"] for e in events if e["kind"] == "TaskStarted"]
    for task in done:  # screened before the interruption: never screened again
        assert started.count(task) == 1
    final = json_of(cli(tmp_path, "approve", run_id, "--as", "hm", "--json"), 0)
    assert final["status"] == "succeeded"
    report = str(final["output"])
    assert "screened 8 · shortlisted 3 · contacted 3 · scheduled 3" in report
    db = tmp_path / "data" / "recruiting.db"
    drafted = rows(db, "SELECT body, drafted_by FROM outreach")
    assert len(drafted) == 3
    assert {d for _, d in drafted} <= {"model", "template"}
    assert len(set(bookings(db).values())) == 3
