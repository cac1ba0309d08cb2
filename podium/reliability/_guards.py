"""Loop and stall guards: a run that goes round in circles ends instead of spinning.

- `Guards.max_steps`: model calls + tool calls in a run (reason ``loop``).
- `Guards.max_repeats`: the same tool with the same arguments, called that many times in one
  attempt (reason ``loop``).
- `Guards.max_handoffs` and `Guards.cycle_repeats`: for a sequence of agents handing work to
  each other, at most that many handoffs, and no cycle (A→B→A→B…) repeated that many times
  (reason ``loop``); see `HandoffGuard`.
- `Guards.stall_steps`: that many steps in a row without any new blackboard entry or finished
  task (reason ``stall``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from podium.exceptions import ConfigError, LoopDetected, StallDetected


class Guards(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Bounds on how a run may go round in circles (``None``: no bound).

    Args:
        max_steps: model calls + tool calls in the whole run.
        max_repeats: identical tool calls (same tool, same arguments) in one task attempt.
        max_handoffs: handoffs between agents.
        cycle_repeats: times a cycle of handoffs (A→B→A→B…) may go round.
        stall_steps: steps in a row without a new blackboard entry or a finished task.
    """

    max_steps: int | None = None
    max_repeats: int | None = 5
    max_handoffs: int | None = None
    cycle_repeats: int = 3
    stall_steps: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_repeats", "max_handoffs", "stall_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"Guards.{name} must be at least 1, not {value}")
        if self.cycle_repeats < 2:
            raise ConfigError("Guards.cycle_repeats must be at least 2")


def check_steps(guards: Guards, steps: int, since_progress: int) -> None:
    """Raise when `steps` (of the run) or `since_progress` (steps without progress) is too many."""
    if guards.max_steps is not None and steps > guards.max_steps:
        raise LoopDetected(
            f"the run took more than {guards.max_steps} steps (model and tool calls); "
            "raise Guards.max_steps if that is expected"
        )
    if guards.stall_steps is not None and since_progress > guards.stall_steps:
        raise StallDetected(
            f"{since_progress} steps in a row wrote no context and finished no task "
            f"(Guards.stall_steps is {guards.stall_steps})"
        )


class RepeatGuard:
    """Counts identical tool calls within one attempt."""

    __slots__ = ("_seen", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._seen: dict[tuple[str, str], int] = {}

    def observe(self, tool: str, arguments: Mapping[str, Any]) -> None:
        """Count a call; raise `LoopDetected` on its `limit`-th occurrence."""
        if self.limit is None:
            return
        key = (tool, json.dumps(arguments, sort_keys=True, default=str))
        n = self._seen.get(key, 0) + 1
        self._seen[key] = n
        if n >= self.limit:
            raise LoopDetected(
                f"tool {tool!r} was called {n} times with the same arguments {key[1]}"
            )


def find_cycle(agents: Sequence[str], repeats: int) -> list[str] | None:
    """The cycle (≥ 2 distinct agents) that the end of `agents` repeats `repeats` times, if any."""
    n = len(agents)
    for period in range(2, n // repeats + 1):
        block = list(agents[n - period :])
        if len(set(block)) < 2:
            continue
        if all(
            list(agents[n - (k + 1) * period : n - k * period]) == block for k in range(repeats)
        ):
            return block
    return None


class HandoffGuard:
    """Watches a sequence of agents handing work to each other.

    Feed it each agent in turn with `observe`; it raises `LoopDetected` past `max_handoffs`
    handoffs or when a cycle of agents has gone round `cycle_repeats` times.
    """

    __slots__ = ("agents", "guards")

    def __init__(self, guards: Guards, start: Sequence[str] = ()) -> None:
        self.guards = guards
        self.agents: list[str] = list(start)

    @property
    def handoffs(self) -> int:
        return max(0, len(self.agents) - 1)

    def observe(self, agent: str) -> None:
        if self.agents and self.agents[-1] == agent:
            return  # the same agent going on is not a handoff
        self.agents.append(agent)
        limit = self.guards.max_handoffs
        if limit is not None and self.handoffs > limit:
            raise LoopDetected(f"more than {limit} handoffs: {' → '.join(self.agents[-6:])}")
        cycle = find_cycle(self.agents, self.guards.cycle_repeats)
        if cycle is not None:
            path = " → ".join([*cycle, cycle[0]])
            raise LoopDetected(
                f"agents hand work round in a cycle ({path}) {self.guards.cycle_repeats} times"
            )


__all__ = ["Guards", "HandoffGuard", "RepeatGuard", "check_steps", "find_cycle"]
