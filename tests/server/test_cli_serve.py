"""`podium serve` as a user runs it: a process, a port, a tokens file, Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from podium.server import token_digest
from podium.store import open_store
from tests.server.conftest import DATA

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_status(store: str, run_id: str) -> str:
    async def read() -> str:
        st = open_store(store)
        await st.open()
        try:
            info = await st.get_run(run_id)
            assert info is not None
            return info.status
        finally:
            await st.close()

    return asyncio.run(read())


def test_serve_with_auth_on_all_interfaces_then_ctrl_c(tmp_path: Path) -> None:
    auth = tmp_path / "auth.yaml"
    auth.write_text(
        f"tokens:\n  - {{user: ops, roles: [operator], token_sha256: {token_digest('t0k')}}}\n"
    )
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    port = free_port()
    command = [sys.executable, "-c", "from podium.cli import main; main()", "serve"]
    args = ["--store", store, "--host", "0.0.0.0", "--port", str(port), "--auth", str(auth)]
    process = subprocess.Popen(
        [*command, *args, "--workflows", str(DATA)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(600):
                try:
                    if client.get("/api/me").status_code == 401:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            me = client.get("/api/me", headers={"Authorization": "Bearer t0k"})
            assert me.json() == {"user": "ops", "roles": ["operator"], "auth": True}
            submitted = client.post(
                "/api/runs",
                json={"workflow": "slow", "inputs": {"seconds": 60}, "run_id": "long"},
                headers={"Authorization": "Bearer t0k"},
            )
            assert submitted.status_code == 201
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, output  # as every command stopped by Ctrl-C
    assert "Application shutdown complete" in output
    assert run_status(store, "long") == "interrupted"


def test_serve_refuses_a_bad_auth_file(tmp_path: Path) -> None:
    auth = tmp_path / "auth.yaml"
    auth.write_text("tokens:\n  - {user: a, roles: [viewer], token: plain}\n")
    done = subprocess.run(
        [sys.executable, "-c", "from podium.cli import main; main()", "serve", "--auth", str(auth)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "plain text" in done.stderr
