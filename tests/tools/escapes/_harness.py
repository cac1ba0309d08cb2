"""Runs the escape corpus: each ``*.py`` here is one attempt to get out of the sandbox.

Every attempt starts with two header lines::

    # tries: what it attempts
    # expect: blocked | limit:NAME

``blocked``: the program prints ``BLOCKED: …`` for each way it tried and was stopped, and
``ESCAPED: …`` for any that worked, so the verdict needs no knowledge of the attempt. The host
also checks what the program cannot see from inside: that nothing connected to its listener,
that no file appeared in the host's /tmp, that no process of the sandbox outlived it and that
the secret in its own environment appears nowhere in the output. ``limit:NAME``: the run must
end with that limit hit (`SandboxResult.limit`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from podium.tools.sandbox import PythonSandboxOptions, Sandbox, SandboxResult

HERE = Path(__file__).parent
REPO = HERE.parents[2]
ATTEMPTS = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
SECRET_NAME = "PODIUM_ESCAPE_TEST_SECRET"
OPTIONS = PythonSandboxOptions(
    wall_time=6, cpu_time=1, memory_mb=128, processes=12, file_size_mb=2, disk_mb=8
)


@dataclass(frozen=True)
class Attempt:
    name: str
    tries: str
    expect: str
    code: str

    @classmethod
    def load(cls, path: Path) -> Attempt:
        code = path.read_text()
        head = dict(
            line[2:].split(": ", 1) for line in code.splitlines()[:2] if line.startswith("# ")
        )
        return cls(path.stem, head["tries"], head["expect"], code)


class Listener:
    """Listeners on 127.0.0.1 (TCP) and on an abstract unix socket that count connections (none
    may come from a sandbox)."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.abstract = "podium-escape-" + secrets.token_hex(6)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen()
        self.accepted = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve, args=(s,)) for s in self.sockets]
        for thread in self._threads:
            thread.start()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self.tcp, self.unix)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for sock in self.sockets:
            sock.close()


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    result: SandboxResult
    problems: tuple[str, ...]

    @property
    def verdict(self) -> str:
        if self.problems:
            return "ESCAPED: " + "; ".join(self.problems)
        if self.attempt.expect == "blocked":
            return "contained: blocked"
        return f"contained: limit {self.result.limit}"


def leftovers(marker: str) -> list[int]:
    """Host processes whose command line carries `marker` (a sandbox process that survived)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def run_attempt(attempt: Attempt, sandbox: Sandbox | None = None) -> Outcome:
    """Run one attempt with the host's probes in place and judge it."""
    sandbox = sandbox or Sandbox(OPTIONS)
    secret = secrets.token_hex(16)
    marker = "podium-escape-" + secrets.token_hex(8)
    host_file = Path("/tmp") / marker
    listener = Listener()
    os.environ[SECRET_NAME] = secret
    params = {
        "port": listener.port,
        "abstract_socket": listener.abstract,
        "secret_name": SECRET_NAME,
        "host_tmp_file": str(host_file),
        "repo": str(REPO),
        "marker": marker,
        "host_pid": os.getpid(),
    }
    try:
        result = await sandbox.run(attempt.code, {"params.json": json.dumps(params)})
    finally:
        os.environ.pop(SECRET_NAME, None)
        listener.close()
    problems = []
    everything = result.stdout + result.stderr + json.dumps([f.text for f in result.files])
    if attempt.expect == "blocked":
        if "ESCAPED" in result.stdout:
            problems.append(result.stdout)
        if "BLOCKED" not in result.stdout:
            problems.append(f"did not run to its end: {result.stderr[-300:]!r}")
    elif result.limit != attempt.expect.removeprefix("limit:"):
        problems.append(f"ended with limit {result.limit!r} (exit {result.exit_code})")
    if listener.accepted:
        problems.append(f"{listener.accepted} connection(s) reached the host")
    if host_file.exists():
        host_file.unlink()
        problems.append(f"wrote {host_file} on the host")
    if secret in everything:
        problems.append("the host's secret appeared in the output")
    if survivors := leftovers(marker):
        problems.append(f"processes outlived the sandbox: {survivors}")
    return Outcome(attempt, result, tuple(problems))
