"""Sending email over SMTP (``send_email``): an irreversible tool, so approved before it runs.

The sender is fixed by configuration; recipients must be in allowed domains; subject and body
have size limits; a newline or control character in a subject or an address (header
injection) is refused. Credentials come from environment variables named in the
configuration, never from the file itself.

A send lands once: the call's idempotency key names the message (its ``Message-ID`` is derived
from the key) and a sent-log (`SentLog`, a small SQLite file) records it, so a task that runs
again after a crash returns the recorded result instead of sending a second copy.

``transport: outbox`` writes each message as an ``.eml`` file into the folder `outbox` instead of
connecting to a server (like Django's file email backend): for trying a workflow out on a
machine without an SMTP server. It is still irreversible (the file is the sent email) and
keyed the same way: one file per idempotency key, named after the message.

In a workflow file::

    tools:
      mail:
        use: send_email
        with:
          host: smtp.example.com
          username_env: SMTP_USER
          password_env: SMTP_PASSWORD
          from_address: reports@example.com
          allow_domains: [example.com]
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal

import platformdirs
import pydantic

from podium.exceptions import ToolError
from podium.tools._email_log import SentLog
from podium.tools._standard import options
from podium.tools._tool import Tool, ToolContext
from podium.tools._web_search import check_env_name, secret_from_env

logger = logging.getLogger(__name__)

JSON = Any
SENT_LOG_NAME = "email-sent.db"
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# definite refusals: the server answered before taking the message, so nothing was sent
_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def default_sent_log() -> Path:
    """Where the sent-log lives by default: beside the per-user store, in the user's data
    folder (``~/.local/share/podium/email-sent.db`` on Linux)."""
    return platformdirs.user_data_path("podium") / SENT_LOG_NAME


class EmailOptions(pydantic.BaseModel):
    """The ``with:`` options of ``use: send_email`` (and of `send_email_tool`)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    transport: Literal["smtp", "outbox"] = "smtp"
    host: str | None = pydantic.Field(None, min_length=1)
    outbox: str | None = pydantic.Field(None, min_length=1)
    port: int | None = pydantic.Field(None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    from_address: str
    allow_domains: list[str] = pydantic.Field(min_length=1)
    max_recipients: int = pydantic.Field(10, ge=1, le=100)
    max_subject_chars: int = pydantic.Field(200, ge=1, le=998)
    max_body_chars: int = pydantic.Field(100_000, ge=1, le=10_000_000)
    timeout_s: float = pydantic.Field(30.0, gt=0, le=600)
    sent_log: str | None = None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> EmailOptions:
        if self.transport == "smtp" and (self.host is None or self.outbox is not None):
            raise ValueError("transport smtp needs `host` (and no `outbox`)")
        if self.transport == "outbox" and (self.outbox is None or self.host is not None):
            raise ValueError("transport outbox needs `outbox`, a folder (and no `host`)")
        if not _ADDRESS.fullmatch(self.from_address):
            raise ValueError(f"from_address {self.from_address!r} is not an email address")
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("give both username_env and password_env, or neither")
        for name in (self.username_env, self.password_env):
            if name is not None:
                check_env_name(name, "username_env/password_env")
        if self.username_env and self.security == "none" and self.host not in _LOOPBACK:
            raise ValueError(
                "a password is never sent unencrypted: use security starttls or ssl"
                " (plain connections are for servers on this machine)"
            )
        for entry in self.allow_domains:
            if not _domain_entry(entry):
                raise ValueError(f"allow_domains: {entry!r} is not a domain or '*.domain'")
        return self


def _domain_entry(entry: str) -> bool:
    bare = entry.removeprefix("*.")
    return bool(re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", bare))


def domain_allowed(domain: str, allowed: Sequence[str]) -> bool:
    """Whether `domain` is listed, or under a listed ``*.domain`` pattern."""
    return any(
        domain.endswith(entry[1:]) if entry.startswith("*.") else domain == entry
        for entry in allowed
    )


def message_id(key: str, from_address: str) -> str:
    """The ``Message-ID`` of the message an idempotency key sends: the same key, the same id."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<podium.{digest}@{from_address.rpartition('@')[2]}>"


class Mailer:
    """Checks, builds and sends one message per idempotency key (the body of the tool)."""

    def __init__(self, o: EmailOptions, log: SentLog) -> None:
        self.o = o
        self.log = log
        self.allowed = [d.lower() for d in o.allow_domains]

    def recipients(self, to: Sequence[str]) -> list[str]:
        """The checked, de-duplicated recipients; `ToolError` for any that is refused."""
        if not to:
            raise ToolError("give at least one recipient")
        checked: list[str] = []
        seen: set[str] = set()  # case-insensitive: mail systems treat Ann@ and ann@ alike
        for given in to:
            if _CONTROL.search(given):
                raise ToolError("an address contains a line break or control character: refused")
            address = given.strip()
            if len(address) > 254 or not _ADDRESS.fullmatch(address):
                raise ToolError(f"{address[:100]!r} is not a plain email address (name@domain)")
            local, _, domain = address.rpartition("@")
            if not domain_allowed(domain.lower(), self.allowed):
                raise ToolError(
                    f"recipient domain {domain!r} is not allowed (allowed: "
                    f"{', '.join(self.allowed)})"
                )
            if address.lower() not in seen:
                seen.add(address.lower())
                checked.append(f"{local}@{domain.lower()}")
        if len(checked) > self.o.max_recipients:
            raise ToolError(f"at most {self.o.max_recipients} recipients per email")
        return checked

    def build(self, to: list[str], subject: str, body: str, key: str) -> EmailMessage:
        """The message; `ToolError` for a subject or body that breaks a rule."""
        if _CONTROL.search(subject):
            raise ToolError("the subject contains a line break or control character: refused")
        if not subject.strip() or len(subject) > self.o.max_subject_chars:
            raise ToolError(f"the subject must have 1 to {self.o.max_subject_chars} characters")
        if len(body) > self.o.max_body_chars:
            raise ToolError(f"the body is longer than {self.o.max_body_chars} characters")
        if "\x00" in body:
            raise ToolError("the body contains a NUL character")
        msg = EmailMessage()
        msg["From"] = self.o.from_address
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject.strip()
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(key, self.o.from_address)
        msg.set_content(body.replace("\r\n", "\n").replace("\r", "\n"))
        return msg

    def send(self, to: Sequence[str], subject: str, body: str, ctx: ToolContext) -> dict[str, JSON]:
        """Send once per ``ctx.idempotency_key`` (see the module docstring)."""
        key = ctx.idempotency_key
        if not key:
            raise ToolError("send_email needs an idempotency key (it is given in a run)")
        checked = self.recipients(to)
        msg = self.build(checked, subject, body, key)
        credentials = self._credentials()
        mid = message_id(key, self.o.from_address)
        claim = self.log.claim(key, mid)
        if claim.state == "sent":
            logger.info("email %s was already sent; not sending it again", key)
            return {**claim.result, "duplicate": True}
        if claim.state == "in_doubt":
            raise ToolError(
                f"an earlier send of this email (key {key!r}) did not finish, so it may have been"
                " delivered; it is not sent again. Check the recipients' mailboxes; to send it"
                f" anyway, remove the key from the sent-log {str(self.log.path)!r} with"
                " podium.tools.email.SentLog(path).forget(key)"
            )
        refused = self._deliver(msg, checked, credentials, key)
        result: dict[str, JSON] = {
            "sent": True,
            "message_id": mid,
            "to": [a for a in checked if a not in refused],
            "refused": sorted(refused),
            "duplicate": False,
        }
        self.log.record(key, result)
        return result

    def _credentials(self) -> tuple[str, str] | None:
        if self.o.username_env is None or self.o.password_env is None:
            return None
        return (
            secret_from_env(self.o.username_env, "send_email"),
            secret_from_env(self.o.password_env, "send_email"),
        )

    def _deliver(
        self, msg: EmailMessage, to: list[str], credentials: tuple[str, str] | None, key: str
    ) -> list[str]:
        """Hand `msg` to the server; the recipients it refused. Releases the key when nothing
        was sent, marks it in doubt when the server may have the message."""
        if self.o.outbox is not None:
            self._file(msg, key)
            return []
        sending = False
        try:
            smtp = self._connect()
            try:
                if credentials is not None:
                    smtp.login(*credentials)
                sending = True
                refused = smtp.send_message(msg, from_addr=self.o.from_address, to_addrs=to)
            finally:
                _quit(smtp)
        except (smtplib.SMTPException, OSError) as exc:
            if sending and not isinstance(exc, _REFUSED):
                self.log.doubt(key)
                raise ToolError(
                    f"the connection to {self.o.host!r} failed while sending ({exc}); the email"
                    " may have been delivered, so it will not be sent again automatically"
                ) from None
            self.log.forget(key)
            raise ToolError(f"the email was not sent: {type(exc).__name__}: {exc}") from None
        return list(refused)

    def _file(self, msg: EmailMessage, key: str) -> None:
        """Write `msg` into the outbox folder as one ``.eml`` file named after `key`. The file
        appears whole or not at all (written aside, then renamed), so a failure sent nothing."""
        assert self.o.outbox is not None  # the transport is outbox
        folder = Path(self.o.outbox)
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        part = folder / f".{name}.eml.part"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            part.write_bytes(msg.as_bytes())
            os.replace(part, folder / f"{name}.eml")
        except OSError as exc:
            self.log.forget(key)
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
            raise ToolError(
                f"the email was not written to the outbox {str(folder)!r}: {exc}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        assert self.o.host is not None  # the transport is smtp
        port = self.o.port or _PORTS[self.o.security]
        timeout = self.o.timeout_s
        if self.o.security == "ssl":
            return smtplib.SMTP_SSL(
                self.o.host, port, timeout=timeout, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(self.o.host, port, timeout=timeout)
        if self.o.security == "starttls":
            try:
                smtp.starttls(context=ssl.create_default_context())
            except BaseException:
                smtp.close()
                raise
        return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye; a failure here cannot undo a message the server already accepted."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def send_email_tool(*, name: str = "send_email", **settings: Any) -> Tool:
    """The ``send_email`` tool (effect ``irreversible``) with `settings` (the fields of
    `EmailOptions`: ``host``, ``from_address``, ``allow_domains``, …).

    Raises:
        ConfigError: a missing or invalid setting, named.
    """
    return _tool(options(EmailOptions, settings, "send_email"), name)


def make(raw: Mapping[str, JSON], base_dir: Path | None = None) -> Sequence[Tool]:
    """The ``send_email`` standard tool from a workflow file's ``with:`` options; a relative
    `outbox` folder is in `base_dir` (the workflow file's folder)."""
    o = options(EmailOptions, raw, "send_email")
    if o.outbox is not None and base_dir is not None:
        o = o.model_copy(update={"outbox": str(base_dir / o.outbox)})
    return [_tool(o, "send_email")]


def _tool(o: EmailOptions, name: str) -> Tool:
    log = SentLog(Path(o.sent_log).absolute() if o.sent_log else default_sent_log())
    if o.outbox is not None:  # fixed now: a later change of directory does not move it
        o = o.model_copy(update={"outbox": str(Path(o.outbox).absolute())})
    mailer = Mailer(o, log)

    def send_email(to: list[str], subject: str, body: str, ctx: ToolContext) -> dict[str, JSON]:
        """Send a plain-text email to allowed recipients. Each call is one message, sent once;
        it needs a person's approval first."""
        return mailer.send(to, subject, body, ctx)

    return Tool.from_function(send_email, name=name, effect="irreversible")


__all__ = [
    "EmailOptions",
    "SentLog",
    "default_sent_log",
    "make",
    "message_id",
    "send_email_tool",
]
