"""Switching tracing on: the mode from ``--trace`` and the environment; off costs nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from podium.exceptions import ConfigError
from podium.telemetry import trace_mode, tracing_for


@pytest.mark.parametrize(
    ("choice", "environ", "mode"),
    [
        (None, {}, "off"),
        ("console", {}, "console"),
        (None, {"PODIUM_TRACE": "otlp"}, "otlp"),
        (None, {"PODIUM_TRACE": " Console "}, "console"),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h/v1/traces"}, "otlp"),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, "off"),
        ("off", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "off"),
        (None, {"PODIUM_TRACE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://h"}, "off"),
        ("console", {"PODIUM_TRACE": "otlp"}, "console"),
        ("otlp", {"OTEL_SDK_DISABLED": "true"}, "off"),
    ],
)
def test_the_flag_wins_then_podium_trace_then_an_otlp_endpoint(
    choice: str | None, environ: dict[str, str], mode: str
) -> None:
    assert trace_mode(choice, environ) == mode


def test_an_unknown_mode_says_which_ones_exist() -> None:
    with pytest.raises(ConfigError, match=r"--trace='jaeger': give one of otlp, console, off"):
        trace_mode("jaeger", {})
    with pytest.raises(ConfigError, match=r"PODIUM_TRACE='yes'"):
        trace_mode(None, {"PODIUM_TRACE": "yes"})


def test_off_makes_no_tracing() -> None:
    assert tracing_for("off") is None
    assert tracing_for(None) is None


def test_importing_podium_imports_no_opentelemetry() -> None:
    code = (
        "import sys, podium, podium.telemetry, podium.cli;"
        "from podium.telemetry import tracing_for; assert tracing_for() is None;"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    env = {"PATH": "/usr/bin:/bin", "PODIUM_TRACE": "off"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"


def test_tracing_is_imported_on_use() -> None:
    code = (
        "import sys, podium.telemetry as t; assert 'opentelemetry' not in sys.modules;"
        "t.Tracing; assert 'opentelemetry' in sys.modules;"
        "t.Nothing"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "has no attribute 'Nothing'" in out.stderr


def test_without_opentelemetry_switching_it_on_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'podium\[otel\]'"):
        tracing_for("console")


def test_the_names_written_are_the_conventions_ones() -> None:
    from podium.telemetry import _conventions as sc

    assert [sc.OPERATION, sc.PROVIDER, sc.REQUEST_MODEL, sc.FINISH_REASONS] == [
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.response.finish_reasons",
    ]
    assert [sc.INPUT_TOKENS, sc.OUTPUT_TOKENS, sc.ERROR_TYPE] == [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "error.type",
    ]
    assert [sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES, sc.TOOL_ARGUMENTS, sc.TOOL_RESULT] == [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("export_timeout", [None, "7"])
async def test_otlp_builds_an_exporter_that_reads_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, export_timeout: str | None
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    if export_timeout is not None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", export_timeout)
    tracing = tracing_for()
    assert tracing is not None
    assert tracing.shutdown_provider
    await tracing.aclose()  # nothing to send: nothing sent, and the provider is shut down
