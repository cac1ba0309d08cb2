"""`RouterSpec`: the ``router`` section of a workflow file, as data.

The plan layer only holds it; `podium.routing.router_for` turns it into the router of the
workflow's runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RelevanceChoice = Literal["auto", "hybrid", "bm25", "embeddings"]
NoFitChoice = Literal["fail", "ask"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterSpec:
    """How a workflow's tasks are routed (the ``router`` section of a workflow file).

    Attributes:
        relevance: ``"hybrid"`` (BM25 and MiniLM embeddings), ``"bm25"``, ``"embeddings"``, or
            ``"auto"``: hybrid when the ``embeddings`` extra is installed, else BM25.
        min_score: the fit under which no agent fits a task (``None``: the relevance's own
            calibrated threshold; 0: never "no fit").
        on_no_fit: ``"fail"`` a task no agent fits, or ``"ask"`` a person (approval flow).
        tie_break_model: a ``provider:model`` that breaks near-ties (``None``: no tie-break).
        tie_break_margin: relevance gap (0 to 1) under which candidates count as tied.
    """

    relevance: RelevanceChoice = "auto"
    min_score: float | None = None
    on_no_fit: NoFitChoice = "fail"
    tie_break_model: str | None = None
    tie_break_margin: float = 0.25


__all__ = ["NoFitChoice", "RelevanceChoice", "RouterSpec"]
