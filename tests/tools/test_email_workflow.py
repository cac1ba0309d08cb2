"""send_email in a real run: it parks for approval, then the email arrives exactly once."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from podium import Orchestrator, Workflow
from podium.events import ToolCalled
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow_text
from podium.testing import FunctionModel
from podium.tools.email import SentLog
from tests.tools.test_email import Inbox, inbox  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

EMAIL = {"to": ["ops@example.com"], "subject": "Nightly run", "body": "All 12 checks passed."}


def mailing_model() -> FunctionModel:
    """Asks for one email per attempt (fresh call ids each time), then reports the result."""
    ids = itertools.count(1)

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            call = ToolCall(id=f"call_{next(ids)}", name="mail", arguments=EMAIL)
            return ModelResponse(tool_calls=(call,))
        return results[-1].content

    return FunctionModel(answer)


def workflow(port: int, sent_log: Path) -> Workflow:
    text = f"""\
name: nightly
tools:
  mail:
    use: send_email
    with:
      host: 127.0.0.1
      port: {port}
      security: none
      from_address: robot@podium.example
      allow_domains: [example.com]
      sent_log: {sent_log}
agents:
  reporter:
    model: test
    tools: [mail]
tasks:
  - id: report
    agent: reporter
    instruction: email the nightly result
"""
    loaded = load_workflow_text(text, path="nightly.yaml")
    agents = tuple(dataclasses.replace(a, model=mailing_model()) for a in loaded.agents)
    return dataclasses.replace(loaded, agents=agents)


async def test_the_email_waits_for_approval_then_arrives_once(
    inbox: tuple[Inbox, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    box, port = inbox
    wf = workflow(port, tmp_path / "sent.db")
    [mail] = wf.agents[0].tools
    assert (mail.name, mail.effect) == ("mail", "irreversible")
    async with Orchestrator(store=str(tmp_path / "runs.db")) as orch:
        parked = await orch.run(wf)
        assert parked.status == "waiting"
        assert box.envelopes == []
        assert box.connections == 0
        [pending] = await orch.approvals()
        assert (pending.tool, pending.arguments) == ("mail", EMAIL)
        assert pending.reason == "tool 'mail' is irreversible"
        done = await orch.approve(parked.run_id, by="ann", workflow=wf)
        events = await orch.events(parked.run_id)
    assert done.status == "succeeded"
    [msg] = box.messages()
    assert (msg["To"], msg["Subject"]) == ("ops@example.com", "Nightly run")
    [called] = [e for e in events if isinstance(e, ToolCalled)]
    assert called.result["message_id"] == msg["Message-ID"]
    assert called.idempotency_key.startswith(f"{parked.run_id}/report/1:")
    assert SentLog(tmp_path / "sent.db").state(called.idempotency_key) == "sent"


async def test_a_task_that_runs_again_after_the_send_does_not_resend(
    inbox: tuple[Inbox, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    """As after a crash between the SMTP server's acceptance and the journal: the same call
    with the same key comes back, and the sent-log answers it."""
    box, port = inbox
    wf = workflow(port, tmp_path / "sent.db")
    async with Orchestrator(store=str(tmp_path / "runs.db")) as orch:
        parked = await orch.run(wf)
        await orch.approve(parked.run_id, by="ann", workflow=wf)
        [called] = [e for e in await orch.events(parked.run_id) if isinstance(e, ToolCalled)]
    [mail] = wf.agents[0].tools
    from podium.tools import ToolContext

    again = await mail.call(
        dict(EMAIL),
        ToolContext(
            run_id=parked.run_id,
            task_id="report",
            agent="reporter",
            call_id="call_after_crash",
            idempotency_key=called.idempotency_key,
        ),
    )
    assert again == {**called.result, "duplicate": True}
    assert len(box.envelopes) == 1


def test_the_examples_of_the_docs_page_load_and_run() -> None:
    from typing import Any

    from tests.tools.test_web_workflow import doc_blocks

    [yaml_text] = doc_blocks("email.md", "yaml")
    loaded = load_workflow_text(yaml_text, path="nightly.yaml")
    [mail] = loaded.agents[0].tools
    assert (mail.name, mail.effect) == ("mail", "irreversible")
    [python] = doc_blocks("email.md", "python")
    scope: dict[str, Any] = {}
    exec(compile(python, "email.md", "exec"), scope)
    assert [t.effect for t in scope["reporter"].tools] == ["irreversible"]
