"""Remote A2A agents in a Podium team: an agent whose attempts cross the network.

`A2AAgent(url)` is a Podium `Agent` (a Python agent underneath): its card gives its description
and capabilities (the skills' ids and tags), so routers and planners see it like any other. An
attempt sends the task's instruction as a message and follows the remote task's stream:

- a completed remote task's artifacts are the output (one text part: the text; data: the value);
- ``input-required`` parks the Podium run for a person (an approval on the action "answer the
  remote agent"); once approved, the task runs again and says ``approve`` to the same remote task;
  a rejection fails the task here (never retried) and cancels the remote task;
- a stream cut short (the remote process died) is a retryable `RemoteAgentError`: the next
  attempt follows the same remote task rather than starting another, while this process
  remembers it; ``failed`` is retryable, ``rejected`` and ``canceled`` are not; so retries,
  backups and circuit breakers apply as to any agent;
- a cancelled Podium attempt cancels the remote task.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from a2a.client import Client, ClientConfig, create_client
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskState,
)
from a2a.utils.errors import A2AError, TaskNotFoundError

from podium.a2a._proto import ParseError, parse_card, plain
from podium.a2a._views import TERMINAL
from podium.agents import Agent, TaskCall
from podium.exceptions import ConfigError, TaskError
from podium.policy import ApprovalNeeded, ApprovalRequest
from podium.reliability._retry import RetryPolicy

log = logging.getLogger(__name__)

JSON = Any
CARD_PATH = "/.well-known/agent-card.json"


class RemoteAgentError(TaskError):
    """A remote A2A agent failed, or could not be reached (`kind` says which; `retryable`)."""


def fetch_card(
    url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 10
) -> AgentCard:
    """The agent card at `url` (its base URL, or the card's own URL).

    Raises:
        ConfigError: the card cannot be had or read.
    """
    where = url if url.endswith(".json") else url.rstrip("/") + CARD_PATH
    try:
        response = httpx.get(where, headers=dict(headers or {}), timeout=timeout_s)
        response.raise_for_status()
        return parse_card(response.text)
    except (httpx.HTTPError, ParseError) as exc:
        raise ConfigError(
            f"cannot read the A2A agent card at {where!r}: {exc} (give `description` and"
            " `capabilities` to build the agent without it)"
        ) from None


def A2AAgent(
    url: str,
    *,
    name: str | None = None,
    description: str | None = None,
    capabilities: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 600,
    retry: RetryPolicy | None = None,
    backups: Sequence[str] = (),
    max_concurrency: int | None = None,
) -> Agent:
    """A remote A2A agent as an agent of a team.

    Args:
        url: the agent's base URL (where ``/.well-known/agent-card.json`` is).
        name: its name in the team (default: the card's name).
        description: what it does, for routers and planners (default: the card's description
            and its skills').
        capabilities: capability tags (default: the card's skill ids and tags).
        headers: sent with every request (e.g. ``{"Authorization": "Bearer …"}``).
        timeout_s: bound on one attempt's wait for the remote task.
        retry, backups, max_concurrency: as for any `Agent`.

    The card is fetched now unless `name`, `description` and `capabilities` are all given.

    Raises:
        ConfigError: the card cannot be had.
    """
    card = None
    if name is None or description is None or capabilities is None:
        card = fetch_card(url, headers=headers)
    caps = tuple(capabilities) if capabilities is not None else _capabilities(card)
    return Agent(
        name=name or (card.name if card is not None else "remote"),
        description=description if description is not None else _description(card),
        capabilities=caps,
        function=RemoteCall(url, headers=headers, timeout_s=timeout_s),
        retry=retry,
        backups=tuple(backups),
        max_concurrency=max_concurrency,
        metadata={"a2a": url},
    )


def _capabilities(card: AgentCard | None) -> tuple[str, ...]:
    found: list[str] = []
    for skill in card.skills if card is not None else ():
        for tag in (skill.id, *skill.tags):
            if tag and tag not in found:
                found.append(tag)
    return tuple(found)


def _description(card: AgentCard | None) -> str:
    if card is None:
        return ""
    skills = "; ".join(f"{s.name}: {s.description}" for s in card.skills if s.description)
    return f"{card.description} Skills: {skills}" if skills else card.description


class RemoteCall:
    """The body of a remote agent's attempts (see the module's docstring)."""

    def __init__(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 600
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self.remote: dict[str, str] = {}
        """Idempotency key of a task here → the remote task its attempts follow."""

    async def __call__(self, call: TaskCall) -> JSON:
        key = call.idempotency_key("a2a")
        async with httpx.AsyncClient(headers=self.headers, timeout=self.timeout_s) as hc:
            try:
                client = await create_client(
                    self.url, ClientConfig(httpx_client=hc, streaming=True)
                )
            except (A2AError, httpx.HTTPError) as exc:
                raise _unreachable(self.url, exc) from None
            try:
                task = await asyncio.wait_for(self._attempt(client, call, key), self.timeout_s)
            except asyncio.CancelledError:
                await self._cancel(client, key)
                raise
            except TimeoutError:
                await self._cancel(client, key)
                raise RemoteAgentError(
                    f"the remote agent at {self.url} did not finish within {self.timeout_s}s",
                    kind="a2a_timeout",
                ) from None
            except (A2AError, httpx.HTTPError) as exc:
                raise _unreachable(self.url, exc) from None
        return self._outcome(task, key)

    async def _attempt(self, client: Client, call: TaskCall, key: str) -> Task | Message:
        remote = self.remote.get(key)
        if remote is not None:
            try:
                task = await client.get_task(GetTaskRequest(id=remote))
            except TaskNotFoundError:
                self.remote.pop(key, None)  # the remote forgot it: start afresh
            else:
                if task.status.state in TERMINAL:
                    return task
                if task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
                    # answered only with a person's approval of this very question (else the
                    # attempt parks again for it)
                    if _question(self.url, task).action_hash not in call.approved:
                        return task
                    answer = _message("approve", key, task_id=remote, n=len(task.history))
                    return await self._follow(client, client.send_message(_request(answer)), key)
                stream = client.subscribe(SubscribeToTaskRequest(id=remote))
                return await self._follow(client, stream, key)
        found = await self._find(client, key)
        if found is not None:
            self.remote[key] = found
            return await self._attempt(client, call, key)
        message = _message(_text(call), key)
        return await self._follow(client, client.send_message(_request(message)), key)

    async def _find(self, client: Client, key: str) -> str | None:
        """The unfinished remote task of an earlier attempt (another process's, say after a
        person approved what it asked), by the context every attempt of the task uses."""
        try:
            listed = await client.list_tasks(ListTasksRequest(context_id=_context(key)))
        except A2AError:  # no ListTasks there: start afresh
            return None
        for task in listed.tasks:
            if task.status.state not in TERMINAL:
                return str(task.id)
        return None

    async def _follow(self, client: Client, stream: Any, key: str) -> Task | Message:
        """Read the stream to its end; the remote task as it then is (or the reply message)."""
        last: StreamResponse | None = None
        async for response in stream:
            last = response
            task_id = _task_id(response)
            if task_id:
                self.remote[key] = task_id
        if last is not None and last.HasField("message"):
            return last.message
        remote = self.remote.get(key)
        if remote is None:
            raise RemoteAgentError(
                f"the remote agent at {self.url} answered nothing", kind="a2a_protocol"
            )
        task: Task = await client.get_task(GetTaskRequest(id=remote))
        return task

    async def _cancel(self, client: Client, key: str) -> None:
        """Cancel the remote task of this attempt (found by its context if the stream had not
        named it yet); shielded: the attempt is being cancelled, the remote must hear of it."""
        try:
            await asyncio.shield(asyncio.wait_for(self._cancel_remote(client, key), 10))
        except (A2AError, httpx.HTTPError, TimeoutError) as exc:
            log.warning("could not cancel the remote task of %s at %s: %s", key, self.url, exc)

    async def _cancel_remote(self, client: Client, key: str) -> None:
        remote = self.remote.get(key) or await self._find(client, key)
        if remote is not None:
            await client.cancel_task(CancelTaskRequest(id=remote))

    def _outcome(self, reply: Task | Message, key: str) -> JSON:
        if isinstance(reply, Message):
            return _parts_value(reply.parts)
        state = reply.status.state
        said = _parts_value(reply.status.message.parts) if reply.status.HasField("message") else ""
        if state == TaskState.TASK_STATE_COMPLETED:
            parts = [p for a in reply.artifacts for p in a.parts]
            return _parts_value(parts) if parts else said
        if state == TaskState.TASK_STATE_INPUT_REQUIRED:
            raise ApprovalNeeded(_question(self.url, reply))
        self.remote.pop(key, None)  # a new attempt starts a new remote task
        name = TaskState.Name(state).removeprefix("TASK_STATE_").lower()
        raise RemoteAgentError(
            f"the remote agent at {self.url} ended task {reply.id!r} {name}: {said}".rstrip(": "),
            kind=f"a2a_{name}",
            retryable=state == TaskState.TASK_STATE_FAILED,
        )


def _question(url: str, task: Task) -> ApprovalRequest:
    """The approval that stands for the remote agent's question: bound to the remote task,
    the question and where in the task's history it was asked (the same question asked again
    later is a new one)."""
    said = _parts_value(task.status.message.parts) if task.status.HasField("message") else ""
    text = said if isinstance(said, str) else json.dumps(said, sort_keys=True)
    where = f"{url}\n{task.id}\n{len(task.history)}\n{text}"
    digest = hashlib.sha256(where.encode()).hexdigest()
    return ApprovalRequest(
        action="tool",
        action_hash=digest,
        reason=f"the remote agent at {url} asks: {text}",
        tool="a2a",
        arguments={"url": url, "remote_task": task.id, "question": text},
    )


def _task_id(response: StreamResponse) -> str:
    kind = response.WhichOneof("payload")
    if kind == "task":
        return response.task.id
    if kind == "status_update":
        return response.status_update.task_id
    if kind == "artifact_update":
        return response.artifact_update.task_id
    return ""


def _text(call: TaskCall) -> str:
    if call.explicit_inputs or not call.task_outputs:
        return call.instruction or json.dumps(dict(call.run_inputs), default=str)
    needed = json.dumps(dict(call.task_outputs), default=str, indent=1)
    return f"{call.instruction}\n\nInputs:\n{needed}"


def _context(key: str) -> str:
    return "podium-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _message(text: str, key: str, *, task_id: str = "", n: int = 0) -> Message:
    context = _context(key)
    return Message(
        message_id=f"{context}-{n}",
        context_id=context,
        task_id=task_id,
        role=Role.ROLE_USER,
        parts=[Part(text=text)],
    )


def _request(message: Message) -> SendMessageRequest:
    return SendMessageRequest(message=message)


def _parts_value(parts: Sequence[Part]) -> JSON:
    values = [
        p.text if p.WhichOneof("content") == "text" else plain(p.data)
        for p in parts
        if p.WhichOneof("content") in ("text", "data")
    ]
    return values[0] if len(values) == 1 else values


def _unreachable(url: str, exc: BaseException) -> RemoteAgentError:
    return RemoteAgentError(
        f"the remote agent at {url} could not be reached or answered an error: {exc}",
        kind="a2a_unavailable",
        retryable=True,
    )


__all__ = ["A2AAgent", "RemoteAgentError", "RemoteCall", "fetch_card"]
