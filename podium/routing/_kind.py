"""Task kinds: the key outcomes are learned under.

A kind is ``BASE/SIGNATURE``:

- ``BASE`` is the task's capability, or ``@agent`` for a task fixed to an agent (``*`` when it
  names neither, as `podium route` may ask);
- ``SIGNATURE`` is up to four content words of the instruction — its first four distinct stems
  after dropping templates (``{{ inputs.topic }}``), stop words and suffixes — sorted and joined
  with ``+``, e.g. ``find+report+short+summariz``; empty for an empty instruction.

The ``/`` is always there and the signature never holds one, so the base is everything before
the last ``/`` even when a capability name contains one.

Why this shape: the raw template, not the rendered text, so every run of a workflow (and every
item of a ``map``) lands in one kind whatever its inputs; the first few words, because an
instruction opens with what to do to what ("Summarise the findings…", "Translate the abstract…"),
while its tail is detail that would split one kind of work into many thin ones; sorted, so word
order does not matter. The router backs off from the kind to the base and to the agent overall
when a kind has little history (see `OutcomeBook`), so a coarse signature costs little and an
over-fine one would learn nothing.
"""

from __future__ import annotations

import functools
from functools import lru_cache

from podium.agents._relevance import tokenize
from podium.plan import Task

SIGNATURE_WORDS = 4


@functools.lru_cache(maxsize=4096)
def instruction_signature(instruction: str, *, words: int = SIGNATURE_WORDS) -> str:
    """A short, normalised signature of an instruction (``""`` when it has no content words)."""
    seen: list[str] = []
    for token in tokenize(instruction):
        if token not in seen and not token.isdigit():
            seen.append(token)
            if len(seen) == words:
                break
    return "+".join(sorted(seen))


def kind_base(task: Task) -> str:
    """The coarse part of a task's kind: its capability, else ``@agent``."""
    if task.capability is not None:
        return task.capability
    if task.agent is not None:
        return f"@{task.agent}"
    return "*"


def task_kind(task: Task) -> str:
    """The kind a task's outcomes are learned under."""
    return _kind(task.capability, task.agent, task.instruction)


@lru_cache(maxsize=4096)
def _kind(capability: str | None, agent: str | None, instruction: str) -> str:
    base = capability if capability is not None else f"@{agent}" if agent is not None else "*"
    return f"{base}/{_signature(instruction)}"


@lru_cache(maxsize=4096)
def _signature(instruction: str) -> str:
    # one signature per distinct template: every run and map item of a task shares it
    return instruction_signature(instruction)


def base_of(kind: str) -> str:
    """The base of a kind (the part before its last ``/``)."""
    return kind.rpartition("/")[0]


__all__ = ["SIGNATURE_WORDS", "base_of", "instruction_signature", "kind_base", "task_kind"]
