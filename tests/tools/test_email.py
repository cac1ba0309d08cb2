"""The send_email tool against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from podium.exceptions import ConfigError, ToolError
from podium.tools import Tool, ToolContext
from podium.tools._standard import standard_tools
from podium.tools.email import SentLog, default_sent_log, message_id, send_email_tool

pytestmark = pytest.mark.anyio


class Inbox:
    """What the server received; `refuse_rcpt` / `hang_up` make it misbehave on purpose."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.connections = 0
        self.refuse_rcpt = False
        self.hang_up = False

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        if self.hang_up:  # the server has the message, then the connection breaks
            assert server.transport is not None
            server.transport.close()
        return "250 2.0.0 queued"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(bytes(e.content or b""), policy=policy.default)  # type: ignore[misc]
            for e in self.envelopes
        ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def accept_pw(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    return AuthResult(success=isinstance(data, LoginPassword) and data.password == b"s3cret")


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=accept_pw, auth_require_tls=False
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def ctx(key: str = "run1/notify/1:abcdef0123456789") -> ToolContext:
    return ToolContext(run_id="run1", task_id="notify", agent="a", call_id="c", idempotency_key=key)


def mail_tool(port: int, tmp_path: Path, **extra: Any) -> Tool:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "reports@podium.example",
        "allow_domains": ["example.com", "*.example.org"],
        "sent_log": str(tmp_path / "sent.db"),
        "timeout_s": 10,
    }
    return send_email_tool(**{**settings, **extra})


async def send(tool: Tool, context: ToolContext | None = None, **args: Any) -> dict[str, Any]:
    arguments = {"to": ["ann@example.com"], "subject": "Weekly report", "body": "All good.\n"}
    result = await tool.call({**arguments, **args}, context or ctx())
    assert isinstance(result, dict)
    return result


async def test_the_message_arrives_with_the_right_headers(
    inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    box, port = inbox
    tool = mail_tool(port, tmp_path)
    assert (tool.name, tool.effect) == ("send_email", "irreversible")
    assert "ctx" not in tool.parameters["properties"]
    body = "Numbers are up.\n.\nA line with only a dot, and ünïcode.\n"
    result = await send(
        tool,
        to=["Ann@EXAMPLE.com", "bob@eu.example.org", "ann@example.com"],
        subject="Q3 — done",
        body=body,
    )
    expected_id = message_id("run1/notify/1:abcdef0123456789", "reports@podium.example")
    assert result == {
        "sent": True,
        "message_id": expected_id,
        "to": ["Ann@example.com", "bob@eu.example.org"],
        "refused": [],
        "duplicate": False,
    }
    [envelope] = box.envelopes
    assert envelope.mail_from == "reports@podium.example"
    assert envelope.rcpt_tos == ["Ann@example.com", "bob@eu.example.org"]
    [msg] = box.messages()
    assert msg["From"] == "reports@podium.example"
    assert msg["To"] == "Ann@example.com, bob@eu.example.org"
    assert msg["Subject"] == "Q3 — done"
    assert msg["Message-ID"] == expected_id
    assert expected_id.endswith("@podium.example>")
    assert msg["Date"]
    content = msg.get_content()
    assert content.replace("\r\n", "\n") == body


async def test_a_retry_with_the_same_key_sends_once(
    inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    box, port = inbox
    first = await send(mail_tool(port, tmp_path))
    again = await send(mail_tool(port, tmp_path))  # a new tool, as after a restart: same log
    assert again == {**first, "duplicate": True}
    assert len(box.envelopes) == 1
    assert box.connections == 1  # the retry did not even connect
    other = await send(mail_tool(port, tmp_path), ctx("run1/notify/2:ffff"))
    assert other["message_id"] != first["message_id"]
    assert len(box.envelopes) == 2


async def test_concurrent_sends_of_one_key_send_once(
    inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    import asyncio

    box, port = inbox
    tool = mail_tool(port, tmp_path)
    outcomes = await asyncio.gather(*(send(tool) for _ in range(8)), return_exceptions=True)
    sent = [o for o in outcomes if isinstance(o, dict)]
    assert len(box.envelopes) == 1
    assert sum(not o["duplicate"] for o in sent) == 1
    for other in outcomes:  # the others returned the record, or saw a send still in flight
        assert isinstance(other, dict) or "did not finish" in str(other)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"subject": "Hi\r\nBcc: victim@evil.test"}, "subject contains a line break"),
        ({"subject": "Hi\nthere"}, "subject contains a line break"),
        ({"subject": "Hi\u2028there"}, "subject contains a line break"),
        ({"to": ["ann@example.com\r\nBcc: victim@evil.test"]}, "address contains a line break"),
        ({"to": ["Ann <ann@example.com>"]}, "is not a plain email address"),
        ({"to": ["ann@example.com, eve@evil.test"]}, "is not a plain email address"),
        ({"to": ["eve@evil.test"]}, "recipient domain 'evil.test' is not allowed"),
        ({"to": ["eve@example.com.evil.test"]}, "is not allowed"),
        ({"to": ["eve@example.org"]}, "'example.org' is not allowed"),  # only *.example.org
        ({"to": []}, "at least one recipient"),
        ({"to": [f"u{i}@example.com" for i in range(4)]}, "at most 3 recipients"),
        ({"subject": "x" * 41}, "subject must have 1 to 40 characters"),
        ({"subject": "   "}, "subject must have 1 to 40 characters"),
        ({"body": "x" * 1001}, "body is longer than 1000 characters"),
        ({"body": "nul\x00byte"}, "NUL character"),
    ],
)
async def test_hostile_or_oversized_input_is_refused_before_connecting(
    inbox: tuple[Inbox, int], tmp_path: Path, args: dict[str, Any], message: str
) -> None:
    box, port = inbox
    tool = mail_tool(port, tmp_path, max_recipients=3, max_subject_chars=40, max_body_chars=1000)
    with pytest.raises(ToolError, match=message):
        await send(tool, **args)
    assert (box.connections, box.envelopes) == (0, [])
    assert SentLog(tmp_path / "sent.db").state(ctx().idempotency_key) is None


async def test_a_refused_send_releases_its_key(inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    box, port = inbox
    tool = mail_tool(port, tmp_path)
    box.refuse_rcpt = True
    with pytest.raises(ToolError, match="was not sent: SMTPRecipientsRefused"):
        await send(tool)
    assert SentLog(tmp_path / "sent.db").state(ctx().idempotency_key) is None
    box.refuse_rcpt = False
    assert (await send(tool))["duplicate"] is False  # nothing went out, so the retry sends
    assert len(box.envelopes) == 1


async def test_a_server_that_is_down_sends_nothing(tmp_path: Path) -> None:
    tool = mail_tool(free_port(), tmp_path)
    with pytest.raises(ToolError, match="was not sent: ConnectionRefusedError"):
        await send(tool)
    assert SentLog(tmp_path / "sent.db").state(ctx().idempotency_key) is None


async def test_a_connection_lost_after_the_data_is_never_resent(
    inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    box, port = inbox
    tool = mail_tool(port, tmp_path)
    box.hang_up = True
    with pytest.raises(ToolError, match="may have been delivered"):
        await send(tool)
    box.hang_up = False
    log = SentLog(tmp_path / "sent.db")
    assert log.state(ctx().idempotency_key) == "unknown"
    with pytest.raises(ToolError, match=r"did not finish, so it may have been delivered.*forget"):
        await send(tool)
    assert len(box.envelopes) == 1  # the server got it once, and only once
    assert log.forget(ctx().idempotency_key)  # an operator who checked the mailbox
    assert (await send(tool))["sent"] is True
    assert len(box.envelopes) == 2


async def test_a_crash_between_claim_and_send_is_in_doubt(
    inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    box, port = inbox
    log = SentLog(tmp_path / "sent.db")
    key = ctx().idempotency_key
    assert log.claim(key, "<id@x>").state == "new"  # the process died right after this
    with pytest.raises(ToolError, match="did not finish"):
        await send(mail_tool(port, tmp_path))
    assert box.connections == 0


async def test_credentials_come_from_the_environment(
    inbox: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = inbox
    tool = mail_tool(
        port, tmp_path, username_env="PODIUM_TEST_SMTP_USER", password_env="PODIUM_TEST_SMTP_PW"
    )
    monkeypatch.delenv("PODIUM_TEST_SMTP_PW", raising=False)
    monkeypatch.setenv("PODIUM_TEST_SMTP_USER", "mailer")
    with pytest.raises(ToolError, match="'PODIUM_TEST_SMTP_PW' is not set"):
        await send(tool)
    assert box.connections == 0
    # (a wrong password is not tried: aiosmtpd delays its refusal on purpose, for seconds)
    monkeypatch.setenv("PODIUM_TEST_SMTP_PW", "s3cret")
    assert (await send(tool))["sent"] is True
    assert len(box.envelopes) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {
                "host": "smtp.example.com",
                "security": "none",
                "username_env": "U",
                "password_env": "P",
            },
            "never sent unencrypted",
        ),
        ({"username_env": "U"}, "give both username_env and password_env"),
        ({"username_env": "my password", "password_env": "P"}, "is not an environment variable"),
        ({"from_address": "Reports <r@x.example>"}, "is not an email address"),
        ({"allow_domains": []}, "allow_domains"),
        ({"allow_domains": ["@example.com"]}, "is not a domain"),
        ({"port": 0}, "port"),
        ({"bcc": "boss@example.com"}, "bcc: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_config_errors(
    settings: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        mail_tool(settings.pop("port", 25), tmp_path, **settings)


def test_the_sent_log_defaults_to_the_user_data_folder(tmp_path: Path) -> None:
    """The test session points XDG_DATA_HOME at a temporary folder (tests/conftest.py)."""
    [tool] = standard_tools(
        "send_email",
        {
            "host": "smtp.example.com",
            "from_address": "r@example.com",
            "allow_domains": ["example.com"],
        },
        "mail",
    )
    assert tool.name == "mail"
    path = default_sent_log()
    assert path.name == "email-sent.db"
    assert path.parent.name == "podium"


def test_the_sent_log_claims_a_key_once_across_threads(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "deep" / "folder" / "sent.db")
    states: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        state = SentLog(log.path).claim("k", "<m@x>").state
        with lock:
            states.append(state)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(states) == ["in_doubt"] * 7 + ["new"]
    log.record("k", {"sent": True})
    assert log.claim("k", "<m@x>").result == {"sent": True}


def test_an_unusable_sent_log_refuses_to_send(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ToolError, match="cannot open the email sent-log"):
        SentLog(blocker / "sent.db").claim("k", "<m@x>")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ToolError, match=r"sent-log .* failed"):
        SentLog(garbage).claim("k", "<m@x>")


@pytest.mark.parametrize(
    ("security", "message"),
    [("starttls", "SMTPNotSupportedError"), ("ssl", "SSLError")],
)
async def test_encryption_that_the_server_cannot_do_sends_nothing(
    inbox: tuple[Inbox, int], tmp_path: Path, security: str, message: str
) -> None:
    """The loopback server speaks plain SMTP: asking for TLS fails before any message."""
    box, port = inbox
    with pytest.raises(ToolError, match=f"was not sent: {message}"):
        await send(mail_tool(port, tmp_path, security=security))
    assert box.envelopes == []
    assert SentLog(tmp_path / "sent.db").state(ctx().idempotency_key) is None
