"""What a sandboxed run returns, and how the sandbox's report becomes it."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

from podium.exceptions import ToolError

Limit = Literal["wall_time", "cpu_time", "output", "disk", "memory", "file_size", "processes"]


class SandboxUnavailable(ToolError):
    """The sandbox could not be set up (no bubblewrap, no user namespaces…); nothing ran.

    The tool never falls back to running code outside a sandbox.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxFile:
    """A file the program wrote (or changed) in its working directory.

    `text` is the content of a small UTF-8 file, else None (binary, too large, or past the total
    budget for contents).
    """

    name: str
    size: int
    text: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxResult:
    """The outcome of one sandboxed run.

    Attributes:
        exit_code: the program's exit status, None when a signal ended it.
        signal: the name of the signal that ended it (``SIGKILL``…), if one did.
        limit: the limit the run hit, if any (a best-effort reading of how it ended; exit status
            and stderr are the ground truth).
        stdout, stderr: the output, decoded as UTF-8, each cut at the output limit.
        stdout_truncated, stderr_truncated: whether it was cut (the pipe is then closed, so a
            program that keeps printing ends with a broken pipe).
        files: the files it left in its working directory, at most the file-list limit.
        files_truncated: whether there were more.
    """

    exit_code: int | None
    signal: str | None
    limit: Limit | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    files: tuple[SandboxFile, ...]
    files_truncated: bool


class _File(pydantic.BaseModel):
    name: str
    size: int
    text: str | None


class Report(pydantic.BaseModel):
    """The launcher's report (see ``_sandbox_launcher``)."""

    input_error: str | None = None
    exit: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cpu: float = 0.0
    disk_used: int = 0
    files: list[_File] = []
    files_truncated: bool = False


def parse_report(raw: bytes) -> Report | None:
    """The report, or None when there is none; `ToolError` when it cannot be read."""
    if not raw.strip():
        return None
    try:
        return Report.model_validate_json(raw)
    except pydantic.ValidationError:
        raise ToolError("the sandbox's report could not be read; nothing to show") from None


_STDERR_SIGNS: tuple[tuple[str, Limit], ...] = (
    ("MemoryError", "memory"),
    ("Cannot allocate memory", "memory"),
    ("File too large", "file_size"),
    ("No space left on device", "disk"),
    ("Resource temporarily unavailable", "processes"),
)


def which_limit(
    report: Report, *, truncated: bool, stderr: str, cpu_limit: int, disk_limit: int
) -> Limit | None:
    """The limit the run most likely hit, read from how it ended (see `SandboxResult.limit`)."""
    if report.timed_out:
        return "wall_time"
    if report.signal == signal.SIGXCPU or (
        report.signal == signal.SIGKILL and report.cpu >= cpu_limit
    ):
        return "cpu_time"
    if truncated:
        return "output"
    if report.disk_used >= disk_limit - 64 * 1024:
        return "disk"
    if report.exit == 0:
        return None
    tail = stderr[-2000:]
    return next((limit for sign, limit in _STDERR_SIGNS if sign in tail), None)


def signal_name(number: int | None) -> str | None:
    """``9`` → ``"SIGKILL"``."""
    if number is None:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def as_result(
    report: Report, out: tuple[str, bool], err: tuple[str, bool], **kw: Any
) -> SandboxResult:
    """The `SandboxResult` of a finished run (`kw`: the limits `which_limit` compares with)."""
    truncated = out[1] or err[1]
    return SandboxResult(
        exit_code=report.exit,
        signal=signal_name(report.signal),
        limit=which_limit(report, truncated=truncated, stderr=err[0], **kw),
        stdout=out[0],
        stderr=err[0],
        stdout_truncated=out[1],
        stderr_truncated=err[1],
        files=tuple(SandboxFile(name=f.name, size=f.size, text=f.text) for f in report.files),
        files_truncated=report.files_truncated,
    )


__all__ = [
    "Limit",
    "Report",
    "SandboxFile",
    "SandboxResult",
    "SandboxUnavailable",
    "as_result",
    "parse_report",
    "signal_name",
    "which_limit",
]
