"""The runtime: the orchestrator, the scheduler and a run's state."""

from podium.runtime._driver import RunDriver
from podium.runtime._execute import Attempt, AttemptResult, TaskRunner, error_info
from podium.runtime._graph import critical_paths
from podium.runtime._orchestrator import Limits, Orchestrator, new_run_id
from podium.runtime._replay import Cassette
from podium.runtime._result import RunResult
from podium.runtime._state import RunState, TaskState

__all__ = [
    "Attempt",
    "AttemptResult",
    "Cassette",
    "Limits",
    "Orchestrator",
    "RunDriver",
    "RunResult",
    "RunState",
    "TaskRunner",
    "TaskState",
    "critical_paths",
    "error_info",
    "new_run_id",
]
