"""``python_sandbox``: run Python code in a bubblewrap sandbox with resource limits.

The code runs with no network, a read-only system, a private size-limited working directory, a
clean environment and limits on CPU seconds, memory, wall time, output, processes, file size
and disk. If the sandbox cannot be set up the call fails with `SandboxUnavailable`: the code is
never run outside it. See ``docs/tools/sandbox.md`` for what is and is not contained.

Example:
    ```python
    sandbox = Sandbox(PythonSandboxOptions(wall_time=5))
    result = await sandbox.run("print(sum(range(10)))")
    assert result.stdout == "45\\n"
    ```
"""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import json
import logging
import os
import weakref
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import pydantic

from podium.exceptions import ConfigError, ToolError
from podium.tools._sandbox_bwrap import Layout, choose_python
from podium.tools._sandbox_process import Read, close, exchange, spawn
from podium.tools._sandbox_result import (
    Limit,
    SandboxFile,
    SandboxResult,
    SandboxUnavailable,
    as_result,
    parse_report,
)
from podium.tools._standard import options
from podium.tools._tool import Tool

log = logging.getLogger(__name__)

KIND = "python_sandbox"
_GRACE = 5.0  # seconds past the wall time before the host kills a sandbox that did not stop
_MiB = 1024 * 1024
_MAX_INPUTS = 100


class PythonSandboxOptions(pydantic.BaseModel):
    """The ``with:`` options of ``python_sandbox`` (all limits are per run)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    bwrap: str = "/usr/bin/bwrap"
    python: str | None = None
    wall_time: float = pydantic.Field(default=10.0, gt=0, le=600)
    cpu_time: int = pydantic.Field(default=5, ge=1, le=600)
    memory_mb: int = pydantic.Field(default=256, ge=32, le=65536)
    processes: int = pydantic.Field(default=16, ge=2, le=4096)
    file_size_mb: int = pydantic.Field(default=16, ge=1, le=65536)
    disk_mb: int = pydantic.Field(default=64, ge=1, le=65536)
    output_kb: int = pydantic.Field(default=64, ge=1, le=65536)
    code_kb: int = pydantic.Field(default=256, ge=1, le=65536)
    input_kb: int = pydantic.Field(default=1024, ge=0, le=65536)
    max_files: int = pydantic.Field(default=50, ge=0, le=10000)
    text_file_kb: int = pydantic.Field(default=8, ge=0, le=1024)
    concurrency: int = pydantic.Field(default=2, ge=1, le=64)
    run_as: int = pydantic.Field(default=65534, ge=1)
    """The host uid bubblewrap runs as when Podium runs as root (default ``nobody``)."""


@functools.cache
def _launcher() -> str:
    return importlib.resources.files("podium.tools").joinpath("_sandbox_launcher.py").read_text()


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise ToolError(f"{what} is not valid text (it holds lone surrogates)") from None


def _check_name(name: str) -> None:
    path = PurePosixPath(name)
    if (
        not name
        or len(name) > 200
        or "\0" in name
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
        or name == "main.py"
    ):
        raise ToolError(
            f"input file name {name!r} is not allowed: use a relative path without '..'"
            " (and not 'main.py', which holds the program)"
        )


class Sandbox:
    """Runs Python programs in a fresh bubblewrap sandbox each, `concurrency` at a time.

    Raises:
        ConfigError: the bwrap binary or a usable interpreter is missing.
    """

    def __init__(self, opts: PythonSandboxOptions | None = None) -> None:
        self.options = opts = opts or PythonSandboxOptions()
        if not (os.path.isfile(opts.bwrap) and os.access(opts.bwrap, os.X_OK)):
            raise ConfigError(
                f"{KIND}: bubblewrap is not at {opts.bwrap!r}, so there is no sandbox and the"
                " tool refuses to run code; install it (Debian: apt-get install bubblewrap)"
                " or set `bwrap` to its path"
            )
        run_as = opts.run_as if os.geteuid() == 0 else None
        python, prefix = choose_python(opts.python, run_as=run_as)
        self.layout = Layout(
            bwrap=opts.bwrap,
            python=python,
            prefix=prefix,
            run_as=run_as,
            disk=opts.disk_mb * _MiB,
            shm=_MiB,
        )
        # one semaphore per event loop: a tool built once may serve several loops (tests, threads)
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._slots = weakref.WeakKeyDictionary()

    def _limits(self) -> dict[str, Any]:
        o = self.options
        return {
            "wall_time": o.wall_time,
            "cpu_time": o.cpu_time,
            "memory": o.memory_mb * _MiB,
            "processes": o.processes,
            "file_size": o.file_size_mb * _MiB,
            "max_files": o.max_files,
            "text_file": o.text_file_kb * 1024,
            "text_total": 4 * o.text_file_kb * 1024,
        }

    def _check(self, code: str, files: Mapping[str, str]) -> None:
        o = self.options
        if len(_utf8(code, "the program")) > o.code_kb * 1024:
            raise ToolError(f"the program is larger than {o.code_kb} KiB; make it smaller")
        if len(files) > _MAX_INPUTS:
            raise ToolError(f"more than {_MAX_INPUTS} input files; pass fewer, larger ones")
        for name in files:
            _check_name(name)
        total = sum(len(_utf8(name + text, repr(name))) for name, text in files.items())
        if total > o.input_kb * 1024:
            raise ToolError(f"input files total more than {o.input_kb} KiB; pass less data")

    async def run(self, code: str, files: Mapping[str, str] | None = None) -> SandboxResult:
        """Run `code` as ``main.py`` in a new sandbox, with `files` (name → text) beside it.

        Raises:
            ToolError: the program or its files are too large or badly named.
            SandboxUnavailable: the sandbox could not start; nothing ran.
        """
        files = dict(files or {})
        self._check(code, files)
        job = json.dumps({"code": code, "files": files, "limits": self._limits()}).encode()
        loop = asyncio.get_running_loop()
        slots = self._slots.setdefault(loop, asyncio.Semaphore(self.options.concurrency))
        async with slots:
            return await self._run(job)

    async def _run(self, job: bytes) -> SandboxResult:
        jail = await spawn(self.layout, _launcher())
        try:
            async with asyncio.timeout(self.options.wall_time + _GRACE):
                out, err, rep = await exchange(jail, job, self.options.output_kb * 1024)
        except TimeoutError:
            log.warning("sandbox %d did not stop within its wall time: killed", jail.proc.pid)
            return _killed()
        finally:
            await close(jail)
        return self._result(jail.proc, rep[0], _text(out), _text(err))

    def _result(
        self,
        proc: asyncio.subprocess.Process,
        raw_report: bytes,
        out: tuple[str, bool],
        err: tuple[str, bool],
    ) -> SandboxResult:
        report = parse_report(raw_report)
        if report is None:
            why = err[0].strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            raise SandboxUnavailable(
                f"the sandbox could not start or ended without a report ({why[0]}); the code"
                " was not run outside it (check that bubblewrap works and user namespaces are on)"
            )
        if report.input_error is not None:
            raise ToolError(f"the input files could not be written: {report.input_error}")
        o = self.options
        return as_result(report, out, err, cpu_limit=o.cpu_time, disk_limit=o.disk_mb * _MiB)


def _text(got: Read) -> tuple[str, bool]:
    return got[0].decode("utf-8", errors="replace"), got[1]


def _killed() -> SandboxResult:
    """The result of a sandbox the host had to kill (its own wall-time stop did not work)."""
    limit: Limit = "wall_time"
    return SandboxResult(
        exit_code=None,
        signal="SIGKILL",
        limit=limit,
        stdout="",
        stderr="the sandbox did not stop at its wall time and was killed; its output is lost",
        stdout_truncated=False,
        stderr_truncated=False,
        files=(),
        files_truncated=False,
    )


def python_sandbox_tool(**kwargs: Any) -> Tool:
    """The ``python_sandbox`` tool for Python users: `kwargs` are `PythonSandboxOptions` fields.

    Example:
        ```python
        agent = Agent(name="coder", model="test", tools=[python_sandbox_tool(wall_time=5)])
        ```
    """
    return make(kwargs)[0]


def make(raw: Mapping[str, Any]) -> Sequence[Tool]:
    """The factory of the ``python_sandbox`` kind (`raw`: the ``with:`` options)."""
    sandbox = Sandbox(options(PythonSandboxOptions, raw, KIND))
    o = sandbox.options

    async def run_python(code: str, files: dict[str, str] | None = None) -> SandboxResult:
        return await sandbox.run(code, files)

    description = (
        "Run a Python 3 program (as main.py) in an isolated sandbox: no network, no access to"
        " the host's files, a private writable working directory (also /tmp). `files` are"
        " extra input files (relative name -> text) put beside it. Returns stdout, stderr,"
        " exit_code, which limit was hit if any, and the files it wrote (small text files with"
        f" their content). Limits: {o.wall_time:g} s wall time, {o.cpu_time} s CPU,"
        f" {o.memory_mb} MiB memory per process, {o.processes} processes,"
        f" {o.output_kb} KiB of output per stream, {o.disk_mb} MiB of disk."
    )
    return [Tool.from_function(run_python, name=KIND, description=description, effect="write")]


__all__ = [
    "Limit",
    "PythonSandboxOptions",
    "Sandbox",
    "SandboxFile",
    "SandboxResult",
    "SandboxUnavailable",
    "make",
    "python_sandbox_tool",
]
