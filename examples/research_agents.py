"""Python agents of `research_report.yaml`: retrieval, citation review and the final report.

The writing itself is done by a model-driven agent (the bundled local model by default).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from podium import TaskCall

CORPUS = Path(__file__).parent / "corpus"
STOP = frozenset(
    {
        "the",
        "and",
        "for",
        "are",
        "was",
        "were",
        "with",
        "that",
        "this",
        "from",
        "into",
        "over",
        "what",
        "which",
        "when",
        "where",
        "does",
        "how",
        "why",
        "who",
        "its",
        "their",
        "there",
        "than",
        "then",
        "them",
        "they",
        "have",
        "has",
        "had",
        "been",
        "being",
        "about",
        "most",
        "more",
        "such",
    }
)


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in STOP]


def load_passages(root: Path = CORPUS) -> list[dict[str, str]]:
    """Every paragraph of every document, with a stable id such as ``tides#2``."""
    passages = []
    for doc in sorted(root.glob("*.md")):
        lines = doc.read_text(encoding="utf-8").split("\n\n")
        title = lines[0].lstrip("# ").strip()
        for i, para in enumerate(p.strip() for p in lines[1:] if p.strip()):
            passages.append({"id": f"{doc.stem}#{i + 1}", "title": title, "text": para})
    return passages


def search_corpus(call: TaskCall) -> list[dict[str, str]]:
    """BM25 over the paragraphs of the corpus; the best `k` passages for the question."""
    question = str(call.run_inputs.get("question") or call.instruction)
    k = int(call.run_inputs.get("passages", 3))
    passages = load_passages()
    docs = [words(p["title"] + " " + p["text"]) for p in passages]
    avg = sum(map(len, docs)) / max(1, len(docs))
    df = Counter(w for d in docs for w in set(d))
    n = len(docs)
    scores = []
    for p, d in zip(passages, docs, strict=True):
        tf = Counter(d)
        score = 0.0
        for w in set(words(question)):
            if tf[w]:
                idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
                score += idf * tf[w] * 2.2 / (tf[w] + 1.2 * (0.25 + 0.75 * len(d) / avg))
        scores.append((score, p))
    ranked = sorted(scores, key=lambda s: -s[0])
    return [p for score, p in ranked[:k] if score > 0] or [p for _, p in ranked[:1]]


def grounding(claim: str, source: str) -> float:
    """Share of the claim's content words that appear in its source passage."""
    claimed = set(words(claim))
    return len(claimed & set(words(source))) / len(claimed) if claimed else 0.0


def review_citations(call: TaskCall) -> dict[str, Any]:
    """Check that every claim cites a retrieved passage and is grounded in it."""
    passages = call.task_outputs["retrieve"]
    drafts = call.task_outputs["draft"]
    verdicts = []
    for passage, draft in zip(passages, drafts, strict=True):
        claim = str(draft.get("claim", "")) if isinstance(draft, dict) else str(draft)
        score = grounding(claim, passage["text"])
        ok = bool(claim.strip()) and score >= 0.5
        verdicts.append(
            {"source": passage["id"], "claim": claim, "grounding": round(score, 2), "verified": ok}
        )
    call.context.write(
        "review",
        verdicts,
        sources=[p["id"] for p in passages],
        confidence=sum(v["verified"] for v in verdicts) / max(1, len(verdicts)),
    )
    return {"claims": verdicts, "all_verified": all(v["verified"] for v in verdicts)}


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]


def assemble_report(call: TaskCall) -> str:
    """A short report whose every statement cites its source passage."""
    question = str(call.run_inputs.get("question", "Report"))
    passages = {p["id"]: p for p in call.task_outputs["retrieve"]}
    lines = [f"# {question}", ""]
    refs = []
    for n, verdict in enumerate(call.task_outputs["review"]["claims"], start=1):
        source = passages[verdict["source"]]
        if verdict["verified"]:
            statement = verdict["claim"].strip()
        else:  # the draft was not grounded: quote the source instead of repeating the draft
            statement = f'"{first_sentence(source["text"])}"'
        lines.append(f"- {statement} [{n}]")
        refs.append(f"[{n}] {source['title']}, {source['id']}")
    claims = call.task_outputs["review"]["claims"]
    rejected = sum(not v["verified"] for v in claims)
    check = (
        f"Review: {len(claims) - rejected} of {len(claims)} drafted claims are grounded in "
        "their sources"
        + (f"; {rejected} were not and are quoted from the source instead." if rejected else ".")
    )
    return "\n".join([*lines, "", "Sources:", *refs, "", check])
