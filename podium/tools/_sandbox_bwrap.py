"""The bubblewrap command line of a sandbox, and the interpreter it runs.

What the sandbox sees: ``/usr`` read-only (with ``/bin``, ``/lib``… as on the host), the
interpreter and its install's ``lib/`` read-only when it lives outside ``/usr``, a fresh
``/proc`` of its own PID namespace, a minimal ``/dev``, a size-limited tmpfs ``/work`` (also
``/tmp``) and nothing else: no ``/etc``, no home, no repository, no ``/sys``. The root and
``/dev`` are remounted read-only so the only writable places are the two size-limited tmpfs
mounts.

Every namespace is new (user, PID, network, IPC, UTS, cgroup), nested user namespaces are
disabled, all capabilities dropped, and the sandbox dies with its parent.

When the host process is root, bubblewrap itself runs as an unprivileged uid (``nobody`` by
default): root's processes are exempt from the process-count limit, and a sandbox whose user
namespace maps to root on the host would be one kernel bug away from root.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from podium.exceptions import ConfigError

SYSTEM_PYTHON = "/usr/bin/python3"
_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """Where things are: the bwrap binary, the interpreter and its install, who runs bwrap."""

    bwrap: str
    python: str
    prefix: str  # the interpreter's install: its lib/ is bound read-only (unless under /usr)
    run_as: int | None  # the host uid bwrap runs as (None: the current user)
    disk: int  # bytes of /work
    shm: int  # bytes of /dev/shm


def readable_by_others(path: str) -> bool:
    """Whether a user with no special rights (``nobody``) can reach and read `path`."""
    p = Path(path)
    for parent in reversed(p.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    mode = os.stat(p).st_mode
    need = stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0)
    return mode & need == need


def choose_python(python: str | None, *, run_as: int | None) -> tuple[str, str]:
    """The interpreter to run and its install prefix.

    By default the one running Podium (its base install, not a virtualenv: the sandbox sees no
    site-packages of the project), else the system's ``/usr/bin/python3`` when the unprivileged
    user bwrap runs as cannot read the first one (an install under ``/root``).
    """
    if python is None:
        mine = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
        candidates = [mine, SYSTEM_PYTHON]
    else:
        candidates = [os.path.realpath(python)]
    for path in candidates:
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue
        if run_as is not None and not readable_by_others(path):
            continue
        return path, _prefix(path)
    who = f"uid {run_as}" if run_as is not None else "this user"
    raise ConfigError(
        f"python_sandbox: no Python interpreter {who} can run (tried {', '.join(candidates)});"
        " set `python` to one readable by every user, such as /usr/bin/python3"
    )


def _prefix(python: str) -> str:
    """``/opt/py/bin/python3`` → ``/opt/py``; an interpreter under /usr needs nothing more."""
    bin_dir = Path(python).parent
    prefix = bin_dir.parent if bin_dir.name == "bin" else bin_dir
    return str(prefix)


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _TOP_LEVEL:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def bwrap_argv(layout: Layout, launcher: str, *, report_fd: int, info_fd: int) -> list[str]:
    """The full command: bwrap, its options, then the launcher under the interpreter."""
    args = [layout.bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    args += ["--info-fd", str(info_fd)]
    args += ["--cap-drop", "ALL", "--uid", "1000", "--gid", "1000", "--hostname", "sandbox"]
    args += ["--die-with-parent", "--new-session", "--as-pid-1", "--clearenv"]
    args += _system_mounts()
    if not (layout.prefix == "/usr" or layout.prefix.startswith("/usr/")):
        # the interpreter and its lib/ only: a prefix such as ~ would otherwise show the home
        args += ["--ro-bind", layout.python, layout.python]
        lib = os.path.join(layout.prefix, "lib")
        args += ["--ro-bind-try", lib, lib]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(layout.shm), "--tmpfs", "/dev/shm"]
    args += ["--size", str(layout.disk), "--perms", "0755", "--tmpfs", "/work"]
    args += ["--symlink", "/work", "/tmp", "--chdir", "/work"]
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return [*args, layout.python, "-I", "-S", "-c", launcher, str(report_fd)]


__all__ = ["SYSTEM_PYTHON", "Layout", "bwrap_argv", "choose_python", "readable_by_others"]
