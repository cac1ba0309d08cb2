"""Fitting a model-driven agent's context into the task's token budget.

The budget (`podium.context._budget`) covers everything of a prompt that grows with the run: the
blackboard entries the task reads, the outputs of the tasks it needs, what happened before a
handoff and the conversation's earlier turns. An agent that may call tools or hand off keeps half
of it for its conversation; the entries and outputs share the rest. A part over its share is
summarised: each entry or output over its own share first (a blackboard entry's summary is
stored on the board for later tasks, see `podium.context._summarise`), then the whole part, so
the bound holds however many entries there are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from podium.agents._handoff import HandoffStep, handoff_brief
from podium.agents._spec import Agent, TaskCall
from podium.context import PendingWrite
from podium.context._budget import context_budget, estimate_tokens, shares
from podium.context._summarise import (
    Summarise,
    clip,
    extract,
    reusable,
    source_ref,
    summary_key,
)
from podium.exceptions import TaskError
from podium.models._base import (
    AssistantMessage,
    Message,
    ModelRequest,
    SystemMessage,
    ToolResultMessage,
    UserMessage,
)

JSON = Any

KEY_OVERHEAD = 8
"""Tokens a key's line costs besides its value and name (``(summary): ``, the newline)."""


def _dump(value: JSON) -> str:
    """`value` as text to summarise: a list one item a line, a mapping one field a line (a
    summary's units), without the quotes and escapes of JSON around text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_dump(v) if isinstance(v, str) else _compact(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(
            f"{k}: {_dump(v) if isinstance(v, str) else _compact(v)}" for k, v in value.items()
        )
    return _compact(value)


def _compact(value: JSON) -> str:
    return json.dumps(value, ensure_ascii=False)


def _render(values: Mapping[str, JSON]) -> str:
    return json.dumps(dict(values), ensure_ascii=False, indent=1)


class PromptContext:
    """The context of one attempt's prompts, within its budget.

    Args:
        call: the attempt.
        budget: tokens for everything of the prompt that grows with the run.
        summarise: summarises one entry or output that is over its share.
        author: who `summarise` is, recorded on the summaries stored on the board.
        converses: the agent may call tools or hand off: half the budget is kept for that.
    """

    def __init__(
        self, call: TaskCall, budget: int, summarise: Summarise, *, author: str, converses: bool
    ) -> None:
        self.call = call
        self.budget = budget
        self.summarise = summarise
        self.author = author
        self.reserve = budget // 2 if converses else 0
        self.board_text = ""
        self.outputs_text = ""

    @property
    def used(self) -> int:
        return estimate_tokens(self.board_text) + estimate_tokens(self.outputs_text)

    @property
    def conversation(self) -> int:
        """Tokens left for the conversation (and a handoff's account of it)."""
        return max(self.reserve, self.budget - self.used)

    async def fit(self) -> None:
        """Fit the blackboard entries and the needed outputs (call once, before the prompts)."""
        call = self.call
        visible = call.context.visible()
        outputs = dict(call.task_outputs) if call.task_outputs and not call.explicit_inputs else {}
        sizes = [estimate_tokens(_render(p)) if p else 0 for p in (visible, outputs)]
        board_share, outputs_share = shares(sizes, self.budget - self.reserve)
        if visible:
            self.board_text = await self._part(visible, board_share, stored=True)
        if outputs:
            self.outputs_text = await self._part(outputs, outputs_share, stored=False)

    async def _part(self, values: dict[str, JSON], share: int, *, stored: bool) -> str:
        text = _render(values)
        if estimate_tokens(text) <= share:
            return text
        dumped = {key: _dump(value) for key, value in values.items()}
        room = share - sum(KEY_OVERHEAD + estimate_tokens(k) for k in values)
        keys = list(dumped)
        allotted = shares([estimate_tokens(dumped[k]) for k in keys], max(room, 0))
        lines = []  # over the budget: one line a key, a summary as plain text
        for key, tokens in zip(keys, allotted, strict=True):
            if estimate_tokens(dumped[key]) <= tokens:
                lines.append(f"{key}: {_compact(values[key])}")
            elif tokens > 0:
                summary = await self._entry(key, dumped[key], tokens, stored=stored)
                lines.append(f"{key} (summary): {summary}")
        text = "\n".join(lines)
        if estimate_tokens(text) > share:  # too many keys for a line each: the whole part
            text = extract(text, self.call.instruction, share)
        return text

    async def _entry(self, key: str, text: str, tokens: int, *, stored: bool) -> str:
        """`text` (the value of `key`) in `tokens` tokens: a stored summary of the same version
        if there is one, else a new one (stored, for a blackboard entry)."""
        view = self.call.context
        entry = view.entry(key) if stored else None
        if entry is not None:
            found = reusable(view.history(summary_key(key)), entry, tokens)
            if found is not None:
                return found
        summary = clip(await self.summarise(text, self.call.instruction, tokens), tokens)
        if entry is not None:
            view.pending.append(
                PendingWrite(
                    key=summary_key(key),
                    value=summary,
                    sources=(source_ref(entry),),
                    confidence=None,
                    agent=self.author,
                )
            )
        return summary

    def brief(self, step: HandoffStep, lines: Sequence[str]) -> str:
        """What the target of a handoff reads: the reason, the note and what happened before,
        in half the conversation's tokens (the reason and note first, as the agent wrote them)."""
        text = "\n".join(lines)
        said = [step.reason, step.note, text]
        allotted = shares([estimate_tokens(t) for t in said], self.conversation // 2)
        reason, note, text = (
            t if estimate_tokens(t) <= n else extract(t, self.call.instruction, n)
            for t, n in zip(said, allotted, strict=True)
        )
        fitted = HandoffStep(step.from_agent, step.to_agent, reason, note)
        return handoff_brief(fitted, [text] if text else [])

    def messages(self, messages: list[Message], brief: str = "") -> list[Message]:
        """`messages` with the turns after the first two compressed to the conversation's
        tokens (less `brief`, a handoff's account already in the first user message); the loop
        keeps the full turns, so each request compresses from them afresh."""
        turns = messages[2:]
        room = self.conversation - estimate_tokens(brief)
        sizes = [estimate_tokens(_content(m)) for m in turns]
        fixed = sum(_fixed(m) for m in turns)
        if sum(sizes) + fixed <= room:
            return messages
        allotted = shares(sizes, max(room - fixed, 0))
        out = list(messages[:2])
        for m, size, tokens in zip(turns, sizes, allotted, strict=True):
            out.append(m if size <= tokens else _shortened(m, extract(_content(m), "", tokens)))
        return out


def _content(m: Message) -> str:
    return (m.content or "") if isinstance(m, AssistantMessage) else m.content


def _fixed(m: Message) -> int:
    """Tokens of a turn that are not compressed: a tool call's name and arguments."""
    if isinstance(m, AssistantMessage):
        return sum(
            estimate_tokens(c.name + json.dumps(c.arguments, ensure_ascii=False))
            for c in m.tool_calls
        )
    return 0


def _shortened(m: Message, content: str) -> Message:
    if isinstance(m, (AssistantMessage, ToolResultMessage, UserMessage)):
        return msgspec.structs.replace(m, content=content)
    return m


SUMMARY_INSTRUCTIONS = (
    "You summarise material for another agent: keep facts, names, numbers and sources that "
    "matter for its task; leave out the rest. Answer with the summary only."
)


def summariser_of(agent: Agent, agents: Mapping[str, Agent]) -> Agent | None:
    """The model-driven agent that summarises `agent`'s context (``None``: the built-in one).

    Raises:
        TaskError: `agent.summariser` names no model-driven agent of the team.
    """
    name = agent.summariser
    if name is None:
        return None
    target = agents.get(name)
    if target is None or target.model is None:
        raise TaskError(
            f"agent {agent.name!r}: summariser {name!r} is not a model-driven agent of the "
            "team; name one, or leave `summariser` out for the built-in summary",
            kind="summariser",
            retryable=False,
        )
    return target


def summary_request(target: Agent, text: str, query: str, tokens: int) -> ModelRequest:
    """What the summariser `target` is asked: `text` in at most `tokens` tokens."""
    ask = f"Summarise in at most {tokens} tokens, keeping what matters for: {query}"
    return ModelRequest(
        messages=(
            SystemMessage(content=target.instructions or SUMMARY_INSTRUCTIONS),
            UserMessage(content=ask + "\n\n" + text),
        ),
        max_tokens=tokens,
    )


def context_budget_of(agent: Agent, call: TaskCall) -> int:
    """The task's budget, else the agent's, else the default."""
    return context_budget(call.context_budget, agent.context_budget)


__all__ = ["PromptContext", "context_budget_of", "summariser_of", "summary_request"]
