"""Bad model output: answers that are empty or cut off, and tool results too big to show.

Each gets a bounded repair (one more round in the same attempt, told what was wrong) or a typed
error; what the model actually said is journaled (`OutputRejected`, `TaskFailed.error`).
"""

from __future__ import annotations

import hashlib

from podium.exceptions import OutputValidationError


def check_answer(text: str, finish_reason: str) -> None:
    """Raise an `OutputValidationError` for an answer that was cut off or is empty."""
    if finish_reason == "length":
        raise OutputValidationError(
            "the answer was cut off at the output token limit (finish_reason 'length')",
            raw_output=text,
            kind="output_truncated",
        )
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


def clip_text(text: str, limit: int) -> tuple[str, int | None, str | None]:
    """`text` cut to `limit` characters with a note saying so, its full length and SHA-256.

    Text within the limit comes back as it is, with ``None`` for length and hash.
    """
    if len(text) <= limit:
        return text, None, None
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    note = f"\n…[clipped: showing {limit} of {len(text)} characters; sha256 {digest[:16]}]"
    return text[:limit] + note, len(text), digest


__all__ = ["check_answer", "clip_text", "repair_prompt"]
