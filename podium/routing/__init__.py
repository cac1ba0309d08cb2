"""Routing: choosing the agent for each task, and learning from how tasks went."""

from podium.agents._relevance import BM25Index, BM25Relevance, tokenize
from podium.routing._embeddings import EmbeddingRelevance
from podium.routing._kind import instruction_signature, task_kind
from podium.routing._learning import COST_TIERS, Estimate, OutcomeBook
from podium.routing._router import CapabilityRouter, Decision, LearningRouter, Relevance, Router
from podium.routing._scoring import RouterWeights, Scored, ScoringRouter

__all__ = [
    "COST_TIERS",
    "BM25Index",
    "BM25Relevance",
    "CapabilityRouter",
    "Decision",
    "EmbeddingRelevance",
    "Estimate",
    "LearningRouter",
    "OutcomeBook",
    "Relevance",
    "Router",
    "RouterWeights",
    "Scored",
    "ScoringRouter",
    "instruction_signature",
    "task_kind",
    "tokenize",
]
