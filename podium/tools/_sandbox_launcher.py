"""The supervisor that runs *inside* a sandbox (as its PID 1), standard library only.

`podium.tools.sandbox` starts ``python -I -S -c <this file's source> REPORT_FD`` under bubblewrap
and writes one JSON job to its stdin: the code, the input files and the limits. This process:

1. writes the input files and ``main.py`` into ``/work`` (a size-limited tmpfs),
2. runs ``python -I main.py`` with the resource limits set (CPU seconds, address space, processes,
   file size, no core dumps, open files) and a clean environment, its stdout and stderr going
   straight to the host's pipes,
3. stops it at the wall-time limit, then kills every other process of the sandbox (``kill(-1)``
   from PID 1 of a PID namespace reaches them all, whatever sessions or groups they made),
4. lists the files produced and writes a JSON report to ``REPORT_FD``.

Being PID 1 of the namespace protects it: the kernel drops signals from inside the namespace
that it has no handler for, SIGKILL included. It also makes itself non-dumpable so the program
cannot ptrace it or read its memory. Its report is still treated by the host as untrusted data.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

WORK = "/work"
MAIN = "main.py"
MAX_ENTRIES = 20_000  # files and directories looked at for the report
MAX_DEPTH = 32
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORK,
    "TMPDIR": WORK,
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def _undumpable() -> None:  # pragma: no cover - runs inside the sandbox
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):  # no libc prctl: the program could trace the launcher
        pass


def _cap(which: int, want: int) -> None:
    """Lower a limit to `want`; never above the hard limit inherited (raising it is refused)."""
    _, hard = resource.getrlimit(which)
    value = want if hard == resource.RLIM_INFINITY else min(want, hard)
    resource.setrlimit(which, (value, value))


def _limiter(limits: dict[str, int]) -> Any:  # pragma: no cover - runs inside the sandbox
    def apply() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        cpu = limits["cpu_time"]
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or hard > cpu:  # SIGXCPU at `cpu`, SIGKILL a second on
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        _cap(resource.RLIMIT_AS, limits["memory"])
        _cap(resource.RLIMIT_NPROC, limits["processes"])
        _cap(resource.RLIMIT_FSIZE, limits["file_size"])
        _cap(resource.RLIMIT_CORE, 0)
        _cap(resource.RLIMIT_NOFILE, 256)

    return apply


def write_inputs(root: str, code: str, files: dict[str, str]) -> None:
    """Write the input files (names already checked by the host) and the program."""
    for name, text in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(root, MAIN), "w", encoding="utf-8") as f:
        f.write(code)


def collect(root: str, inputs: dict[str, str], limits: dict[str, int]) -> dict[str, Any]:
    """The regular files under `root` the program made or changed (symlinks are not followed).

    The walk is bounded (entries looked at, depth) so that a program leaving a huge or deep tree
    behind cannot keep the report from coming back.
    """
    found: list[dict[str, Any]] = []
    budget = limits["text_total"]
    for item in _walk(root):
        if item is None:
            return {"files": found, "files_truncated": True}
        rel, size = item
        if rel == MAIN:
            continue
        text = _text(os.path.join(root, rel), size, min(limits["text_file"], budget))
        if rel in inputs and inputs[rel] == text:
            continue
        if len(found) >= limits["max_files"]:
            return {"files": found, "files_truncated": True}
        budget -= size if text is not None else 0
        name = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        found.append({"name": name, "size": size, "text": text})
    return {"files": found, "files_truncated": False}


def _walk(root: str) -> Iterator[tuple[str, int] | None]:
    """(relative name, size) of the regular files under `root`, breadth first and in name order
    within a directory; a final None when the walk stopped early (too many entries, too deep)."""
    seen = 0
    level = [""]
    for _ in range(MAX_DEPTH):
        below = []
        for rel_dir in level:
            entries = []
            with os.scandir(os.path.join(root, rel_dir)) as it:
                for entry in it:
                    seen += 1
                    if seen > MAX_ENTRIES:
                        yield None
                        return
                    entries.append(entry)
            for entry in sorted(entries, key=lambda e: e.name):
                rel = os.path.join(rel_dir, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    below.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    yield rel, entry.stat(follow_symlinks=False).st_size
        if not below:
            return
        level = below
    yield None


def _text(path: str, size: int, most: int) -> str | None:
    if size > most:
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        raw = f.read(most + 1)
    try:
        return raw.decode("utf-8") if len(raw) <= most else None
    except UnicodeDecodeError:
        return None


def _kill_all() -> None:  # pragma: no cover - runs inside the sandbox
    with contextlib.suppress(ProcessLookupError):  # nothing left to kill
        os.kill(-1, signal.SIGKILL)


def run(job: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - inside the sandbox
    """Run the job's program under its limits; the report (without the file list)."""
    limits = job["limits"]
    child = subprocess.Popen(
        [sys.executable, "-I", MAIN],
        cwd=WORK,
        env=CHILD_ENV,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limiter(limits),  # noqa: PLW1509 - the launcher has one thread
        close_fds=True,
    )
    timed_out = False
    try:
        child.wait(timeout=limits["wall_time"])
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_all()  # leftovers too: a daemon the program started would keep writing
    status = child.wait()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    vfs = os.statvfs(WORK)
    return {
        "exit": status if status >= 0 else None,
        "signal": -status if status < 0 else None,
        "timed_out": timed_out,
        "cpu": used.ru_utime + used.ru_stime,
        "disk_used": (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize,
    }


def main() -> None:  # pragma: no cover - runs only inside the sandbox (tested end to end)
    _undumpable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    report_fd = int(sys.argv[1])
    job = json.loads(sys.stdin.buffer.read())
    try:
        write_inputs(WORK, job["code"], job["files"])
    except OSError as exc:  # e.g. both "a" and "a/b", or more than the disk holds
        report: dict[str, Any] = {"input_error": f"{exc.strerror}: {exc.filename}"}
    else:
        report = run(job)
        report.update(collect(WORK, job["files"], job["limits"]))
    with os.fdopen(report_fd, "w", encoding="utf-8") as out:
        json.dump(report, out)


if __name__ == "__main__":  # pragma: no cover
    main()
