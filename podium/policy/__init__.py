"""Guardrails outside the model: approval rules, and approvals as a run records them."""

from podium.policy._approval import (
    Approval,
    ApprovalBook,
    ApprovalNeeded,
    ApprovalRequest,
)
from podium.policy._policy import RISKS, Policy, ResultReview, ReviewRule

__all__ = [
    "RISKS",
    "Approval",
    "ApprovalBook",
    "ApprovalNeeded",
    "ApprovalRequest",
    "Policy",
    "ResultReview",
    "ReviewRule",
]
