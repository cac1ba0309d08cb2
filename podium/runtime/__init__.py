"""The runtime: the orchestrator, the scheduler, the attempt boundary and its seams.

Seams: executors (`Executor`, `LocalExecutor`; `podium.runtime.ray.RayExecutor`), interceptors
(`AttemptInterceptor` and the model and tool call interceptors of `podium.interceptors`) and
listeners (`Orchestrator.subscribe`, `Notice`).
"""

from podium.runtime._attempt import AttemptInput, AttemptLimits, AttemptOutcome
from podium.runtime._driver import RunDriver
from podium.runtime._errors import error_info
from podium.runtime._executor import Executor, LocalExecutor
from podium.runtime._fork import TaskComparison, compare_runs
from podium.runtime._graph import critical_paths
from podium.runtime._interceptors import (
    AttemptCall,
    AttemptInterceptor,
    AttemptScope,
    ExecuteAttempt,
    Interceptors,
)
from podium.runtime._limits import Limits
from podium.runtime._listeners import Notice, Subscription
from podium.runtime._orchestrator import Orchestrator, new_run_id
from podium.runtime._replay import Cassette
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.runtime._task_state import TaskState
from podium.runtime._work import AttemptWorker

__all__ = [
    "AttemptCall",
    "AttemptInput",
    "AttemptInterceptor",
    "AttemptLimits",
    "AttemptOutcome",
    "AttemptScope",
    "AttemptWorker",
    "Cassette",
    "ExecuteAttempt",
    "Executor",
    "Interceptors",
    "Limits",
    "LocalExecutor",
    "Notice",
    "Orchestrator",
    "RunDriver",
    "RunResult",
    "RunState",
    "Subscription",
    "TaskComparison",
    "TaskState",
    "compare_runs",
    "critical_paths",
    "error_info",
    "new_run_id",
]
