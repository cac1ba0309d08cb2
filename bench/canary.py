"""Canary: a planted secret must reach no sink.

A secret (``CANARY_KEY``) is planted in the environment; a web-search tool takes it by
reference (``api_key_env: env:CANARY_KEY``) and sends it to a local Brave-compatible server,
which echoes it back in a result (a tool output holding the secret); the model (a
`FunctionModel`) puts it in a tool argument and in its answer; a tool error quotes it; a log line
carries it. Then every sink is searched for the value (and its base64 and URL-encoded forms):
the SQLite file's bytes, Postgres rows (``--postgres URL``), exported spans, log records, the
CLI's output (``podium show --json``, ``podium runs``) and the HTTP API's responses.

    .venv/bin/python bench/canary.py [--postgres postgresql://postgres@127.0.0.1:5432/test]

Prints a table of sinks, each found or absent; every cell must say "absent".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from podium import Agent, Orchestrator, Plan, Task, Workflow
from podium.models._base import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.telemetry import Tracing
from podium.testing import FunctionModel
from podium.tools.web import make_search

ENV = "CANARY_KEY"
log = logging.getLogger("podium.canary")


def forms(value: str) -> list[str]:
    """The value and the encodings a sink might hold it in."""
    return [
        value,
        base64.b64encode(value.encode()).decode().rstrip("="),
        urllib.parse.quote(value, safe=""),
    ]


MARK = f"[secret:{ENV}]".encode()


def found_in(text: str | bytes, value: str) -> tuple[bool, int]:
    """Whether `text` holds the value (in any form), and how many redaction marks it holds
    (more than none shows the secret did reach this sink, redacted)."""
    data = text.encode() if isinstance(text, str) else text
    return any(f.encode() in data for f in forms(value)), data.count(MARK)


class _Echo(BaseHTTPRequestHandler):
    """A Brave-compatible search API that puts the key it was sent into its first result, and
    fails a query ``fail`` with the key in the error body."""

    def do_GET(self) -> None:
        key = self.headers.get("X-Subscription-Token", "")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("q", [""])[0]
        if query == "fail":
            body, status = f'{{"error": "bad token {key}"}}'.encode(), 401
        else:
            hit = {"title": "echo", "url": "https://example.org/", "description": f"key={key}"}
            body, status = json.dumps({"web": {"results": [hit]}}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def echo_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def leaky_model(secret: str) -> FunctionModel:
    """Searches with the secret as the query, then for ``fail``, then answers with it."""

    def answer(request: ModelRequest) -> ModelResponse:
        done = sum(isinstance(m, ToolResultMessage) for m in request.messages)
        if done < 2:
            query = secret if done == 0 else "fail"
            call = ToolCall(id=f"c{done}", name="web_search", arguments={"query": query})
            return ModelResponse(tool_calls=(call,))
        log.warning("the model answers with %s", secret)  # a log line that carries it
        return ModelResponse(text=f"done; the key is {secret} ({forms(secret)[1]})")

    return FunctionModel(answer)


def workflow(url: str, secret: str) -> Workflow:
    options = {"provider": "brave", "url": url, "api_key_env": f"env:{ENV}"}
    agent = Agent(name="searcher", model=leaky_model(secret), tools=tuple(make_search(options)))
    plan = Plan([Task(id="search", agent="searcher", instruction="Search.")], output="search")
    return Workflow(name="canary", plan=plan, agents=(agent,))


class Records(logging.Handler):
    """Keeps the formatted log lines (after the handler's filters ran)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def run(store: str, url: str, secret: str, spans: InMemorySpanExporter) -> str:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing = Tracing(tracer_provider=provider, capture_content=True)
    async with Orchestrator(store=store, interceptors=[tracing], listeners=[tracing]) as orch:
        result = await orch.run(workflow(url, secret))
        await tracing.aclose()
    provider.shutdown()
    return result.run_id


def span_text(spans: list[ReadableSpan]) -> str:
    return "\n".join(s.to_json() for s in spans)


def cli_output(store: str, run_id: str) -> str:
    """What ``podium show --json`` and ``podium runs`` print, from a fresh process."""
    import subprocess

    podium = Path(sys.executable).with_name("podium")
    out = []
    for args in (["show", run_id, "--json"], ["show", run_id], ["runs"], ["runs", "--json"]):
        done = subprocess.run(
            [str(podium), *args, "--store", store],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "COLUMNS": "400"},
        )
        assert done.returncode == 0, (args, done.stderr)
        out += [done.stdout, done.stderr]
    return "\n".join(out)


def api_output(store: str, run_id: str) -> str:
    """The HTTP API's answers about the run (and the dashboard's page)."""
    from fastapi.testclient import TestClient

    from podium.server import ServerSettings, create_app

    app = create_app(ServerSettings(store=store, poll_s=0.05))
    paths = ["/api/runs", f"/api/runs/{run_id}", f"/api/runs/{run_id}/events"]
    paths += [f"/api/runs/{run_id}/diagnosis", "/api/approvals", "/"]
    out = []
    with TestClient(app) as client:
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            out.append(answer.text)
    return "\n".join(out)


def postgres_rows(url: str, secret: str, run_id: str) -> tuple[bool, int]:
    """`found_in` over the run's rows in the store's tables (events are BYTEA: read raw)."""
    import psycopg

    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT data FROM events WHERE run_id = %s", (run_id,)).fetchall()
        runs = conn.execute("SELECT t::text FROM runs t WHERE run_id = %s", (run_id,)).fetchall()
        outcomes = conn.execute("SELECT t::text FROM outcomes t").fetchall()
    data = b"\n".join(bytes(row[0]) for row in events)
    data += "\n".join(str(row[0]) for row in [*runs, *outcomes]).encode()
    return found_in(data, secret)


def canary(workdir: Path, postgres: str | None = None) -> dict[str, tuple[bool, int]]:
    """Run the canary; ``{sink: (secret found?, redaction marks)}``. Sets and removes
    ``$CANARY_KEY``."""
    from podium.secrets import install

    secret = f"sk-canary-{secrets.token_hex(12)}"
    os.environ[ENV] = secret
    records = Records()
    root = logging.getLogger()
    root.addHandler(records)
    install()  # what the CLI and `podium serve` do at start
    spans = InMemorySpanExporter()
    sqlite = f"sqlite:///{workdir / 'canary.db'}"
    try:
        with echo_server() as url:
            run_id = asyncio.run(run(sqlite, url, secret, spans))
            pg_found = None
            if postgres is not None:
                pg_run = asyncio.run(run(postgres, url, secret, spans))
                pg_found = postgres_rows(postgres, secret, pg_run)
    finally:
        root.removeHandler(records)
        del os.environ[ENV]
    files = b"".join(p.read_bytes() for p in workdir.glob("canary.db*"))
    found = {
        "SQLite file bytes": found_in(files, secret),
        "exported spans": found_in(span_text(list(spans.get_finished_spans())), secret),
        "log records": found_in("\n".join(records.lines), secret),
        "CLI stdout/stderr": found_in(cli_output(sqlite, run_id), secret),
        "API responses": found_in(api_output(sqlite, run_id), secret),
    }
    if pg_found is not None:
        found["Postgres rows"] = pg_found
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="also run on this Postgres store and search its rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = canary(Path(tmp), args.postgres)
    print(f"| sink | canary value found? | {MARK.decode()} marks |")
    print("|---|---|---|")
    for sink, (hit, marks) in found.items():
        print(f"| {sink} | {'FOUND' if hit else 'absent'} | {marks} |")
    sys.exit(1 if any(hit or not marks for hit, marks in found.values()) else 0)


if __name__ == "__main__":
    main()
