"""Podium's errors, all under one root.

```
PodiumError
├── ConfigError             misuse, raised before anything runs (file, line and field when known)
│   └── PlanValidationError   every problem of a plan at once
├── RunError                a failure while running
│   ├── TaskError             one task failed (carries a typed ErrorInfo)
│   ├── ToolError             a tool call failed; fed back to the model, not fatal by itself
│   │   └── AccessRefused         a tool refused a table, a host or a document outside its scope
│   ├── ModelError            a model call failed or answered something unusable
│   │   ├── ProviderError         a provider call failed (`provider`, `retryable`)
│   │   │   ├── AuthenticationError  the key is missing, wrong or not allowed the model
│   │   │   ├── RateLimited          slow down (`retry_after_s` when the provider said)
│   │   │   ├── ProviderTimeout      no answer in time
│   │   │   ├── ContextTooLong       the request does not fit the model's context window
│   │   │   ├── InvalidResponse      an answer that is not a usable completion
│   │   │   └── ProviderUnavailable  could not connect; the provider is down or overloaded
│   │   ├── ModelRequestsRefused  real model requests are turned off (tests)
│   │   └── CassetteDivergence    a replayed request differs from the recorded one
│   ├── OutputValidationError an output did not match its schema (or was empty, or cut off)
│   ├── BudgetExceeded        a token, dollar, time or step budget would be exceeded
│   ├── LoopDetected          an agent repeats itself, or the run takes too many steps
│   ├── StallDetected         the run goes on without producing anything new
│   ├── CircuitOpen           a circuit breaker is open: calls fail fast for a while
│   ├── ContextConflict       two unordered tasks wrote one key under the "error" merge policy
│   ├── ContextScopeError     a task read or wrote a blackboard key outside its scope
│   ├── ApprovalDenied        a person rejected an action, or its approval request expired
│   └── RunNotFound           no run with that id in the store
└── StoreError              the journal could not be read or written (after retries)
    └── JournalConflict       another writer appended to the same run first
        ├── LeaseHeld             another process drives the run (`owner`, `expires_at`)
        └── LeaseLost             this driver's lease was taken over; it must stop
```

The `ModelError` subclasses live in `podium.models` (raised where the providers' SDK errors
are translated). Control signals (cancellation, approval waits) are not errors.
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


class AccessRefused(ToolError):
    """A tool refused to reach something outside its scope: a table its SQL may not use, a
    host off its allow-list, a document outside its folder. The model reads the message, like
    any tool error, and the run journals an `AccessDenied` event. A tool of your own raises it
    for the same treatment.

    Attributes:
        access: what kind of access: ``sql``, ``document`` or ``host`` (or your own word).
        target: what was refused: a table, a host, a document's id.
    """

    def __init__(self, message: str, *, access: str, target: str) -> None:
        self.access = access
        self.target = target
        super().__init__(message)


class ModelError(RunError):
    """A model returned something Podium could not use."""


class OutputValidationError(TaskError):
    """A task's output did not match its output schema."""

    def __init__(
        self, message: str, *, raw_output: object = None, kind: str = "output_invalid"
    ) -> None:
        self.raw_output = raw_output
        super().__init__(message, kind=kind, retryable=True)


class BudgetExceeded(TaskError):
    """A budget would be exceeded; the run stops with reason ``budget``.

    `budget` names it, e.g. ``run tokens`` or ``task 'draft' usd``.
    """

    def __init__(self, message: str, *, budget: str) -> None:
        self.budget = budget
        super().__init__(message, kind="budget", retryable=False)


class LoopDetected(TaskError):
    """An agent or the run goes round in circles; the run stops with reason ``loop``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="loop", retryable=False)


class StallDetected(TaskError):
    """The run keeps working without producing anything new; it stops with reason ``stall``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="stall", retryable=False)


class CircuitOpen(TaskError):
    """A circuit breaker is open, so the call was not even tried.

    Attributes:
        scope: ``agent`` or ``provider``.
        name: the agent or provider.
        retry_after_s: seconds until the breaker lets a probe through.
    """

    def __init__(self, message: str, *, scope: str, name: str, retry_after_s: float) -> None:
        self.scope = scope
        self.name = name
        self.retry_after_s = retry_after_s
        super().__init__(message, kind="breaker_open", retryable=True)


class ContextConflict(TaskError):
    """Two tasks that are not ordered by their dependencies wrote the same key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="context_conflict", retryable=False)


class ContextScopeError(TaskError):
    """A task read or wrote a blackboard key that neither it nor its agent declared (kind
    ``context_scope``; never retried: the same code would do it again).

    Attributes:
        key: the key.
        access: ``context_read`` or ``context_write``.
    """

    def __init__(self, message: str, *, key: str, access: str) -> None:
        self.key = key
        self.access = access
        super().__init__(message, kind="context_scope", retryable=False)


class ApprovalDenied(TaskError):
    """An action was rejected by a person (kind ``approval_rejected``), or nobody approved it
    before its request expired (``approval_expired``). Never retried."""

    def __init__(self, message: str, *, kind: str = "approval_rejected") -> None:
        super().__init__(message, kind=kind, retryable=False)


class RunNotFound(RunError):
    """The store holds no run with this id."""


class StoreError(PodiumError):
    """The journal could not be read or written."""


class JournalConflict(StoreError):
    """Another writer appended to this run first (two processes driving one run)."""


class LeaseHeld(JournalConflict):
    """Another driver holds the run's lease: it is being driven elsewhere.

    Attributes:
        run_id: the run.
        owner: who holds the lease (``host/pid/id``).
        expires_at: when the lease runs out unless its holder renews it (seconds since the
            epoch, by the store's clock).
    """

    def __init__(
        self, message: str, *, run_id: str, owner: str, expires_at: float, token: int = 0
    ) -> None:
        self.run_id = run_id
        self.owner = owner
        self.expires_at = expires_at
        self.token = token
        super().__init__(message)


class LeaseLost(JournalConflict):
    """This driver no longer holds the run's lease (it expired and another driver took it, or
    the run ended): it must stop without appending anything more."""
