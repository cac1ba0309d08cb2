"""`podium a2a serve` as a user starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from podium.cli import app
from tests.a2a.conftest import DATA, free_port

PODIUM = [str(Path(sys.executable).parent / "podium")]


@pytest.mark.slow
def test_serve_publishes_the_card_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path / 's.db'}"
    args = ["a2a", "serve", str(DATA / "team.yaml"), "--port", str(port), "--store", store]
    log = tmp_path / "stderr.txt"
    with log.open("wb") as err:
        proc = subprocess.Popen([*PODIUM, *args], env={**os.environ}, stderr=err)
    try:
        card = None
        for _ in range(600):
            try:
                card = httpx.get(f"http://127.0.0.1:{port}/.well-known/agent-card.json").json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.05)
        assert card is not None
        assert card["name"] == "team"
        assert card["supportedInterfaces"][0]["url"] == f"http://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def test_serve_refuses_a_missing_file_and_an_open_host_without_auth(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["a2a", "serve", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert "no workflow file" in missing.output
    open_host = runner.invoke(app, ["a2a", "serve", str(DATA / "team.yaml"), "--host", "0.0.0.0"])
    assert open_host.exit_code == 2
    assert "without auth" in open_host.output


def test_serve_refuses_a_workflow_with_inputs_it_cannot_fill(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two\ninputs:\n  a: {type: string}\n  b: {type: string}\n"
        "agents:\n  x: {model: test}\ntasks:\n  - id: t\n    agent: x\n"
    )
    result = CliRunner().invoke(app, ["a2a", "serve", str(path)])
    assert result.exit_code == 2
    assert "name one of them `message`" in result.output
