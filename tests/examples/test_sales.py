"""examples/sales/workflow.yaml end to end: research, checked drafts, approval, sending, the CRM
update and the weekly summary, through the real CLI and in process."""

from __future__ import annotations

import dataclasses
import email
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from podium import Orchestrator, load_workflow
from podium.models import ModelRequest, UserMessage
from podium.testing import FunctionModel

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "examples" / "sales" / "workflow.yaml"
PODIUM = str(Path(sys.executable).parent / "podium")
PICKED = {"L04": "Lumen Foods", "L03": "Cedar & Stone Builders", "L01": "Northwind Freight"}
FOLLOWED = {"L02": "Bluefin Clinics", "L06": "Harbor Hotels"}  # no reply after 7 days
SENDER = "alex@tallybook.example.com"


def outbox_mail(tmp_path: Path) -> dict[str, Any]:
    return {
        "transport": "outbox",
        "outbox": str(tmp_path / "outbox"),
        "sent_log": str(tmp_path / "sent.db"),
        "from_address": SENDER,
        "allow_domains": ["*.example.com"],
    }


def podium(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [PODIUM, *args, "--store", f"sqlite:///{tmp_path / 'p.db'}", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1"},
    )
    assert proc.stdout, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return proc.returncode, result


def run_week(tmp_path: Path, mail: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any]]:
    data = f"data={tmp_path / 'data'}"
    return podium(
        tmp_path, "run", str(EXAMPLE), "-i", data, "-i", f"mail={json.dumps(mail)}", *extra
    )


def crm(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "data" / "crm.db") as db:
        rows = db.execute(sql).fetchall()
    db.close()
    return rows


def check_week(tmp_path: Path, result: dict[str, Any], sent: list[dict[str, Any]]) -> str:
    """What every finished first week shows, whoever wrote the drafts."""
    assert result["status"] == "succeeded", result
    assert {m["lead_id"] for m in sent} == set(PICKED) | set(FOLLOWED)
    assert all(m["sent"] for m in sent)
    statuses = dict(crm(tmp_path, "SELECT id, status FROM leads"))
    assert {statuses[i] for i in PICKED} == {"contacted"}
    assert statuses["L05"] == statuses["L10"] == "new"  # scored below min_fit
    added = crm(
        tmp_path,
        "SELECT lead_id, kind, ref FROM activities WHERE happened_on = '2026-03-16' ORDER BY id",
    )
    assert {(lead, kind) for lead, kind, _ in added} == {
        *((i, "outreach") for i in PICKED),
        *((i, "follow_up") for i in FOLLOWED),
    }
    assert sorted(ref for _, _, ref in added) == sorted(m["message_id"] for m in sent)
    report = str(result["output"])
    for company in (*PICKED.values(), *FOLLOWED.values()):
        [line] = [ln for ln in report.splitlines() if ln.startswith(company)]
        assert re.search(r"  contacted .* 2026-03-16 .* sent \(", line), line
    assert "This week 4 first emails and 2 follow-ups were sent" in report
    cited = re.findall(r"^- (.+?) \(fit [\d.]+\): .+ \[([a-z-]+\.md#chunk-\d)\]$", report, re.M)
    assert [c for c, _ in cited] == list(PICKED.values())  # best fit first
    notes = {"Lumen Foods": "lumen-foods", "Cedar & Stone Builders": "cedar-and-stone"}
    notes["Northwind Freight"] = "northwind-freight"
    assert all(source.startswith(notes[c] + ".md#") for c, source in cited)
    return report


def check_outbox(tmp_path: Path) -> list[email.message.Message]:
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    messages = [email.message_from_bytes(f.read_bytes()) for f in files]
    assert len(messages) == len(PICKED) + len(FOLLOWED)
    for msg in messages:
        company = msg["Subject"].removeprefix("Following up: ").removeprefix("Tallybook for ")
        assert company in (*PICKED.values(), *FOLLOWED.values())
        assert company in msg.get_payload()
        assert msg["From"] == SENDER
    return messages


@pytest.mark.slow
def test_the_week_on_the_local_model(tmp_path: Path) -> None:
    code, parked = run_week(tmp_path, outbox_mail(tmp_path))
    assert (code, parked["status"], parked["reason"]) == (1, "waiting", "approval")
    assert parked["tasks"]["send"]["status"] == "waiting"
    assert not (tmp_path / "outbox").exists()  # nothing leaves before the approval
    assert crm(tmp_path, "SELECT COUNT(*) FROM activities") == [(8,)]  # the seed's
    code, result = podium(tmp_path, "approve", parked["run_id"], "send", "--as", "tester")
    assert code == 0, result
    tasks = result["tasks"]
    check_week(tmp_path, result, tasks["send"]["output"])
    check_outbox(tmp_path)
    for mail in tasks["outreach"]["output"]:  # the model's draft, or the template if it failed
        assert mail["written_by"] in {"model", "template"}
        assert (mail["written_by"] == "model") == (not mail["problems"])
        assert mail["company"] in mail["body"]
    assert result["usage"]["output_tokens"] > 0
    assert result["usage"]["cost_usd"] == 0.0


class Inbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.mark.slow
def test_emails_reach_an_smtp_server_once_and_a_second_run_repeats_nothing(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    server, port = inbox
    mail = {**outbox_mail(tmp_path), "transport": "smtp", "host": "127.0.0.1", "port": port}
    mail.update(security="none")
    del mail["outbox"]
    code, parked = run_week(tmp_path, mail, "--model", "test")
    assert (code, parked["status"]) == (1, "waiting")
    assert server.messages == []
    code, result = podium(tmp_path, "approve", parked["run_id"], "send", "--as", "tester")
    assert code == 0, result
    report = check_week(tmp_path, result, result["tasks"]["send"]["output"])
    assert "(from the counts" in report  # the test model's paragraph is not used
    to = sorted(r for rcpts, _ in server.messages for r in rcpts)
    assert len(to) == 5
    touched = crm(tmp_path, "SELECT email FROM leads WHERE updated_on = '2026-03-16'")
    assert set(to) == {e for (e,) in touched}
    activities = crm(tmp_path, "SELECT COUNT(*) FROM activities")

    code, again = run_week(tmp_path, mail, "--model", "test")  # the same week, run again
    assert (code, again["status"]) == (0, "succeeded"), again
    assert again["tasks"]["send"]["output"] == []  # nothing due: no approval asked
    assert len(server.messages) == 5
    assert crm(tmp_path, "SELECT COUNT(*) FROM activities") == activities
    assert "none: no new lead reaches min_fit" in str(again["output"])


# -- in process: the checks keep what the model got right and replace what it did not ----------

GOOD_SUMMARY = "Lumen Foods finds supplier invoices that differ from purchase orders weeks later."
INVENTED = "Northwind Freight plans to open a new depot in Spain and hire drivers."
GOOD_DRAFT = (
    "Dear Marco,\n\nI read that at Lumen Foods mismatches between invoices and purchase orders"
    " in price or quantity are found weeks later. Tallybook catches them on arrival; could we"
    " talk for 20 minutes?\n\nBest regards,\nAlex"
)


def sales_model(request: ModelRequest) -> str:
    """Writes one grounded summary and one good draft (for Lumen Foods), invents a fact about
    Northwind Freight, omits the company elsewhere, and miscounts the week."""
    prompt = [m.content for m in request.messages if isinstance(m, UserMessage)][-1]
    if prompt.startswith("Notes on "):
        company = prompt.removeprefix("Notes on ").split(":")[0]
        if company == "Lumen Foods":
            return json.dumps({"summary": GOOD_SUMMARY + " Also they love pizza."})
        if company == "Northwind Freight":
            return json.dumps({"summary": INVENTED})
        return json.dumps({"summary": "They have invoices that arrive on paper."})
    if prompt.startswith("Write a two-sentence email"):
        good = "at Lumen Foods." in prompt.splitlines()[0]
        return json.dumps({"body": GOOD_DRAFT if good else "We can help you with invoices."})
    assert prompt.startswith("Facts: "), prompt
    return json.dumps({"paragraph": "This week we sent 9 emails. Everyone replied."})


async def run_in_process(tmp_path: Path, decide: str) -> Any:
    workflow = load_workflow(EXAMPLE)
    model = FunctionModel(sales_model)
    agents = [dataclasses.replace(a, model=model) if a.model else a for a in workflow.agents]
    inputs = {"data": str(tmp_path / "data"), "mail": outbox_mail(tmp_path)}
    async with Orchestrator(store=f"sqlite:///{tmp_path / 'p.db'}") as orch:
        flow = dataclasses.replace(workflow, agents=agents)
        parked = await orch.run(flow, inputs=inputs)
        assert parked.status == "waiting"
        [request] = await orch.approvals()
        emails = request.arguments["emails"]
        assert [e["to"][0].split("@")[0] for e in emails] == [
            "marco",
            "priya",
            "dana",
            "omar",
            "sofia",
        ]
        if decide == "approve":
            return await orch.approve(parked.run_id, "send", by="tester", workflow=flow)
        return await orch.reject(parked.run_id, "send", by="tester", workflow=flow)


@pytest.mark.anyio
async def test_grounded_model_text_is_kept_and_the_rest_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the file imports its agents' modules
    run = await run_in_process(tmp_path, "approve")
    assert run.status == "succeeded"
    leads = {lead["company"]: lead for lead in run.tasks["qualify"]["output"]}
    assert leads["Lumen Foods"]["summary"] == GOOD_SUMMARY  # its first sentence only
    assert leads["Lumen Foods"]["summary_by"] == "model"
    northwind = leads["Northwind Freight"]
    assert northwind["summary_by"] == "template"
    assert northwind["summary_problems"] == ["says things the notes do not"]
    assert "4,000 supplier invoices" in northwind["summary"]
    assert "does not name the company" in leads["Cedar & Stone Builders"]["summary_problems"]
    mails = {m["company"]: m for m in run.tasks["outreach"]["output"]}
    lumen = mails["Lumen Foods"]
    assert lumen["written_by"] == "model"
    assert lumen["body"].count("Marco") == 1  # the draft's own greeting and sign-off are dropped
    assert "mismatches between invoices" in lumen["body"]
    cedar = mails["Cedar & Stone Builders"]
    assert cedar["written_by"] == "template"
    assert "does not name the company" in cedar["problems"]
    assert "subcontractor invoices arrive on paper" in cedar["body"]
    bodies = [m.get_payload() for m in check_outbox(tmp_path)]
    assert sum("mismatches between invoices" in b for b in bodies) == 1
    report = run.output
    assert "Everyone replied" not in report
    assert "says '9 emails', which is not a count" in report


@pytest.mark.anyio
async def test_a_rejected_batch_sends_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    run = await run_in_process(tmp_path, "reject")
    assert run.status == "partially_succeeded"
    assert not (tmp_path / "outbox").exists()
    assert crm(tmp_path, "SELECT COUNT(*) FROM activities") == [(8,)]
    assert set(crm(tmp_path, "SELECT status FROM leads WHERE id IN ('L01', 'L03', 'L04')")) == {
        ("new",)
    }
    report = run.output
    assert report.count("NOT sent (not approved)") == 5
    assert "This week 1 first emails and 0 follow-ups were sent" in report  # Quill, on 03-12
