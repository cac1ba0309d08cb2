"""Bad model output: answers that are empty or cut off, and tool results too big to show.

Each gets a bounded repair (one more round in the same attempt, told what was wrong) or a typed
error; what the model actually said is journaled (`OutputRejected`, `TaskFailed.error`).

A free-text answer (no output schema) cut off at the output token limit is not thrown away: the
model is asked to continue it, at most `CONTINUE_ROUNDS` times, and the pieces are joined; if it is
still cut off then, the text written so far is the answer, with a note that says so. A cut-off
answer to a schema cannot be joined into valid JSON reliably, so it gets the repair instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from podium.exceptions import OutputValidationError

CONTINUE_ROUNDS = 2
"""Continuations of a free-text answer cut off at the output token limit, per attempt."""

_OVERLAP_MIN = 12
"""Characters a continuation must repeat before the repetition is taken for an overlap."""
_OVERLAP_MAX = 400
_RESTART_CHARS = 40
"""A continuation that begins with the answer's first characters starts it over."""


def truncated(text: str) -> OutputValidationError:
    """The error of an answer cut off at the output token limit."""
    return OutputValidationError(
        "the answer was cut off at the output token limit (finish_reason 'length')",
        raw_output=text,
        kind="output_truncated",
    )


def check_answer(text: str, finish_reason: str) -> None:
    """Raise an `OutputValidationError` for an answer that was cut off or is empty."""
    if finish_reason == "length":
        raise truncated(text)
    if not text.strip():
        raise OutputValidationError("the answer was empty", raw_output=text, kind="output_empty")


def repair_prompt(error: OutputValidationError, *, schema: bool) -> str:
    """What the model is told when its answer is rejected and it may try once more."""
    if error.kind == "output_truncated":
        return (
            "Your answer was cut off at the output token limit. Reply again with a complete, "
            "shorter answer" + (" as JSON that matches the schema." if schema else ".")
        )
    if error.kind == "output_empty":
        return "Your answer was empty. Reply with the answer" + (
            " as JSON that matches the schema." if schema else "."
        )
    return f"Your answer was rejected: {error}. Reply again with only JSON that matches the schema."


CONTINUE_PROMPT = (
    "Your answer was cut off at the output token limit. Continue it exactly where it stopped, "
    "without repeating what you already wrote."
)


def join_continued(pieces: Sequence[str]) -> str:
    """A free-text answer written in pieces, each a continuation of the text before it.

    Small models often repeat the end of what they wrote before going on, or start the answer
    over: a repeated end is joined once, and a restart replaces the text before it.
    """
    text = ""
    for piece in pieces:
        head = text.lstrip()[:_RESTART_CHARS]
        if len(head) == _RESTART_CHARS and piece.lstrip().startswith(head):
            text = piece
            continue
        text += piece[_overlap(text, piece) :]
    return text


def _overlap(text: str, more: str) -> int:
    """The length of the longest end of `text` that `more` begins with (0 below the minimum)."""
    longest = min(len(text), len(more), _OVERLAP_MAX)
    for n in range(longest, _OVERLAP_MIN - 1, -1):
        if text.endswith(more[:n]):
            return n
    return 0


def cut_off_note(text: str, pieces: int) -> str:
    """`text`, kept although it was still cut off after its continuations, saying so."""
    return (
        f"{text.rstrip()}\n\n[cut off: the answer reached the output token limit "
        f"{pieces} time(s) and was not finished]"
    )


def clip_text(text: str, limit: int) -> tuple[str, int | None, str | None]:
    """`text` cut to `limit` characters with a note saying so, its full length and SHA-256.

    Text within the limit comes back as it is, with ``None`` for length and hash.
    """
    if len(text) <= limit:
        return text, None, None
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    note = f"\n…[clipped: showing {limit} of {len(text)} characters; sha256 {digest[:16]}]"
    return text[:limit] + note, len(text), digest


__all__ = [
    "CONTINUE_PROMPT",
    "CONTINUE_ROUNDS",
    "check_answer",
    "clip_text",
    "cut_off_note",
    "join_continued",
    "repair_prompt",
    "truncated",
]
