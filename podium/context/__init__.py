"""The shared context: a versioned blackboard with scoped views, budgets and drift."""

from podium.context._blackboard import (
    Blackboard,
    ContextPolicy,
    ContextView,
    Denial,
    Entry,
    KeyScope,
    MergePolicy,
    PendingWrite,
    Reducer,
)
from podium.context._budget import DEFAULT_CONTEXT_TOKENS, estimate_tokens
from podium.context._drift import DriftAction
from podium.context._summarise import extract

__all__ = [
    "DEFAULT_CONTEXT_TOKENS",
    "Blackboard",
    "ContextPolicy",
    "ContextView",
    "Denial",
    "DriftAction",
    "Entry",
    "KeyScope",
    "MergePolicy",
    "PendingWrite",
    "Reducer",
    "estimate_tokens",
    "extract",
]
