"""The checks of `workflow.yaml`: every drafted claim against the passage it cites, and the report.

A claim is kept only when each of its sentences is grounded in its passage (most of its content
words are the passage's) and every number in it is one the passage gives. Otherwise it is
rejected, and the report quotes the passage instead, so every sentence of the report is backed
by the source it cites. The small local model often writes a fluent sentence with invented
figures; these checks are what make its output safe to keep.
"""

from __future__ import annotations

import re
from typing import Any

from podium import TaskCall

MIN_GROUNDING = 0.7
"""Share of a sentence's content words that must appear in the cited passage. Strict on
purpose: a rejected claim costs little (the passage is quoted instead), a kept one that adds
what the passage does not say would carry a false citation."""
STOP = frozenset(
    {"the", "and", "for", "are", "was", "were", "with", "that", "this", "from", "into", "over",
     "what", "which", "when", "where", "does", "how", "why", "who", "its", "their", "there",
     "than", "then", "them", "they", "have", "has", "had", "been", "being", "about", "most",
     "more", "such"}
)  # fmt: skip
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def words(text: str) -> list[str]:
    """The content words of `text`: lower case, three letters or more, no stop words."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in STOP]


def grounding(claim: str, source: str) -> float:
    """Share of the claim's content words that appear in its source passage."""
    claimed = set(words(claim))
    return len(claimed & set(words(source))) / len(claimed) if claimed else 0.0


def sentences(text: str) -> list[str]:
    """`text` cut after each ``.``, ``!`` or ``?`` that a space or the end follows."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def check_claim(claim: str, source: str) -> tuple[float, str | None]:
    """The claim's lowest sentence grounding, and why it is rejected (``None``: kept)."""
    said = sentences(claim)
    if not said:
        return 0.0, "empty claim"
    score = min(grounding(s, source) for s in said)
    invented = sorted(set(_NUMBER.findall(claim)) - set(_NUMBER.findall(source)))
    if score < MIN_GROUNDING:
        return score, f"a sentence is not grounded in its source ({score:.2f} < {MIN_GROUNDING})"
    if invented:
        return score, f"numbers not in its source: {', '.join(invented)}"
    return score, None


def claim_text(draft: Any) -> str:
    """The claim of a draft: ``{"claim": ...}`` (a failed optional draft is ``None``)."""
    if isinstance(draft, dict):
        return str(draft.get("claim") or "")
    return "" if draft is None else str(draft)


def review_claims(call: TaskCall) -> dict[str, Any]:
    """Check every drafted claim against the passage it was drafted from (and cites)."""
    passages = call.task_outputs["gather"]
    drafts = call.task_outputs["draft"] or []
    verdicts = []
    for passage, draft in zip(passages, drafts, strict=True):
        claim = " ".join(claim_text(draft).split())  # one line: the report is Markdown
        score, problem = check_claim(claim, passage["text"])
        verdict = {"source": passage["id"], "claim": claim, "grounding": round(score, 2)}
        verdicts.append({**verdict, "verified": problem is None, "problem": problem})
    call.context.write(
        "review",
        verdicts,
        sources=[p["id"] for p in passages],
        confidence=sum(v["verified"] for v in verdicts) / max(1, len(verdicts)),
    )
    return {"claims": verdicts, "all_verified": all(v["verified"] for v in verdicts)}


def cite(statement: str, source: str) -> str:
    """Every sentence of `statement` followed by its citation."""
    return " ".join(f"{s} [{source}]" for s in sentences(statement))


def summary(drafted: int, rejected: int) -> str:
    """The review's line at the end of the report."""
    line = f"Review: {drafted - rejected} of {drafted} drafted claims are supported by the passage"
    if rejected == 0:
        return f"{line} they cite."
    quoted = "its passage is" if rejected == 1 else "their passages are"
    return f"{line} they cite; {rejected} rejected, {quoted} quoted instead."


def assemble_report(call: TaskCall) -> str:
    """The report: one bullet per passage, every sentence citing its source id, then the
    sources and what the review found."""
    question = " ".join(str(call.run_inputs.get("question") or "Report").split())
    passages = {p["id"]: p for p in call.task_outputs["gather"]}
    claims = call.task_outputs["review"]["claims"]
    if not claims:
        return f"# {question}\n\nNo passage of the sources matches the question."
    bullets, refs = [], []
    for verdict in claims:
        source = passages[verdict["source"]]
        if verdict["verified"]:
            statement = verdict["claim"]
        else:  # rejected: the passage's own first sentence, quoted, stands in for the draft
            quoted = (sentences(source["text"]) or ["(an empty passage)"])[0]
            quoted = " ".join(quoted.split())
            statement = f'"{quoted}"' if quoted[-1] in ".!?" else f'"{quoted}."'
        bullets.append(f"- {cite(statement, source['id'])}")
        refs.append(f"- [{source['id']}] {source['title']} ({source['kind']})")
    review = summary(len(claims), sum(not v["verified"] for v in claims))
    return "\n".join([f"# {question}", "", *bullets, "", "Sources:", *refs, "", review])
