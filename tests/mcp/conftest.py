"""MCP test servers: the toolbox over stdio (a child per session) and over streamable HTTP (one
child for the test, on a free port)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.mcp import McpServer
from podium.tools import Effect

TOOLBOX = Path(__file__).with_name("toolbox.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], tries: int = 300) -> None:
    """Until the port accepts connections (or the process ends, or `tries` run out)."""
    for _ in range(tries):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_toolbox_http(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TOOLBOX), "--http", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process, f"http://127.0.0.1:{port}/mcp"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def toolbox_url() -> Iterator[str]:
    process, url = start_toolbox_http()
    yield url
    stop(process)


def stdio_toolbox(
    *,
    tools: tuple[str, ...] | None = None,
    effects: dict[str, Effect] | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> McpServer:
    return McpServer(
        name="toolbox",
        command=sys.executable,
        args=(str(TOOLBOX),),
        tools=tools,
        effects=effects or {},
        env=env or {},
        timeout_s=timeout_s,
    )


@pytest.fixture(params=["stdio", "http"])
def toolbox(request: pytest.FixtureRequest) -> McpServer:
    """The toolbox, over each transport."""
    if request.param == "stdio":
        return stdio_toolbox()
    url: str = request.getfixturevalue("toolbox_url")
    return McpServer(name="toolbox", url=url)


PNG_B64 = "iVBORw0KGgpmYWtl"  # what the toolbox's `picture` sends
