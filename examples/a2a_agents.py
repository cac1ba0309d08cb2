"""Python agents of the two A2A example teams (no model needed)."""

from __future__ import annotations

import re

from podium.agents import TaskCall


def proofread(call: TaskCall) -> str:
    """The desk's proofreader: one space between words, a capital to start, a full stop."""
    text = re.sub(r"\s+", " ", str(call.run_inputs["message"])).strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def headline(call: TaskCall) -> str:
    """The desk's headline writer: the first words of the copy, in title case."""
    words = str(call.task_outputs["proofread"]).rstrip(".!?").split()
    return " ".join(words[:8]).title()


def draft(call: TaskCall) -> str:
    """The newsroom's reporter: a rough first draft of the story."""
    return f"  {call.run_inputs['topic']}   happened today and   people talked about it"


def publish(call: TaskCall) -> dict[str, str]:
    """The newsroom's editor: the story as the desk sent it back."""
    return {"topic": str(call.run_inputs["topic"]), "story": str(call.task_outputs["desk"])}
