"""Keeping stdout for the command's own output while agents run.

An agent that prints, a child process it starts or a C library it calls writes to file
descriptor 1 — which, under ``--json``, must carry exactly one JSON document. While a run is
driven, both the descriptor and `sys.stdout` point at stderr; the command writes its result
after they are restored.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr(active: bool = True) -> Iterator[None]:
    """Send everything written to stdout (by Python or by anything holding descriptor 1) to
    stderr until the block ends."""
    if not active:
        yield
        return
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 at all: nothing to protect
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


__all__ = ["stdout_to_stderr"]
