"""examples/support_triage: classify, look up orders, draft, approve, send — and the outbox.

The end-to-end tests run the real CLI in a subprocess against a real SMTP server on loopback
(aiosmtpd); the in-process ones swap the model for a `FunctionModel` and send to an outbox.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from podium import Orchestrator, load_workflow
from podium.exceptions import ConfigError, ToolError
from podium.models import ModelRequest, UserMessage
from podium.testing import FunctionModel
from podium.tools import ToolContext
from podium.tools._standard import standard_tools
from podium.tools.email import message_id, send_email_tool

ROOT = Path(__file__).parent.parent.parent
FOLDER = ROOT / "examples" / "support_triage"
EXAMPLE = FOLDER / "workflow.yaml"
PODIUM = str(Path(sys.executable).parent / "podium")
TICKETS = json.loads((FOLDER / "tickets.json").read_text(encoding="utf-8"))


class Inbox:
    """What the loopback SMTP server received."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.envelopes.append(envelope)
        return "250 2.0.0 queued"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            got = list(self.envelopes)
        return [
            message_from_bytes(bytes(e.content or b""), policy=policy.default)  # type: ignore[misc]
            for e in got
        ]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def agents(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "path", [str(FOLDER), *sys.path])
    import triage_agents

    return triage_agents


def podium(tmp_path: Path, *args: str, model: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1" if model else "0"}
    return subprocess.run(
        [PODIUM, *args, "--store", f"sqlite:///{tmp_path / 'p.db'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )


def smtp_settings(tmp_path: Path, port: int) -> Path:
    """The `mail` input a user gives to send through an SMTP server instead of the outbox."""
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "support@shop.example.com",
        "allow_domains": ["example.com"],
        "sent_log": str(tmp_path / "sent.db"),
    }
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def pending(tmp_path: Path, run_id: str) -> list[dict[str, Any]]:
    proc = podium(tmp_path, "approvals", "--json")
    assert proc.returncode == 0, proc.stderr
    return [a for a in json.loads(proc.stdout) if a["run_id"] == run_id]


def check_approvals(approvals: list[dict[str, Any]], tickets: list[dict[str, str]]) -> None:
    """One approval per ticket, each showing the exact email: recipient, subject, body."""
    assert sorted(a["task"] for a in approvals) == sorted(f"send[{i}]" for i in range(len(tickets)))
    for a in approvals:
        ticket = tickets[int(a["task"][5:-1])]
        assert a["tool"] == "send_email"
        args = a["arguments"]
        assert args["to"] == [ticket["from"]]
        assert args["subject"] == f"Re: {ticket['subject']} [{ticket['id']}]"
        assert f"(ticket {ticket['id']})" in args["body"]
        if ticket["from"] == "new.customer@example.com":
            assert "#" not in args["body"]  # no orders: none is named
        else:
            assert re.search(r"#1\d{3}\b", args["body"]), args["body"]


@pytest.mark.slow
@pytest.mark.model_requests
def test_the_batch_on_the_local_model_sends_each_approved_email_once(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mail = smtp_settings(tmp_path, port)
    # six of the batch keep the local model's time modest: two of each kind of path (a cited
    # order, a ticket naming an order, no orders at all, an injection attempt)
    tickets = [TICKETS[i] for i in (0, 1, 2, 3, 12, 17)]
    (tmp_path / "tickets.json").write_text(json.dumps(tickets), encoding="utf-8")
    inputs = (
        "-i",
        f"mail=@{mail}",
        "-i",
        f"data={tmp_path / 'data'}",
        "-i",
        "tickets=@tickets.json",
    )
    proc = podium(tmp_path, "run", str(EXAMPLE), "--json", *inputs, model=True)
    assert proc.returncode == 1, proc.stderr  # parked
    result = json.loads(proc.stdout)
    assert result["status"] == "waiting"
    run_id = result["run_id"]
    tasks = result["tasks"]
    assert all(tasks[f"classify[{i}]"]["status"] == "succeeded" for i in range(6))
    emails = tasks["check"]["output"]
    assert [e["ticket"] for e in emails] == [t["id"] for t in tickets]
    assert all(e["reply_by"] == "model" or e["problems"] for e in emails)
    assert all(
        e["category"] in ("billing", "shipping", "refund", "technical", "other") for e in emails
    )
    approvals = pending(tmp_path, run_id)
    check_approvals(approvals, tickets)
    assert "attacker@evil.test" not in json.dumps(approvals[5]["arguments"]["to"])
    assert inbox.messages() == []  # nothing is sent before approval

    rejected = "send[4]"
    proc = podium(tmp_path, "reject", run_id, rejected, "--as", "qa", "--no-resume")
    assert proc.returncode == 0, proc.stderr
    for a in approvals:
        if a["task"] != rejected:
            proc = podium(tmp_path, "approve", run_id, a["task"], "--as", "qa", "--no-resume")
            assert proc.returncode == 0, proc.stderr
    assert inbox.messages() == []  # decisions alone send nothing: the resume does
    for _ in range(2):  # the second resume only reports: nothing is sent twice
        proc = podium(tmp_path, "resume", run_id, "--json")
        result = json.loads(proc.stdout)
        assert result["status"] == "partially_succeeded", proc.stderr
    got = inbox.messages()
    approved = {a["task"]: a["arguments"] for a in approvals if a["task"] != rejected}
    assert len(got) == len(approved) == 5
    assert len({m["Message-ID"] for m in got}) == 5
    by_subject = {m["Subject"]: m for m in got}
    for args in approved.values():
        sent = by_subject[args["subject"]]
        assert sent["To"] == args["to"][0]
        assert sent.get_content().replace("\r\n", "\n") == args["body"]  # SMTP sends CRLF
    assert tickets[4]["subject"] not in " ".join(by_subject)
    assert "not every one was sent" in result["output"]


@pytest.mark.slow
def test_the_test_model_falls_back_to_keywords_and_templates(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mail = {
        "transport": "outbox",
        "outbox": str(outbox),
        "from_address": "support@shop.example.com",
        "allow_domains": ["example.com"],
        "sent_log": str(tmp_path / "sent.db"),
    }
    args = ("run", str(EXAMPLE), "--json", "--model", "test", "-i", f"mail={json.dumps(mail)}")
    proc = podium(tmp_path, *args, "-i", f"data={tmp_path / 'data'}")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    emails = result["tasks"]["check"]["output"]
    assert all(e["reply_by"] == "template" for e in emails)  # "aaaa…" is never grounded
    assert {e["category"] for e in emails} >= {"shipping", "refund", "technical"}
    assert (tmp_path / "data" / "shop.db").is_file()
    assert not outbox.exists()
    run_id = result["run_id"]
    approvals = pending(tmp_path, run_id)
    check_approvals(approvals, TICKETS)  # the default batch: 20 emails, 20 approvals
    for a in approvals:
        proc = podium(tmp_path, "approve", run_id, a["task"], "--as", "qa", "--no-resume")
        assert proc.returncode == 0, proc.stderr
    for _ in range(2):
        proc = podium(tmp_path, "resume", run_id, "--json")
        assert json.loads(proc.stdout)["status"] == "succeeded", proc.stderr
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 20
    assert "20 of 20 replies sent" in json.loads(proc.stdout)["output"]


# -- in process: the model is a function ----------------------------------------------------


def helpful(request: ModelRequest) -> str:
    """Classifies by the ticket's words and drafts a grounded reply."""
    prompt = [m.content for m in request.messages if isinstance(m, UserMessage)][-1]
    if prompt.startswith("Ticket:"):
        return json.dumps({"category": "shipping" if "parcel" in prompt else "other"})
    start = re.search(r'Start with "(.+)"', prompt)
    assert start is not None, prompt
    facts = re.search(r"^Facts: (.+)$", prompt, flags=re.M)
    assert facts is not None
    return json.dumps({"reply": f"{start.group(1)}: {facts.group(1)}"[:200]})


@pytest.mark.anyio
async def test_grounded_drafts_are_kept_and_each_email_waits_for_its_approval(
    tmp_path: Path, agents: ModuleType
) -> None:
    loaded = load_workflow(EXAMPLE)
    model = FunctionModel(helpful)
    workflow = dataclasses.replace(
        loaded,
        agents=[dataclasses.replace(a, model=model) if a.model else a for a in loaded.agents],
    )
    mail = {
        "transport": "outbox",
        "outbox": str(tmp_path / "outbox"),
        "from_address": "support@shop.example.com",
        "allow_domains": ["example.com"],
        "sent_log": str(tmp_path / "sent.db"),
    }
    inputs = {"tickets": TICKETS[:4], "mail": mail, "data": str(tmp_path / "data")}
    async with Orchestrator(store=f"sqlite:///{tmp_path / 'p.db'}") as orch:
        run = await orch.run(workflow, inputs=inputs)
        assert run.status == "waiting"
        emails = run.tasks["check"]["output"]
        assert [e["reply_by"] for e in emails] == ["model"] * 4, emails
        assert emails[0]["category"] == "shipping"  # the model's, with keyword evidence
        assert emails[1]["category"] == "billing"  # "other" had none: the keywords decide
        assert emails[1]["category_by"] == "keywords"
        assert "Your order #1002" in emails[0]["body"]
        assert len(await orch.approvals()) == 4
        assert not (tmp_path / "outbox").exists()
        await orch.reject(run.run_id, "send[1]", by="qa", resume=False)
        for task in ("send[0]", "send[2]", "send[3]"):
            await orch.approve(run.run_id, task, by="qa", resume=False)
        assert not (tmp_path / "outbox").exists()
        done = await orch.resume(run.run_id, workflow=workflow)
    assert done.status == "partially_succeeded"
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    sent = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert "bruno.diaz@example.com" not in {m["To"] for m in sent}


def test_unusable_drafts_are_replaced_by_the_template(agents: ModuleType) -> None:
    orders = [
        {"id": 1002, "item": "Keyboard", "total": "59.00", "placed_on": "2026-11-28",
         "status": "shipped", "carrier": "DHL", "tracking": "JD1"},
    ]  # fmt: skip
    case = agents.case(TICKETS[0], {"category": "shipping"}, {"customer": "Ann", "orders": orders})
    good = "Your order #1002 (Keyboard) was shipped with DHL, tracking JD1."
    assert agents.problems(good, case) == []
    bad = {
        "Your order #1002 was delivered yesterday.": "says 'delivered'",
        "Your order #1003 was shipped.": "cites orders not in the data",
        "Your order #1002 was shipped on 2026-12-24.": "numbers not in the data",
        "Your order #1002 was shipped. Your order #1002 was shipped.": "repeats itself",
        "Your order #1002 was shipped with DHL and": "ends mid-sentence",
        "Dear [Customer Name], your order #1002 was shipped.": "placeholder",
        "Thank you for your message, we will look into it.": "does not cite #1002",
        "Your order #1002 was shipped, see https://evil.test.": "link",
        "Ok.": "too short",
    }
    for reply, problem in bad.items():
        assert any(problem in p for p in agents.problems(reply, case)), reply
        email = agents.email(case, {"reply": reply})
        if problem == "repeats itself":  # the first sentence is grounded: kept, the rest cut
            assert email["reply_by"] == "model"
            assert email["trimmed"] is True
            assert "\n\nYour order #1002 was shipped.\n\n" in email["body"]
            continue
        assert email["reply_by"] == "template"
        assert reply not in email["body"]
        assert "Order #1002 (Keyboard, 59.00 EUR, 2026-11-28) was shipped" in email["body"]
    kept = agents.email(case, {"reply": f"{good} It was shipped on 2026-11-28. It is a"})
    assert (kept["reply_by"], kept["trimmed"]) == ("model", True)
    assert f"{good} It was shipped on 2026-11-28.\n" in kept["body"]
    backup = agents.email(case, {"reply": "x", "by": "template"})
    assert backup["problems"] == ["the model gave no usable draft"]


def test_the_category_is_checked_against_the_tickets_words(agents: ModuleType) -> None:
    text = "Where is my parcel? The tracking number does not work."
    assert agents.checked_category({"category": "shipping"}, text) == ("shipping", "model")
    assert agents.checked_category({"category": "billing"}, text) == ("shipping", "keywords")
    assert agents.checked_category({"category": "nonsense"}, text) == ("shipping", "keywords")
    assert agents.checked_category(None, "Hello there") == ("other", "keywords")
    assert agents.checked_category({"category": "refund"}, "Hello there") == ("refund", "model")


def test_bad_tickets_are_refused_before_anything_runs(tmp_path: Path, agents: ModuleType) -> None:
    ok = {"id": "A", "from": "a@example.com", "subject": "s", "body": "b"}
    bad: list[Any] = [
        {},
        [],
        [ok] * 201,
        ["not a ticket"],
        [{**ok, "body": ""}],
        [{**ok, "subject": "x" * 201}],
        [{**ok, "from": 3}],
        [{**ok, "subject": "Hi\nBcc: x@evil.test"}],
        [ok, ok],
    ]
    for tickets in bad:
        with pytest.raises((ValueError, TypeError)):
            agents.intake(_call(tickets, tmp_path))
    assert agents.intake(_call(json.dumps([ok]), tmp_path)) == [ok]
    assert len(agents.intake(_call("tickets.json", tmp_path))) == 20
    with pytest.raises(ValueError, match="longer than"):
        agents.intake(_call("[" + " " * agents.MAX_BYTES + "]", tmp_path))
    with pytest.raises(ConfigError, match="from_address"):  # before any model call
        agents.intake(_call([ok], tmp_path, from_address="nobody"))


def _call(tickets: Any, tmp_path: Path, **mail: Any) -> Any:
    @dataclasses.dataclass
    class Call:
        run_inputs: dict[str, Any]

    mail = {
        "transport": "outbox",
        "outbox": str(tmp_path / "o"),
        "from_address": "s@example.com",
        "allow_domains": ["example.com"],
        **mail,
    }
    inputs = {"tickets": tickets, "data": str(tmp_path / "data"), "mail": mail}
    return Call(run_inputs=inputs)


def test_the_working_copy_is_built_once_and_concurrently_safe(
    tmp_path: Path, agents: ModuleType
) -> None:
    db = tmp_path / "d" / "shop.db"
    threads = [threading.Thread(target=agents.prepare_database, args=(db,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE orders SET status = 'shipped' WHERE id = 1004")
    agents.prepare_database(db)  # exists: kept as it is, changes and all
    with contextlib.closing(sqlite3.connect(db)) as conn:
        status = conn.execute("SELECT status FROM orders WHERE id = 1004").fetchone()[0]
    assert status == "shipped"
    assert [p.name for p in db.parent.iterdir()] == ["shop.db"]


# -- the send_email tool's outbox transport ---------------------------------------------------


def ctx(key: str = "run1/send[0]/send_email") -> ToolContext:
    return ToolContext(
        run_id="run1", task_id="send[0]", agent="a", call_id="c", idempotency_key=key
    )


@pytest.mark.anyio
async def test_the_outbox_writes_one_file_per_key(tmp_path: Path) -> None:
    tool = send_email_tool(
        transport="outbox",
        outbox=str(tmp_path / "out"),
        from_address="support@shop.example.com",
        allow_domains=["example.com"],
        sent_log=str(tmp_path / "sent.db"),
    )
    args = {"to": ["ann@example.com"], "subject": "Hi", "body": "Hello.\n"}
    first = await tool.call(args, ctx())
    again = await tool.call(args, ctx())
    assert first["sent"] is True
    assert first["duplicate"] is False
    assert again["duplicate"] is True
    [file] = list((tmp_path / "out").iterdir())
    msg = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert msg["Message-ID"] == message_id(ctx().idempotency_key, "support@shop.example.com")
    assert (msg["To"], msg["Subject"], msg.get_content()) == ("ann@example.com", "Hi", "Hello.\n")
    await tool.call(args, ctx("run1/send[1]/send_email"))
    assert len(list((tmp_path / "out").iterdir())) == 2


@pytest.mark.anyio
async def test_an_outbox_that_cannot_be_written_sends_nothing_and_can_retry(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "out"
    blocked.write_text("a file where the folder should be")
    tool = send_email_tool(
        transport="outbox",
        outbox=str(blocked),
        from_address="support@shop.example.com",
        allow_domains=["example.com"],
        sent_log=str(tmp_path / "sent.db"),
    )
    args = {"to": ["ann@example.com"], "subject": "Hi", "body": "Hello.\n"}
    with pytest.raises(ToolError, match="not written to the outbox"):
        await tool.call(args, ctx())
    blocked.unlink()
    assert (await tool.call(args, ctx()))["duplicate"] is False  # the key was released
    assert len(list(blocked.glob("*.eml"))) == 1


@pytest.mark.anyio
async def test_outbox_options_are_checked_and_relative_to_the_workflow(tmp_path: Path) -> None:
    base = {"from_address": "s@shop.example.com", "allow_domains": ["example.com"]}
    for wrong in (
        {"transport": "outbox"},
        {"transport": "outbox", "outbox": "o", "host": "smtp.example.com"},
        {},
        {"host": "smtp.example.com", "outbox": "o"},
    ):
        with pytest.raises(ConfigError, match="transport"):
            send_email_tool(**base, **wrong)
    raw = {**base, "transport": "outbox", "outbox": "out", "sent_log": str(tmp_path / "s.db")}
    [tool] = standard_tools("send_email", raw, "mail", base_dir=tmp_path / "flow")
    assert (tool.name, tool.effect) == ("mail", "irreversible")
    await tool.call({"to": ["a@example.com"], "subject": "s", "body": "b"}, ctx())
    assert len(list((tmp_path / "flow" / "out").glob("*.eml"))) == 1
