"""Guardrails outside the model: approval rules, approvals as a run records them, the
provenance gate that keeps untrusted content from choosing side effects, and the guardrails
over what goes into and comes out of attempts, model calls and tool calls."""

from podium.policy._approval import (
    Approval,
    ApprovalBook,
    ApprovalNeeded,
    ApprovalRequest,
)
from podium.policy._gate import PolicyBlocked, ProvenanceGate
from podium.policy._guardrail_rules import Allow, Deny, MaxSize, Schema
from podium.policy._guardrails import (
    Guardrail,
    GuardrailBlocked,
    Subject,
    ToolCallBlocked,
    Verdict,
)
from podium.policy._pii import PII
from podium.policy._policy import RISKS, Policy, ResultReview, ReviewRule
from podium.policy._provenance import Provenance, UntrustedRules

__all__ = [
    "PII",
    "RISKS",
    "Allow",
    "Approval",
    "ApprovalBook",
    "ApprovalNeeded",
    "ApprovalRequest",
    "Deny",
    "Guardrail",
    "GuardrailBlocked",
    "MaxSize",
    "Policy",
    "PolicyBlocked",
    "Provenance",
    "ProvenanceGate",
    "ResultReview",
    "ReviewRule",
    "Schema",
    "Subject",
    "ToolCallBlocked",
    "UntrustedRules",
    "Verdict",
]
