"""What an A2A message means to Podium: the input of a new run, or a decision on a parked one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from a2a.types import Message
from a2a.utils.errors import ContentTypeNotSupportedError, InvalidParamsError

from podium.a2a._proto import plain
from podium.exceptions import ConfigError
from podium.plan import Workflow

JSON = Any

MAX_TEXT = 1_000_000
"""Characters of a message Podium takes as a run's input."""

_YES = frozenset({"approve", "approved", "yes", "y", "ok", "accept", "accepted", "grant"})
_NO = frozenset({"reject", "rejected", "no", "n", "deny", "denied", "decline"})


def message_value(message: Message) -> JSON:
    """The message's content: its text parts joined, or the value of its one data part.

    Raises:
        ContentTypeNotSupportedError: a file part, or a part of a media type that is neither
            text nor JSON (the card's input modes).
        InvalidParamsError: nothing Podium can read (no text or data), or too long.
    """
    for part in message.parts:
        _check_media(part.WhichOneof("content"), part.media_type)
    texts = [p.text for p in message.parts if p.WhichOneof("content") == "text"]
    datas = [p.data for p in message.parts if p.WhichOneof("content") == "data"]
    if not texts and len(datas) == 1:
        return _plain(datas[0])
    text = "\n".join([*texts, *(json.dumps(_plain(d)) for d in datas)]).strip()
    if not text:
        raise InvalidParamsError(message="the message has no text or data part to work on")
    if len(text) > MAX_TEXT:
        raise InvalidParamsError(message=f"the message is longer than {MAX_TEXT} characters")
    return text


def _check_media(kind: str | None, media_type: str) -> None:
    """Refuse what Podium cannot read rather than drop it (spec 1.0, 3.1.1: an unsupported media
    type is a `ContentTypeNotSupportedError`)."""
    media = media_type.partition(";")[0].strip().lower()
    if kind in ("raw", "url"):
        raise ContentTypeNotSupportedError(
            message=f"a {kind} part ({media or 'no media type'}): this agent reads text and JSON"
            " parts only (text/plain, application/json)"
        )
    readable = not media or media.startswith("text/") or media == "application/json"
    if not (readable or media.endswith("+json")):
        raise ContentTypeNotSupportedError(
            message=f"a {kind} part of media type {media!r}: this agent reads text/* and"
            " application/json"
        )


def _plain(value: Any) -> JSON:
    return plain(value)


@dataclass(frozen=True, slots=True)
class Decision:
    granted: bool
    comment: str | None


def decision_of(value: JSON) -> Decision:
    """A follow-up to an `input-required` task: ``approve …`` or ``reject …`` (the rest is the
    comment), or data ``{"decision": "approve" | "reject", "comment": …}``.

    Raises:
        InvalidParamsError: neither.
    """
    if isinstance(value, Mapping):
        word, comment = str(value.get("decision", "")), value.get("comment")
        comment = None if comment is None else str(comment)
    else:
        first, _, rest = str(value).strip().partition(" ")
        word, comment = first, rest.strip() or None
    word = word.strip().lower().rstrip(".!,:;")
    if word in _YES:
        return Decision(True, comment)
    if word in _NO:
        return Decision(False, comment)
    raise InvalidParamsError(
        message="the task waits for a decision: reply 'approve' or 'reject', optionally followed"
        " by a comment (or data {'decision': 'approve'|'reject', 'comment': ...})"
    )


@dataclass(frozen=True, slots=True)
class Target:
    """How a served workflow receives a message: as a goal (an agents file) or as an input."""

    workflow: Workflow
    input_name: str | None

    @classmethod
    def of(cls, workflow: Workflow) -> Target:
        """Raises:
        ConfigError: a workflow with several inputs, none of them named ``message``."""
        if not len(workflow.plan):
            return cls(workflow, None)
        names = [i.name for i in workflow.inputs] if workflow.inputs is not None else None
        if names is None or "message" in names:
            return cls(workflow, "message")
        if len(names) == 1:
            return cls(workflow, names[0])
        raise ConfigError(
            f"workflow {workflow.name!r} has inputs {names}: to serve it over A2A, name one of"
            " them `message` (it receives the message text) or give it a single input"
        )

    @property
    def is_goal(self) -> bool:
        return self.input_name is None

    def run_args(self, value: JSON) -> tuple[dict[str, JSON], str | None]:
        """``(inputs, goal)`` of the run a message starts."""
        if self.input_name is None:
            text = value if isinstance(value, str) else json.dumps(value)
            return {}, text
        return {self.input_name: value}, None


__all__ = ["MAX_TEXT", "Decision", "Target", "decision_of", "message_value"]
