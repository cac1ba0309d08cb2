"""Secrets by reference (`podium.secrets`): parsing, resolving, the registry and redaction."""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from podium.events import ErrorInfo, TaskFailed, ToolCalled
from podium.exceptions import ConfigError, ToolError
from podium.secrets import (
    RedactingFilter,
    Secret,
    forget_all,
    install,
    redact,
    redact_struct,
    redact_text,
    register,
    registered_labels,
)
from podium.telemetry._redact import RedactingTracer
from podium.tools._web_search import check_env_name, secret_from_env

VALUE = "sk-live-4f9a8b7c6d5e"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


def test_references_parse_and_never_echo_a_pasted_value() -> None:
    assert Secret.parse("env:SHOP_TOKEN") == Secret("env", "SHOP_TOKEN")
    assert Secret.parse("SHOP_TOKEN") == Secret("env", "SHOP_TOKEN")  # the older *_env form
    assert Secret.parse("file:/etc/podium/keys.yaml#shop.token") == Secret(
        "file", "/etc/podium/keys.yaml", "shop.token"
    )
    for bad in (VALUE, "env:", "env:1X", "file:keys.yaml", "file:#k", "vault:x#y", ""):
        with pytest.raises(ConfigError, match="not a secret reference") as info:
            Secret.parse(bad, field="auth.bearer_env")
        assert VALUE not in str(info.value)
    assert str(Secret.parse("file:a/keys.env#K")) == "file:a/keys.env#K"
    assert Secret.parse("file:a/keys.env#K").label == "keys.env#K"


def test_resolving_reads_the_value_and_registers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_TEST_SECRET", VALUE)
    assert Secret.parse("env:PODIUM_TEST_SECRET").resolve() == VALUE
    assert registered_labels() == ["PODIUM_TEST_SECRET"]
    assert redact_text(f"key {VALUE}.") == "key [secret:PODIUM_TEST_SECRET]."
    monkeypatch.delenv("PODIUM_TEST_SECRET")
    with pytest.raises(ConfigError, match="'PODIUM_TEST_SECRET' is not set"):
        Secret("env", "PODIUM_TEST_SECRET").resolve()
    assert Secret("env", "PODIUM_TEST_SECRET").register() is False


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("keys.yaml", "shop:\n  token: sk-live-4f9a8b7c6d5e\n"),
        ("keys.json", json.dumps({"shop": {"token": VALUE}})),
        ("keys.env", f"# shop\nexport shop.token='{VALUE}'\nOTHER=1\n"),
        ("keys.yml", f"shop.token: {VALUE}\n"),  # a dotted key as it is
    ],
)
def test_secrets_files_in_yaml_json_and_dotenv(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    secret = Secret.parse(f"file:{tmp_path / name}#shop.token")
    assert secret.resolve() == VALUE
    assert redact_text(VALUE) == f"[secret:{name}#shop.token]"


def test_a_broken_secrets_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    bad = tmp_path / "keys.json"
    bad.write_text('{"token": "' + VALUE)
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        Secret("file", str(bad), "token").resolve()
    assert VALUE not in str(info.value)
    (tmp_path / "keys.yaml").write_text("token: [1, 2]\nempty: ''\n")
    for key in ("token", "empty", "missing"):
        with pytest.raises(ConfigError, match="no key"):
            Secret("file", str(tmp_path / "keys.yaml"), key).resolve()
    with pytest.raises(ConfigError, match="cannot read"):
        Secret("file", str(tmp_path / "none.yaml"), "k").resolve()
    (tmp_path / "huge.env").write_bytes(b"A=" + b"x" * 1_000_001)
    with pytest.raises(ConfigError, match="over"):
        Secret("file", str(tmp_path / "huge.env"), "A").resolve()


def test_short_values_are_not_redacted() -> None:
    assert register("hunter2", "PW") is False
    assert redact_text("hunter2 is a password") == "hunter2 is a password"
    assert registered_labels() == []


def test_encodings_and_nested_json_are_redacted() -> None:
    secret = "p@ss word/+é long"
    register(secret, "PW")
    register(secret, "PW")  # again: nothing changes
    b64 = base64.b64encode(secret.encode()).decode()
    value = {
        "args": [secret, {"q": urllib.parse.quote(secret, safe="")}],
        f"k-{secret}": (b64, urllib.parse.quote_plus(secret)),
        "escaped": json.dumps({"x": secret}),
        "n": 3,
    }
    text = json.dumps(redact(value))
    assert "p@ss" not in text
    assert text.count("[secret:PW]") == 6
    assert redact(7) == 7


def test_an_event_is_rewritten_only_when_it_holds_a_secret() -> None:
    clean = ToolCalled(run_id="r", seq=1, ts=0.0, task="t", agent="a", tool="x", result="ok")
    assert redact_struct(clean) is clean  # nothing registered
    register(VALUE, "KEY")
    assert redact_struct(clean) is clean  # nothing to replace: no copy
    error = ErrorInfo(type="ToolError", message=f"refused {VALUE}")
    failed = TaskFailed(run_id="r", seq=2, ts=1.5, task="t", error=error)
    redacted = redact_struct(failed)
    assert isinstance(redacted, TaskFailed)
    assert redacted.error.message == "refused [secret:KEY]"
    assert (redacted.seq, redacted.ts) == (2, 1.5)


def test_the_logging_filter_redacts_message_arguments_and_tracebacks() -> None:
    register(VALUE, "KEY")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    logger = logging.getLogger("podium.test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install(logger)
        install(logger)  # twice: one filter
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logger.warning(f"inline {VALUE}")
        logger.warning("args %s %r %d", VALUE, ToolError(VALUE), 3)
        logger.warning("mapping %(k)s", {"k": [VALUE]})
        try:
            raise ToolError(f"failed with {VALUE}")
        except ToolError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = "\n".join(records)
    assert VALUE not in text
    assert text.count("[secret:KEY]") == 5


def test_spans_are_redacted_whatever_sets_them() -> None:
    register(VALUE, "KEY")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = RedactingTracer(provider.get_tracer("t"))
    with tracer.start_as_current_span(f"op {VALUE}", attributes={"a": VALUE}) as span:
        span.set_attribute("b", [VALUE, "x"])
        span.set_attributes({"c": VALUE})
        span.add_event("e", {"d": VALUE})
        span.update_name(f"renamed {VALUE}")
        span.set_status(Status(StatusCode.ERROR, f"bad {VALUE}"))
        span.record_exception(ToolError(f"bad {VALUE}"))
        assert span.is_recording()
    other = tracer.start_span("plain")
    other.set_status(StatusCode.ERROR, f"bad {VALUE}")
    other.end()
    dumped = "".join(s.to_json() for s in exporter.get_finished_spans())
    provider.shutdown()
    assert VALUE not in dumped
    assert dumped.count("[secret:KEY]") >= 9


def test_tool_options_take_references(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODIUM_TEST_BRAVE", VALUE)
    assert check_env_name("env:PODIUM_TEST_BRAVE", "api_key_env") == "env:PODIUM_TEST_BRAVE"
    assert redact_text(VALUE) == "[secret:PODIUM_TEST_BRAVE]"  # registered when built
    (tmp_path / "k.env").write_text(f"BRAVE={VALUE}x\n")
    ref = f"file:{tmp_path / 'k.env'}#BRAVE"
    assert secret_from_env(ref, "brave search") == VALUE + "x"
    with pytest.raises(ConfigError, match="nor a secret reference") as info:
        check_env_name(VALUE, "api_key_env")
    assert VALUE not in str(info.value)
    with pytest.raises(ToolError, match=r"brave search: .*'NOPE_UNSET_VAR' is not set"):
        secret_from_env("env:NOPE_UNSET_VAR", "brave search")


def test_concurrent_registration_and_redaction_agree() -> None:
    values = [f"concurrent-secret-{i:04d}" for i in range(200)]

    def work(chunk: list[str]) -> None:
        for v in chunk:
            register(v, v.upper())
            assert redact_text(f"<{v}>") == f"<[secret:{v.upper()}]>"

    threads = [threading.Thread(target=work, args=(values[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(registered_labels()) == 200
    huge = " ".join(values) * 50
    assert "concurrent-secret" not in redact_text(huge)


class _Vault(KeyringBackend):
    """A keyring backend of the test's own (keyring's plug-in interface), holding one entry."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries = {("podium-shop", "bot"): VALUE}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def test_a_keyring_reference_reads_the_os_keyring_and_registers_the_value() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(_Vault())
    try:
        ref = Secret.parse("keyring:podium-shop#bot")
        assert ref == Secret("keyring", "podium-shop", "bot")
        assert str(ref) == "keyring:podium-shop#bot"
        assert ref.resolve() == VALUE
        assert redact_text(f"token {VALUE}") == "token [secret:keyring:podium-shop#bot]"
        with pytest.raises(ConfigError, match="no password for that service and user"):
            Secret.parse("keyring:podium-shop#someone").resolve()
    finally:
        keyring.set_keyring(previous)
    for bad in ("keyring:podium-shop", "keyring:#bot", "keyring:svc#"):
        with pytest.raises(ConfigError, match="not a secret reference"):
            Secret.parse(bad)
