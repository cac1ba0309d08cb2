"""Podium's errors, all under one root.

```
PodiumError
├── ConfigError             misuse, raised before anything runs (file, line and field when known)
│   └── PlanValidationError   every problem of a plan at once
├── RunError                a failure while running
│   ├── TaskError             one task failed (carries a typed ErrorInfo)
│   ├── ToolError             a tool call failed; fed back to the model, not fatal by itself
│   ├── ModelError            a model answered something unusable
│   ├── OutputValidationError an output did not match its schema
│   ├── ContextConflict       two unordered tasks wrote one key under the "error" merge policy
│   └── RunNotFound           no run with that id in the store
└── StoreError              the journal could not be read or written
    └── JournalConflict       another writer appended to the same run first
```

Control signals (cancellation, approval waits) are not errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PodiumError(Exception):
    """Root of every error Podium raises."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a plan or a workflow file, with where it is."""

    message: str
    where: str = ""
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        place = ""
        if self.file is not None:
            place = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        elif self.line is not None:
            place = f"line {self.line}: "
        field = f"{self.where}: " if self.where else ""
        return f"{place}{field}{self.message}"


class ConfigError(PodiumError):
    """Misuse of the API or a bad workflow file; raised before anything runs."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        place = ""
        if file is not None:
            place = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(place + message)


class PlanValidationError(ConfigError):
    """A plan has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"the plan has {n} problem{'s' if n != 1 else ''}:\n{lines}")


class RunError(PodiumError):
    """A failure while a run executes."""


class TaskError(RunError):
    """A task failed. `kind` is a stable, machine-readable error type."""

    def __init__(self, message: str, *, kind: str = "task_error", retryable: bool = True) -> None:
        self.kind = kind
        self.retryable = retryable
        super().__init__(message)


class ToolError(RunError):
    """A tool call failed (bad arguments or the tool raised); the model sees the message."""


class ModelError(RunError):
    """A model returned something Podium could not use."""


class OutputValidationError(TaskError):
    """A task's output did not match its output schema."""

    def __init__(self, message: str, *, raw_output: object = None) -> None:
        self.raw_output = raw_output
        super().__init__(message, kind="output_invalid", retryable=True)


class ContextConflict(TaskError):
    """Two tasks that are not ordered by their dependencies wrote the same key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="context_conflict", retryable=False)


class RunNotFound(RunError):
    """The store holds no run with this id."""


class StoreError(PodiumError):
    """The journal could not be read or written."""


class JournalConflict(StoreError):
    """Another writer appended to this run first (two processes driving one run)."""
