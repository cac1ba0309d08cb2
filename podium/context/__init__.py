"""The shared context: a versioned blackboard with scoped views."""

from podium.context._blackboard import (
    Blackboard,
    ContextPolicy,
    ContextView,
    Entry,
    MergePolicy,
    PendingWrite,
    Reducer,
)

__all__ = [
    "Blackboard",
    "ContextPolicy",
    "ContextView",
    "Entry",
    "MergePolicy",
    "PendingWrite",
    "Reducer",
]
