"""The A2A request handler: every A2A operation as an operation on Podium runs.

An A2A task is a Podium run of the served workflow (the task id is the run id), so the state a
client sees is always the run's journal: it survives a restart of the server and shows runs
that another process drives. Push notifications are not offered (the card says so).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.request_handlers.request_handler import RequestHandler
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatusUpdateEvent,
)
from a2a.utils.errors import (
    InvalidParamsError,
    InvalidRequestError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length, validate_page_size

from podium.a2a._drives import Drives
from podium.a2a._messages import Target, decision_of, message_value
from podium.a2a._views import TERMINAL, Origin, task_of, task_state
from podium.events import AnyEvent
from podium.exceptions import ConfigError, LeaseHeld
from podium.runtime import Orchestrator, RunState, new_run_id
from podium.runtime._approvals import record_decision
from podium.server import Principal
from podium.store import RunInfo
from podium.store._protocol import pending_requests

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_SCAN = 10_000
"""The newest runs searched by one `ListTasks`."""
STOPS = TERMINAL | {TaskState.TASK_STATE_INPUT_REQUIRED}
_RUN_STATUSES: dict[int, frozenset[str]] = {
    TaskState.TASK_STATE_WORKING: frozenset({"running", "interrupted"}),
    TaskState.TASK_STATE_INPUT_REQUIRED: frozenset({"waiting"}),
    TaskState.TASK_STATE_COMPLETED: frozenset({"succeeded", "partially_succeeded"}),
    TaskState.TASK_STATE_FAILED: frozenset({"failed"}),
    TaskState.TASK_STATE_REJECTED: frozenset({"failed"}),
    TaskState.TASK_STATE_CANCELED: frozenset({"cancelled"}),
}
"""The run statuses of each task state (a filter with none of them matches nothing)."""
_NEEDS_JOURNAL = frozenset({TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_REJECTED})
"""States at which a blocking send returns and a stream ends."""


class PodiumRequestHandler(RequestHandler):
    """Serves one workflow (or team) as an A2A agent, over one orchestrator's store."""

    def __init__(self, orch: Orchestrator, target: Target, drives: Drives, card: AgentCard) -> None:
        self.orch = orch
        self.target = target
        self.name = target.workflow.name
        self.drives = drives
        self.card = card
        self.origins: dict[str, Origin] = {}

    # -- reading ------------------------------------------------------------------------------

    async def _journal(self, task_id: str) -> tuple[RunInfo, list[AnyEvent]]:
        """The run's index row and journal, if the run is one of this agent's tasks."""
        info = await self.orch.store.get_run(task_id) if task_id else None
        if info is None or info.name != self.name:
            raise TaskNotFoundError(message=f"no task {task_id!r}")
        return info, await self.orch.store.load(task_id)

    async def _task(self, task_id: str) -> Task:
        info, events = await self._journal(task_id)
        return task_of(task_id, events, origin=self.origins.get(task_id), updated=info.updated_at)

    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task:
        _require(context, "read")
        validate_history_length(params)
        return apply_history_length(await self._task(params.id), params)

    async def on_list_tasks(
        self, params: ListTasksRequest, context: ServerCallContext
    ) -> ListTasksResponse:
        _require(context, "read")
        validate_history_length(params)
        size = params.page_size if params.HasField("page_size") else PAGE_SIZE
        validate_page_size(size)
        after = _decode_token(params.page_token) if params.page_token else None
        matched = await self._matching(params)
        total = len(matched)
        if after is not None:
            matched = [m for m in matched if (_ns(m), m.run_id) < after]
        page = matched[:size]
        tasks = [
            task_of(
                info.run_id,
                await self.orch.store.load(info.run_id),
                origin=self.origins.get(info.run_id),
                updated=info.updated_at,
                artifacts=params.include_artifacts,
            )
            for info in page
        ]
        if params.context_id:
            for task in tasks:
                task.context_id = params.context_id
        reply = ListTasksResponse(
            tasks=[apply_history_length(t, params) for t in tasks], page_size=size, total_size=total
        )
        if len(matched) > size:
            reply.next_page_token = _encode_token(_ns(page[-1]), page[-1].run_id)
        return reply

    async def _matching(self, params: ListTasksRequest) -> list[RunInfo]:
        """This agent's runs that pass the filters, newest change first; journals are read
        only to tell `failed` from `rejected`."""
        since = (
            params.status_timestamp_after.ToNanoseconds()
            if params.HasField("status_timestamp_after")
            else None
        )
        wanted = _RUN_STATUSES.get(params.status, frozenset()) if params.status else None
        found: list[RunInfo] = []
        for info in await self.orch.store.list_runs(limit=MAX_SCAN):
            if info.name != self.name or (wanted is not None and info.status not in wanted):
                continue
            if since is not None and _ns(info) <= since:
                continue
            if params.context_id and not self._in_context(info.run_id, params.context_id):
                continue
            if params.status in _NEEDS_JOURNAL:
                events = await self.orch.store.load(info.run_id)
                if task_state(RunState.from_events(info.run_id, events), events) != params.status:
                    continue
            found.append(info)
        found.sort(key=lambda i: (_ns(i), i.run_id), reverse=True)
        return found

    def _in_context(self, run_id: str, context_id: str) -> bool:
        origin = self.origins.get(run_id)
        if origin is not None:
            return origin.context_id == context_id
        return run_id == context_id or run_id.startswith(context_prefix(context_id))

    # -- acting -------------------------------------------------------------------------------

    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext) -> Task:
        who = _require(context, "operate")
        task = await self._task(params.id)
        if task.status.state in TERMINAL:
            raise TaskNotCancelableError(
                message=f"task {params.id!r} has ended ({TaskState.Name(task.status.state)})"
            )
        await self.orch.cancel_run(params.id, "cancelled over A2A", by=who)
        return await self._task(params.id)

    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> Task | Message:
        task_id = await self._accept(params, context)
        config = params.configuration
        if not config.return_immediately:
            async for _ in self._follow(task_id, first=False):
                pass
        task = await self._task(task_id)
        return apply_history_length(task, config) if params.HasField("configuration") else task

    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        task_id = await self._accept(params, context)
        async for event in self._follow(task_id, first=True):
            yield event

    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        _require(context, "read")
        task = await self._task(params.id)
        if task.status.state in TERMINAL:
            raise UnsupportedOperationError(
                message=f"task {params.id!r} has ended; GetTask reads it"
            )
        async for event in self._follow(params.id, first=True):
            yield event

    async def _accept(self, params: SendMessageRequest, context: ServerCallContext) -> str:
        """Start the run a message asks for, or answer a parked one; the task id."""
        message = params.message
        validate_history_length(params.configuration)
        if not message.message_id:
            raise InvalidParamsError(message="the message needs a message_id")
        value = message_value(message)
        if message.task_id:
            if message.context_id and not self._in_context(message.task_id, message.context_id):
                await self._journal(message.task_id)  # an unknown task is TaskNotFound first
                raise InvalidParamsError(
                    message=f"task {message.task_id!r} is not of context {message.context_id!r}:"
                    " leave context_id out, or send the task's own"
                )
            await self._answer(message.task_id, value, context)
            return message.task_id
        who = _require(context, "operate")
        inputs, goal = self.target.run_args(value)
        run_id = context_prefix(message.context_id) + new_run_id()
        wf = self.target.workflow
        self.origins[run_id] = Origin(message.context_id or run_id, message.message_id)
        log.info("A2A task %s started by %s", run_id, who)
        try:
            await self.drives.start(
                run_id,
                lambda told: self.orch.run(
                    wf, goal=goal, inputs=inputs, run_id=run_id, on_event=told, by=who
                ),
            )
        except ConfigError as exc:
            self.origins.pop(run_id, None)
            raise InvalidParamsError(message=str(exc)) from None
        return run_id

    async def _answer(self, task_id: str, value: Any, context: ServerCallContext) -> None:
        """A follow-up: the decision on what the parked run waits for; then it resumes."""
        _, events = await self._journal(task_id)
        state = task_of(task_id, events).status.state
        if state in TERMINAL:
            raise UnsupportedOperationError(
                message=f"task {task_id!r} has ended ({TaskState.Name(state)}); send a new"
                " message without task_id to start another"
            )
        if state != TaskState.TASK_STATE_INPUT_REQUIRED:
            raise UnsupportedOperationError(
                message=f"task {task_id!r} is working and needs no input now"
            )
        decision = decision_of(value)
        who = _require(context, "approve")
        try:
            lease = await self.orch.leases.acquire(task_id)
        except LeaseHeld as exc:
            raise UnsupportedOperationError(message=str(exc)) from None
        try:
            for request in pending_requests(events, limit=1000):
                await record_decision(
                    self.orch.store,
                    task_id,
                    request.task,
                    granted=decision.granted,
                    by=who,
                    comment=decision.comment,
                    now=self.orch.clock,
                    fence=lease.token,
                )
        except BaseException:
            await self.orch.leases.release(lease)
            raise
        await self.drives.resume(lease, by=who)

    async def _follow(self, task_id: str, *, first: bool) -> AsyncGenerator[Event]:
        """The task (if `first`), then its status and artifact changes until it stops."""
        task = await self._task(task_id)
        if first:
            yield task
        seen = (task.status.state, task.status.message.SerializeToString())
        while task.status.state not in STOPS:
            await self.drives.wait(task_id)
            task = await self._task(task_id)
            now = (task.status.state, task.status.message.SerializeToString())
            if now == seen:
                continue
            seen = now
            for artifact in task.artifacts:
                yield TaskArtifactUpdateEvent(
                    task_id=task_id, context_id=task.context_id, artifact=artifact, last_chunk=True
                )
            yield TaskStatusUpdateEvent(
                task_id=task_id, context_id=task.context_id, status=task.status
            )

    # -- not offered --------------------------------------------------------------------------

    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        raise PushNotificationNotSupportedError

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise PushNotificationNotSupportedError

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        # spec 1.0, 3.3.4: without `capabilities.extendedAgentCard` this is an unsupported
        # operation (ExtendedAgentCardNotConfigured is for agents that declare one)
        raise UnsupportedOperationError(message="this agent offers no extended agent card")


PRINCIPAL = "podium.principal"
"""Where the auth middleware leaves the caller (`Principal`) in the call context's state."""


def _require(context: ServerCallContext, permission: Any) -> str:
    """The caller's name, if it may `permission` (everyone may without auth)."""
    principal = context.state.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        raise InvalidRequestError(message="no caller: the server's auth did not run")
    if not principal.may(permission):
        raise InvalidRequestError(
            message=f"{principal.user!r} (roles {list(principal.roles)}) may not {permission}"
        )
    return principal.user


def context_prefix(context_id: str) -> str:
    """What starts the id of a task of a caller's context: the context is then found again
    after a restart (the run id is all the journal keeps of it)."""
    if not context_id:
        return ""
    return hashlib.sha256(context_id.encode()).hexdigest()[:12] + "-"


def _ns(info: RunInfo) -> int:
    return int(info.updated_at * 1e9)


def _encode_token(ns: int, run_id: str) -> str:
    return base64.urlsafe_b64encode(f"{ns}~{run_id}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        ns, sep, run_id = raw.partition("~")
        if sep and run_id:
            return int(ns), run_id
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidParamsError(message="page_token: not one this server handed out")


__all__ = ["PRINCIPAL", "PodiumRequestHandler"]
