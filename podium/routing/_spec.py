"""A workflow's ``router`` section (`RouterSpec`) → the router of its runs."""

from __future__ import annotations

import copy
import logging
import weakref

from podium.plan._router_spec import RouterSpec
from podium.routing._hybrid import HybridRelevance, Mode, default_mode
from podium.routing._router import Router
from podium.routing._scoring import ScoringRouter
from podium.routing._tiebreak import ModelTieBreaker

log = logging.getLogger(__name__)

# per base router, the routers derived from it by spec: a workflow run again reuses its
# router, and with it the loaded model and the vectors it has cached
_derived: weakref.WeakKeyDictionary[ScoringRouter, dict[RouterSpec, ScoringRouter]] = (
    weakref.WeakKeyDictionary()
)


def relevance_for(spec: RouterSpec) -> tuple[HybridRelevance, str]:
    """The relevance a spec asks for, and a note on how ``auto`` was resolved."""
    note = ""
    mode: Mode
    if spec.relevance == "auto":
        mode, note = default_mode()
    else:
        mode = spec.relevance
    return HybridRelevance(mode, min_score=spec.min_score), note


def router_for(spec: RouterSpec | None, base: Router) -> Router:
    """The router for a workflow's runs: `base` itself without a spec, else a `ScoringRouter`
    configured by it that shares `base`'s learned outcomes (when `base` is a `ScoringRouter`).

    Raises:
        ConfigError: the tie-break model cannot be resolved.
    """
    if spec is None:
        return base
    if not isinstance(base, ScoringRouter):
        log.info("the workflow's router section replaces the orchestrator's %s", type(base))
        base = ScoringRouter(explore="mean")
    known = _derived.setdefault(base, {})
    hit = known.get(spec)
    if hit is not None:
        return hit
    router = copy.copy(base)  # shares the outcome book: `base` keeps learning for both
    router.relevance, note = relevance_for(spec)
    if note:
        log.info("routing relevance: %s", note)
    router.min_score = spec.min_score
    router.on_no_fit = spec.on_no_fit
    if spec.tie_break_model is not None:
        router.tie_breaker = ModelTieBreaker(spec.tie_break_model, margin=spec.tie_break_margin)
    known[spec] = router
    return router


__all__ = ["relevance_for", "router_for"]
