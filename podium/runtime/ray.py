"""`RayExecutor`: attempts as Ray tasks, on a Ray cluster (``pip install 'podium[ray]'``).

The orchestrator keeps the journal and the run's lease; Ray only runs attempts. Each
`AttemptWorker` a drive uses (the agents, their models and tools, the model and tool
interceptors) is put in Ray's object store once; each attempt is then one Ray task that loads it
(once per Ray worker process), runs ``worker.run`` in that process's event loop, synchronous
agents on its threads, and returns the `AttemptOutcome` with the events the attempt made
(`AttemptOutcome.events`), which the scheduler journals in order before the outcome. A task that
ran on Ray is therefore resumed exactly like a local one — with one difference that follows:
the tool calls of an attempt are journaled when it ends, so a driver that dies mid-attempt has
no record of the side effects that attempt already made, and its retry makes them again.

What Ray cannot do for an attempt becomes the attempt's failure, never the run's:

- a Ray worker or node that dies, an object that is lost, a worker killed for memory:
  ``executor_lost``, retryable, so the task's retry policy (and its backups) decide what next
  (Ray's own task retries are off: a retry is Podium's decision, journaled);
- the agents cannot be loaded on the worker, the attempt cannot be scheduled with the
  resources asked, the runtime environment cannot be set up: ``executor_error``, not retried.

Cancelling the coroutine that awaits an attempt cancels its Ray task (its agent sees a
`CancelledError`); a Ray task still running `BACKSTOP_S` past its task's timeout is killed.

The user's code reaches the workers: Python agents, tools and models of the user's own modules
(those outside the Python installation, such as a workflow file's folder and the current
directory) are shipped by value with the worker (cloudpickle), so ``python: module:function``
agents run on Ray without installing anything there. Give a `runtime_env` with ``working_dir``
or ``py_modules`` to ship code Ray's way instead (then nothing goes by value), or ``pip`` for
what the agents import. Podium itself must be installed on the workers (it is, on a local
cluster).

Rate limits and provider circuit breakers count within each Ray worker process, not across the
cluster; with `live_events` off, listeners get no notices of model and tool calls, and
record/replay is refused (`Orchestrator(record=...)` writes a local file).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from podium.events import ErrorInfo
from podium.exceptions import ConfigError
from podium.runtime._attempt import AttemptInput, AttemptOutcome, EventSink
from podium.runtime._interceptors import Interceptors
from podium.runtime._ray_worker import (
    KEEP,
    attempt_on_worker,
    by_value,
    import_ray,
    user_modules,
)
from podium.runtime._work import AttemptWorker

if TYPE_CHECKING:
    from podium.plan._workflow import ExecutorSpec

log = logging.getLogger(__name__)

JSON = Any

RESOURCE_OPTIONS = frozenset({"num_cpus", "num_gpus", "memory", "resources", "accelerator_type"})
"""The Ray task options an agent's resources may set."""
BACKSTOP_S = 5.0
"""How long past a task's timeout the scheduler's side waits for a Ray task before it kills it
(the worker's own timeout cannot fire while an agent blocks its event loop)."""
_MESSAGE_CHARS = 500


class RayExecutor:
    """Runs attempts as Ray tasks (see the module docstring).

    Args:
        address: the Ray cluster: ``None`` starts a local Ray instance for this process (shut
            down by `close`); ``"auto"`` joins the cluster running on this machine (``ray
            start``, or ``RAY_ADDRESS``); ``"ray://host:10001"`` a remote one through Ray
            Client; ``"host:6379"`` a cluster's GCS. A process already connected to Ray
            (``ray.init`` called before) is used as it is.
        num_cpus: CPUs of a local Ray instance (default: all of the machine's).
        runtime_env: Ray's runtime environment of the workers (``working_dir``,
            ``py_modules``, ``pip``, ``env_vars``, …).
        resources: what every attempt asks of Ray, unless `agent_resources` says otherwise:
            ``num_cpus``, ``num_gpus``, ``memory``, ``resources`` (custom ones) and
            ``accelerator_type`` (default: Ray's, one CPU).
        agent_resources: what an agent's attempts ask, by agent name (the same keys).
        max_concurrency: attempts of an agent in flight at once on the cluster, by agent name
            (across every run this executor serves; `Agent.max_concurrency` limits one run).

    Example:
        ```python
        executor = RayExecutor(num_cpus=4, agent_resources={"vision": {"num_gpus": 1}})
        async with Orchestrator(executor=executor) as orch:
            result = await orch.run(workflow)
        ```
    """

    name = "ray"
    live_events = False

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        runtime_env: Mapping[str, JSON] | None = None,
        resources: Mapping[str, JSON] | None = None,
        agent_resources: Mapping[str, Mapping[str, JSON]] | None = None,
        max_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        if num_cpus is not None and num_cpus < 1:
            raise ConfigError(f"RayExecutor(num_cpus={num_cpus!r}): give 1 or more")
        if num_cpus is not None and address is not None:
            raise ConfigError(
                "RayExecutor(num_cpus=...) sizes a local Ray instance: a cluster at "
                f"address {address!r} has its own CPUs"
            )
        self.address = address
        self.num_cpus = num_cpus
        self.runtime_env = dict(runtime_env or {})
        self.resources = _checked_resources("resources", resources or {})
        self.agent_resources = {
            agent: _checked_resources(f"agent_resources[{agent!r}]", options)
            for agent, options in (agent_resources or {}).items()
        }
        for agent, limit in (max_concurrency or {}).items():
            if limit < 1:
                raise ConfigError(
                    f"RayExecutor(max_concurrency[{agent!r}]={limit}): give 1 or more"
                )
        self.max_concurrency = dict(max_concurrency or {})
        self._ray: Any = None
        self._started = False
        self._function: Any = None
        self._functions: dict[str, Any] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._shipped: OrderedDict[int, tuple[AttemptWorker, str, Any]] = OrderedDict()

    @classmethod
    def from_spec(cls, spec: ExecutorSpec, *, address: str | None = None) -> RayExecutor:
        """The executor a workflow file's ``executor: {ray: ...}`` section asks for (`address`,
        e.g. ``podium run --ray-address``, replaces the file's)."""
        return cls(
            address=address if address is not None else spec.address,
            num_cpus=spec.num_cpus,
            runtime_env=spec.runtime_env,
            agent_resources=spec.agent_resources,
            max_concurrency=spec.max_concurrency,
        )

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect to Ray, starting a local instance when `address` is ``None`` (which takes
        a few seconds, during which the event loop waits: Ray wants its main thread)."""
        if self._function is not None:
            return
        ray = import_ray()
        if ray.is_initialized():
            if self.runtime_env or self.num_cpus is not None:
                log.warning(
                    "this process is already connected to Ray: the RayExecutor's runtime_env"
                    " and num_cpus are not applied"
                )
        else:
            options: dict[str, Any] = {
                "address": self.address or "local",
                "runtime_env": self.runtime_env or None,
                "include_dashboard": False,
                "logging_level": logging.WARNING,
            }
            if self.address is None:
                options["num_cpus"] = self.num_cpus
            _init(ray, options)  # on the main thread, where Ray sets its SIGTERM handler
            self._started = True
        self._ray = ray
        self._function = ray.remote(attempt_on_worker)

    async def close(self) -> None:
        """Forget the shipped workers; shut Ray down if `open` started it."""
        self._shipped.clear()
        self._functions.clear()
        self._function = None
        if self._started:
            self._started = False
            await asyncio.to_thread(self._ray.shutdown)

    # -- attempts ---------------------------------------------------------------------------

    def execute(
        self, worker: AttemptWorker, input: AttemptInput, emit: EventSink
    ) -> Awaitable[AttemptOutcome]:
        """Run one attempt as a Ray task; its events come back with the outcome."""
        if self._function is None:
            raise ConfigError("the RayExecutor is not open: use the Orchestrator it belongs to")
        return self._attempt(worker, input)

    async def _attempt(self, worker: AttemptWorker, input: AttemptInput) -> AttemptOutcome:
        limit = self.max_concurrency.get(input.agent)
        if limit is None:
            return await self._run(worker, input)
        gate = self._gates.get(input.agent)
        if gate is None:
            gate = self._gates[input.agent] = asyncio.Semaphore(limit)
        async with gate:
            return await self._run(worker, input)

    async def _run(self, worker: AttemptWorker, input: AttemptInput) -> AttemptOutcome:
        try:
            key, ref = self._ship(worker)
        except Exception as exc:  # an agent, model or tool that cannot be pickled
            message = (
                f"the run's agents cannot be sent to Ray ({type(exc).__name__}: {exc}): what"
                " an agent, its model and its tools hold must be picklable"
            )
            return AttemptOutcome(error=ErrorInfo(type="executor_error", message=message))
        function = self._function_for(input.agent)
        timeout = input.task.timeout_s
        running: list[Any] = []  # the Ray task in flight
        try:
            async with asyncio.timeout(None if timeout is None else timeout + BACKSTOP_S):
                # the worker goes by its key; by reference only to a process that lacks it (a
                # reference in a task's arguments costs Ray about a millisecond a task)
                outcome = await self._call(function, input, key, None, running)
                if outcome is None:
                    outcome = await self._call(function, input, key, [ref], running)
        except asyncio.CancelledError:
            if running:
                self._ray.cancel(running[-1], recursive=True)
            raise
        except TimeoutError:
            self._ray.cancel(running[-1], force=True)
            message = (
                f"task {input.task.id!r} took longer than {timeout}s and its Ray worker did not"
                " stop it (an agent that blocks its event loop?): the worker was killed"
            )
            return AttemptOutcome(error=ErrorInfo(type="timeout", message=message, retryable=True))
        assert outcome is not None  # a worker given by reference is loaded, or fails to be
        return outcome

    async def _call(
        self,
        function: Any,
        input: AttemptInput,
        key: str,
        ref: list[Any] | None,
        running: list[Any],
    ) -> AttemptOutcome | None:
        """One Ray task of the attempt: its outcome, or ``None`` when the Ray worker process
        needs the worker by reference."""
        errors = self._ray.exceptions
        try:
            task = function.remote(key, ref, input)
            running.append(task)
            outcome: AttemptOutcome | None = await task
        except errors.RayError as exc:
            return AttemptOutcome(error=_ray_error(exc, input))
        return outcome

    def _function_for(self, agent: str) -> Any:
        """The Ray task of `agent`'s attempts, with its resources."""
        function = self._functions.get(agent)
        if function is None:
            options = {**self.resources, **self.agent_resources.get(agent, {})}
            function = self._function.options(
                name=f"podium:{agent}",
                max_retries=0,  # a lost worker is the attempt's failure: Podium decides the retry
                retry_exceptions=False,
                **options,
            )
            self._functions[agent] = function
        return function

    def _ship(self, worker: AttemptWorker) -> tuple[str, Any]:
        """`worker` in Ray's object store, put once (the most recent drives' are kept): its
        key and its reference."""
        key = id(worker)
        found = self._shipped.get(key)
        if found is not None and found[0] is worker:
            self._shipped.move_to_end(key)
            return found[1], found[2]
        remote = dataclasses.replace(
            worker,  # attempt interceptors run on the scheduler's side: they do not travel
            interceptors=Interceptors(
                model=worker.interceptors.model, tool=worker.interceptors.tool
            ),
        )
        ships_code = "working_dir" in self.runtime_env or "py_modules" in self.runtime_env
        with by_value(self._ray, () if ships_code else user_modules()):
            ref = self._ray.put(remote)
        self._shipped[key] = (worker, ref.hex(), ref)  # the worker is held: its id stays its own
        while len(self._shipped) > KEEP:
            self._shipped.popitem(last=False)
        return ref.hex(), ref


def _init(ray: Any, options: dict[str, Any]) -> None:
    try:
        ray.init(**options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot start or join Ray at {options['address']!r}: {exc}") from None


def _checked_resources(where: str, options: Mapping[str, JSON]) -> dict[str, JSON]:
    unknown = sorted(set(options) - RESOURCE_OPTIONS)
    if unknown:
        raise ConfigError(
            f"RayExecutor({where}): unknown option(s) {unknown}; use {sorted(RESOURCE_OPTIONS)}"
        )
    return dict(options)


def _ray_error(exc: Exception, input: AttemptInput) -> ErrorInfo:
    """What Ray raised about an attempt, as the attempt's error."""
    ray = import_ray()
    errors = ray.exceptions
    cause: BaseException = exc
    while isinstance(cause, errors.RayTaskError) and cause.cause is not None:
        cause = cause.cause  # what the Ray task itself ran into
    text = str(cause).strip().splitlines()
    detail = f"{type(cause).__name__}: {text[0] if text else ''}"[:_MESSAGE_CHARS]
    task = input.task.id
    if isinstance(cause, errors.RuntimeEnvSetupError | errors.TaskUnschedulableError):
        message = (
            f"task {task!r} cannot run on Ray ({detail}): check the executor's runtime_env and"
            f" the resources asked for agent {input.agent!r}"
        )
        return ErrorInfo(type="executor_error", message=message)
    if isinstance(cause, errors.RayError):
        message = (
            f"the Ray worker running task {task!r} (attempt {input.attempt}) was lost ({detail})"
        )
        return ErrorInfo(type="executor_lost", message=message, retryable=True)
    message = f"task {task!r} failed in Podium's Ray task ({detail})"
    return ErrorInfo(type="executor_error", message=message)


__all__ = ["BACKSTOP_S", "RESOURCE_OPTIONS", "RayExecutor", "import_ray", "user_modules"]
