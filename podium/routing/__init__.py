"""Routing: choosing the agent for each task, and learning from how tasks went."""

from podium.agents._relevance import BM25Index, BM25Relevance, tokenize
from podium.routing._embeddings import EmbeddingRelevance
from podium.routing._hybrid import Assessment, Assessor, HybridRelevance, default_mode
from podium.routing._kind import instruction_signature, task_kind
from podium.routing._learning import COST_TIERS, Estimate, OutcomeBook
from podium.routing._router import (
    CapabilityRouter,
    Decision,
    LearningRouter,
    NoFit,
    Relevance,
    Router,
)
from podium.routing._scoring import RouterWeights, Scored, ScoringRouter
from podium.routing._spec import router_for
from podium.routing._tiebreak import ModelTieBreaker, TieBreaker

__all__ = [
    "COST_TIERS",
    "Assessment",
    "Assessor",
    "BM25Index",
    "BM25Relevance",
    "CapabilityRouter",
    "Decision",
    "EmbeddingRelevance",
    "Estimate",
    "HybridRelevance",
    "LearningRouter",
    "ModelTieBreaker",
    "NoFit",
    "OutcomeBook",
    "Relevance",
    "Router",
    "RouterWeights",
    "Scored",
    "ScoringRouter",
    "TieBreaker",
    "default_mode",
    "instruction_signature",
    "router_for",
    "task_kind",
    "tokenize",
]
