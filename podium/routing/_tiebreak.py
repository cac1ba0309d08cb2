"""An optional model that breaks near-ties between candidate agents.

When the router's best candidates are within `margin` of each other in relevance, a
`ModelTieBreaker` shows the task and their descriptions to a model and asks which one should take
it. The model only suggests: an answer that names no candidate, that is not JSON, or a model that
fails leaves the router's own choice in place, and the decision's reason says which happened.

The router is synchronous (the scheduler calls it between steps), so the model's request runs on
a thread of its own with its own event loop and a timeout: keep tie-breaks rare (a small margin)
and the model fast. Off unless configured.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from podium.agents import Agent
from podium.exceptions import ConfigError
from podium.models import Model, resolve_model
from podium.models._base import ModelRequest, ModelResponse, SystemMessage, UserMessage
from podium.plan import Task

JSON = Any
log = logging.getLogger(__name__)

_SYSTEM = (
    "You assign a task to the agent best suited to do it. Read the task and the agents'"
    ' descriptions, then answer only with JSON: {"agent": "<one of the names>", "why": "<one'
    ' short sentence>"}.'
)


class TieBreaker(Protocol):
    """Chooses among close candidates; ``None`` keeps the router's choice."""

    margin: float

    def choose(self, task: Task, candidates: Sequence[Agent]) -> tuple[str | None, str]:
        """(the chosen agent or ``None``, why) for `task` among `candidates`."""
        ...


class ModelTieBreaker:
    """A `TieBreaker` that asks a model.

    Args:
        model: a `Model` or a ``provider:model`` name.
        margin: relevance gap (ranking score, 0 to 1) under which candidates count as tied.
        max_candidates: at most this many of the closest candidates are shown.
        timeout_s: how long to wait for the model before keeping the router's choice.
    """

    def __init__(
        self,
        model: Model | str,
        *,
        margin: float = 0.25,
        max_candidates: int = 3,
        timeout_s: float = 30.0,
    ) -> None:
        if not 0 < margin <= 1:
            raise ConfigError(f"tie-break margin must be in (0, 1], not {margin!r}")
        if max_candidates < 2:
            raise ConfigError("a tie-breaker needs at least 2 candidates to choose from")
        self.model = resolve_model(model)
        self.margin = margin
        self.max_candidates = max_candidates
        self.timeout_s = timeout_s

    def choose(self, task: Task, candidates: Sequence[Agent]) -> tuple[str | None, str]:
        shown = list(candidates)[: self.max_candidates]
        names = [a.name for a in shown]
        request = ModelRequest(
            messages=(SystemMessage(content=_SYSTEM), UserMessage(content=_prompt(task, shown))),
            output_schema={
                "type": "object",
                "properties": {"agent": {"enum": names}, "why": {"type": "string"}},
                "required": ["agent"],
            },
            max_tokens=200,
            temperature=0.0,
        )
        model = self.model.name
        try:
            response = self._request(request)
        except Exception as exc:  # any failure of the model keeps the router's choice
            log.warning("tie-break model %s failed: %s", model, exc)
            return None, f"tie-break model {model!r} failed ({type(exc).__name__}): kept"
        return _parse(response.text or "", names, model)

    def _request(self, request: ModelRequest) -> ModelResponse:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop here (the CLI): run one
            return asyncio.run(asyncio.wait_for(self.model.request(request), self.timeout_s))
        pool = ThreadPoolExecutor(1, thread_name_prefix="podium-tiebreak")
        try:
            future = pool.submit(asyncio.run, self.model.request(request))
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            raise TimeoutError(f"no answer in {self.timeout_s:g}s") from None
        finally:
            pool.shutdown(wait=False)


def _prompt(task: Task, agents: Sequence[Agent]) -> str:
    lines = [f"Task: {task.instruction}", "", "Agents:"]
    for a in agents:
        described = a.description or ", ".join(a.capabilities) or "(no description)"
        lines.append(f"- {a.name}: {described}")
    return "\n".join(lines)


def _parse(text: str, names: Sequence[str], model: str) -> tuple[str | None, str]:
    try:
        data: JSON = json.loads(text)
    except ValueError:
        return None, f"tie-break model {model!r} did not answer JSON: kept"
    agent = data.get("agent") if isinstance(data, Mapping) else None
    if agent not in names:
        return None, f"tie-break model {model!r} named no candidate ({agent!r}): kept"
    why = data.get("why") if isinstance(data, Mapping) else None
    said = f": {why.strip()[:200]}" if isinstance(why, str) and why.strip() else ""
    return str(agent), f"tie broken by model {model!r}{said}"


__all__ = ["ModelTieBreaker", "TieBreaker"]
