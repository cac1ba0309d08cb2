"""Guardrails outside the model: approval rules, approvals as a run records them, and the
provenance gate that keeps untrusted content from choosing side effects."""

from podium.policy._approval import (
    Approval,
    ApprovalBook,
    ApprovalNeeded,
    ApprovalRequest,
)
from podium.policy._gate import PolicyBlocked, ProvenanceGate
from podium.policy._policy import RISKS, Policy, ResultReview, ReviewRule
from podium.policy._provenance import Provenance, UntrustedRules

__all__ = [
    "RISKS",
    "Approval",
    "ApprovalBook",
    "ApprovalNeeded",
    "ApprovalRequest",
    "Policy",
    "PolicyBlocked",
    "Provenance",
    "ProvenanceGate",
    "ResultReview",
    "ReviewRule",
    "UntrustedRules",
]
