"""Approvals as a run knows them: requests, decisions, and the signal that parks an attempt.

A run's approvals are a fold over its `ApprovalRequested`, `ApprovalGranted` and
`ApprovalRejected` events, kept per task and action hash: a decision answers the request with the
same task and hash, and only one that is still pending (the first decision wins). A request for
an action decided earlier opens it again.

An approval authorises one execution of one action. A granted tool call is used up by the call
(`ToolCalled` with its action hash); a granted task or result by the attempt it let through
ending (`TaskSucceeded`, `TaskFailed`). A crash before that leaves it unused: the attempt that
was in flight runs again under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import msgspec

from podium.events import ApprovalGranted, ApprovalRejected, ApprovalRequested

JSON = Any
ActionKind = Literal["task", "tool", "result"]
PENDING, GRANTED, REJECTED = "pending", "granted", "rejected"


class Approval(msgspec.Struct, kw_only=True):
    """One approval request of a run and, once decided, its decision.

    Attributes:
        run_id, task: where it was asked.
        action: ``task``, ``tool`` or ``result``.
        action_hash: what the decision binds to (see `ApprovalRequested`).
        reason: why the policy asked.
        tool, arguments: the tool call (``tool`` approvals).
        instruction: what the task will be told (``task`` approvals).
        result: the result to commit (``result`` approvals).
        requested_at, expires_at: when it was asked; when it counts as rejected if undecided.
        status: ``pending``, ``granted`` or ``rejected``.
        by, comment, decided_at: who decided, what they said, when.
        rejected_because: ``rejected`` (by a person) or ``expired``.
        used: the approved action went through (an approval authorises one execution).
        outcome: for a used tool approval, the call's result, or ``None`` if it failed
            (`outcome_ok`).
    """

    run_id: str
    task: str
    action: str
    action_hash: str
    reason: str = ""
    tool: str | None = None
    arguments: dict[str, JSON] = {}
    instruction: str | None = None
    result: JSON = None
    agent: str | None = None
    attempt: int = 0
    requested_at: float = 0.0
    expires_at: float | None = None
    status: str = PENDING
    by: str | None = None
    comment: str | None = None
    decided_at: float | None = None
    rejected_because: str | None = None
    used: bool = False
    outcome: JSON = None
    outcome_ok: bool = False

    @classmethod
    def from_request(cls, ev: ApprovalRequested) -> Approval:
        return cls(
            run_id=ev.run_id,
            task=ev.task,
            action=ev.action,
            action_hash=ev.action_hash,
            reason=ev.reason,
            tool=ev.tool,
            arguments=dict(ev.arguments),
            instruction=ev.instruction,
            result=ev.result,
            agent=ev.agent,
            attempt=ev.attempt,
            requested_at=ev.ts,
            expires_at=ev.expires_at,
        )

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    def expired(self, now: float) -> bool:
        """Pending past its expiry."""
        return self.status == PENDING and self.expires_at is not None and now >= self.expires_at

    def describe(self) -> str:
        """What is to be approved, in one line."""
        if self.action == "tool":
            args = msgspec.json.encode(self.arguments).decode()
            return f"call {self.tool}({args})"
        if self.action == "result":
            return f"commit the result of task {self.task!r}"
        return f"run task {self.task!r}"


class ApprovalBook:
    """A run's approvals, folded from its events."""

    __slots__ = ("_by_key", "_latest")

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Approval] = {}
        self._latest: dict[str, Approval] = {}

    def request(self, ev: ApprovalRequested) -> Approval:
        approval = Approval.from_request(ev)
        self._by_key[(ev.task, ev.action_hash)] = approval
        self._latest[ev.task] = approval
        return approval

    def decide(self, ev: ApprovalGranted | ApprovalRejected) -> Approval | None:
        """Record a decision; ``None`` when it answers nothing pending (then it is ignored)."""
        approval = self._by_key.get((ev.task, ev.action_hash))
        if approval is None or not approval.pending:
            return None
        approval.by = ev.by
        approval.comment = ev.comment
        approval.decided_at = ev.ts
        if isinstance(ev, ApprovalGranted):
            approval.status = GRANTED
        else:
            approval.status = REJECTED
            approval.rejected_because = ev.reason
        return approval

    def get(self, task: str, action_hash: str) -> Approval | None:
        return self._by_key.get((task, action_hash))

    def latest(self, task: str) -> Approval | None:
        """The task's most recent request."""
        return self._latest.get(task)

    def granted(self, task: str, action_hash: str) -> bool:
        """Whether the action is approved and the approval not used up yet."""
        found = self._by_key.get((task, action_hash))
        return found is not None and found.status == GRANTED and not found.used

    def used_call(self, task: str, action_hash: str) -> Approval | None:
        """The approval a tool call of this action used up, if one was."""
        found = self._by_key.get((task, action_hash))
        return found if found is not None and found.used else None

    def use_call(self, task: str, action_hash: str, result: JSON, *, ok: bool) -> None:
        """A side-effecting call of the action went through: its approval (if any) is used."""
        found = self._by_key.get((task, action_hash))
        if found is not None and found.status == GRANTED and not found.used:
            found.used = True
            found.outcome = result if ok else None
            found.outcome_ok = ok

    def use_attempt(self, task: str) -> None:
        """An attempt of the task ended: a granted task or result approval is used up."""
        found = self._latest.get(task)
        if found is not None and found.status == GRANTED and found.action != "tool":
            found.used = True

    def of_task(self, task: str) -> list[Approval]:
        """The task's approvals, one per action it asked about (the latest request each)."""
        return [a for (t, _), a in self._by_key.items() if t == task]

    def pending(self) -> list[Approval]:
        """Undecided requests, oldest first."""
        return sorted((a for a in self._latest.values() if a.pending), key=lambda a: a.requested_at)

    def __iter__(self) -> Iterator[Approval]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)


class ApprovalRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What an attempt (or the scheduler) asks a human to approve; becomes `ApprovalRequested`."""

    action: str
    action_hash: str
    reason: str
    tool: str | None = None
    arguments: dict[str, JSON] = {}
    instruction: str | None = None
    result: JSON = None


class ApprovalNeeded(Exception):
    """Raised inside an attempt when an action needs a human's approval first.

    Not an error: the attempt ends, the task waits (`ApprovalRequested`), and once the action is
    approved the task runs again and the same action goes through.
    """

    def __init__(self, request: ApprovalRequest) -> None:
        self.request = request
        super().__init__(f"{request.action} needs approval: {request.reason}")


__all__ = [
    "GRANTED",
    "PENDING",
    "REJECTED",
    "ActionKind",
    "Approval",
    "ApprovalBook",
    "ApprovalNeeded",
    "ApprovalRequest",
]
