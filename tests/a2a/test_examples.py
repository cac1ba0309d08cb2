"""The two example teams talk over A2A as their comments say (examples/a2a_*.yaml)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.a2a.conftest import free_port

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
PODIUM = str(Path(sys.executable).parent / "podium")

pytestmark = pytest.mark.slow


def test_the_newsroom_has_the_copy_desk_fix_its_story(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PODIUM_STORE": f"sqlite:///{tmp_path / 'runs.db'}"}
    serve = [PODIUM, "a2a", "serve", str(EXAMPLES / "a2a_desk.yaml"), "--port", str(port)]
    serve += ["--store", f"sqlite:///{tmp_path / 'desk.db'}"]
    newsroom = tmp_path / "a2a_newsroom.yaml"
    text = (EXAMPLES / "a2a_newsroom.yaml").read_text()
    newsroom.write_text(text.replace("127.0.0.1:8701", f"127.0.0.1:{port}"))
    (tmp_path / "a2a_agents.py").write_text((EXAMPLES / "a2a_agents.py").read_text())
    with (tmp_path / "desk.log").open("wb") as log:
        desk = subprocess.Popen(serve, env=env, stderr=log, stdout=log)
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/.well-known/agent-card.json")
                break
            except httpx.TransportError:
                assert desk.poll() is None, (tmp_path / "desk.log").read_text()
                time.sleep(0.05)
        run = [PODIUM, "run", str(newsroom), "--input", "topic=the tide came in", "--json"]
        done = subprocess.run(
            run, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        desk.send_signal(signal.SIGINT)
        desk.wait(30)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    story = "The tide came in happened today and people talked about it."
    assert result["output"]["story"] == (f"The Tide Came In Happened Today And People: {story}")


def test_the_newsroom_checks_without_the_desk_running() -> None:
    done = subprocess.run(
        [PODIUM, "validate", str(EXAMPLES / "a2a_newsroom.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 3 tasks, 3 agents")
