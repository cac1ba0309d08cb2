"""`ScoringRouter`: hard filters, then a score; the default router.

For a task with a fixed `agent`, that agent. Otherwise:

1. Hard filters. Candidates are the agents with the task's capability (every agent when it names
   none: then those sharing no word with the task are dropped, if any agent shares one). The
   `is_available` hook drops agents that cannot take work now (an open breaker, say), and the
   `budget_left` hook drops agents whose expected cost is more than what is left.
2. Score, for each candidate::

       relevance * w.relevance + success * w.success - cost * w.cost - latency * w.latency

   - relevance: how well its description and capabilities fit the instruction (`Relevance`,
     BM25 by default), 0 to 1;
   - success: its learned success on this kind of task (`OutcomeBook`): a Thompson sample of the
     Beta posterior (``explore="thompson"``, the default), an upper bound (``"ucb"``) or the mean
     (``"mean"``, no exploration);
   - cost and latency: expected per task, divided by the largest among the candidates (or by
     `cost_floor_usd` / `latency_floor_s` when all are below those, so that differences too small
     to matter do not sway the choice); an unknown one counts as the candidates' average.
3. No fit. A task goes to no agent when the best candidate's fit is under `min_score` (a
   relevance that measures fit, such as `HybridRelevance`, brings its own calibrated threshold;
   candidates with neither description nor examples are not judged): the router returns a
   `NoFit`, and the task fails or waits for a person (``on_no_fit``) instead of going to a guess.
4. The best-scoring candidate with room wins. In cost-aware mode, the cheapest candidate whose
   expected success is within `margin` of the best wins instead (ties go to the higher score);
   expected success there is success plus relevance (in success units, by the weights' ratio),
   since an agent whose description fits the task is the likelier to succeed at it. A
   configured `tie_breaker` may pick among candidates nearly tied in relevance.

Thompson sampling draws from an injected `random.Random` (seeded by default), so a test that
routes the same tasks in the same order gets the same decisions. Every decision carries each
candidate's components and a reason, which the scheduler journals in `TaskAssigned`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from podium.agents import Agent
from podium.agents._relevance import BM25Relevance
from podium.exceptions import ConfigError
from podium.plan import Task
from podium.routing._kind import task_kind
from podium.routing._learning import Estimate, OutcomeBook
from podium.routing._nofit import break_tie, measure, method_note, no_fit, threshold, with_details
from podium.routing._router import Decision, NoFit, Relevance
from podium.routing._scored import Scored, components, cost_rank, imputed, money
from podium.routing._tiebreak import TieBreaker
from podium.store import Outcome, OutcomeStats, Store

JSON = Any
Explore = Literal["thompson", "ucb", "mean"]
NoFitAction = Literal["fail", "ask"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterWeights:
    """How much each component of a candidate's score counts (see `ScoringRouter`).

    Success and relevance lead; cost and latency break near-ties by default (the most
    expensive candidate gives up at most 0.1 of success). For cost first, raise `cost`, or use
    the router's cost-aware mode.
    """

    relevance: float = 1.0
    success: float = 1.0
    cost: float = 0.1
    latency: float = 0.05

    def __post_init__(self) -> None:
        for name in ("relevance", "success", "cost", "latency"):
            if getattr(self, name) < 0:
                raise ConfigError(f"RouterWeights.{name} must not be negative")


class ScoringRouter:
    """Routes by relevance, learned success, cost and latency, and learns from outcomes.

    Args:
        weights: how much each score component counts.
        relevance: scores agents' fit to a task's text (default: `BM25Relevance`).
        explore: ``"thompson"`` (sample the success posterior), ``"ucb"`` (mean plus
            `ucb_width` standard deviations) or ``"mean"`` (no exploration).
        rng: the random source of Thompson sampling (default: ``random.Random(0)``).
        cost_aware: choose the cheapest candidate whose expected success is within `margin` of
            the best (see `_close_to_best`).
        margin: see `cost_aware`.
        cost_floor_usd, latency_floor_s: costs and latencies below these hardly count.
        ucb_width: see `explore`.
        is_available: ``False`` drops an agent before scoring (a breaker that is open, …).
        budget_left: dollars the caller may still spend (``None``: no limit); agents expected to
            cost more are dropped. A task whose every candidate is dropped waits, as when they
            are all busy.
        book: the outcome statistics to start from (`prepare` replaces them from a store).
        refresh_s: `prepare` reloads from the store at most this often (0: before every run);
            in between, the router knows the outcomes it observed itself.
        clock: the monotonic clock `refresh_s` is measured on.
        min_score: a task goes to no agent (a `NoFit`) when the best candidate's fit is under
            this (default: the relevance's own calibrated threshold, if it has one, as
            `HybridRelevance` does; 0 never says "no fit").
        on_no_fit: ``"fail"`` the task, or ``"ask"`` a person (the approval flow).
        tie_breaker: picks among candidates nearly tied in relevance (a `ModelTieBreaker`).
    """

    def __init__(
        self,
        *,
        weights: RouterWeights | None = None,
        relevance: Relevance | None = None,
        explore: Explore = "thompson",
        rng: random.Random | None = None,
        cost_aware: bool = False,
        margin: float = 0.05,
        cost_floor_usd: float = 0.001,
        latency_floor_s: float = 1.0,
        ucb_width: float = 1.0,
        is_available: Callable[[Agent], bool] | None = None,
        budget_left: Callable[[], float | None] | None = None,
        book: OutcomeBook | None = None,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        min_score: float | None = None,
        on_no_fit: NoFitAction = "fail",
        tie_breaker: TieBreaker | None = None,
    ) -> None:
        if explore not in ("thompson", "ucb", "mean"):
            raise ConfigError(f"explore must be 'thompson', 'ucb' or 'mean', not {explore!r}")
        if margin < 0:
            raise ConfigError("ScoringRouter margin must not be negative")
        if on_no_fit not in ("fail", "ask"):
            raise ConfigError(f"on_no_fit must be 'fail' or 'ask', not {on_no_fit!r}")
        if min_score is not None and not 0 <= min_score <= 10:
            raise ConfigError(f"min_score must be between 0 and 10, not {min_score!r}")
        self.weights = weights or RouterWeights()
        self.relevance: Relevance = relevance or BM25Relevance()
        self.explore = explore
        self.rng = rng or random.Random(0)
        self.cost_aware = cost_aware
        self.margin = margin
        self.cost_floor_usd = cost_floor_usd
        self.latency_floor_s = latency_floor_s
        self.ucb_width = ucb_width
        self.is_available = is_available
        self.budget_left = budget_left
        self.book = book or OutcomeBook()
        self.refresh_s = refresh_s
        self.clock = clock
        self.min_score = min_score
        self.on_no_fit: NoFitAction = on_no_fit
        self.tie_breaker = tie_breaker
        self._loaded_at: float | None = None
        self._unsaved: list[Outcome] = []
        self._lock = asyncio.Lock()

    # -- routing ----------------------------------------------------------------------------

    def route(
        self, task: Task, agents: Mapping[str, Agent], has_room: Callable[[str], bool]
    ) -> Decision | NoFit | None:
        if task.agent is not None:
            if not has_room(task.agent):
                return None
            return Decision(task.agent, "fixed by the task", kind=task_kind(task))
        kind = task_kind(task)
        names = sorted(
            n
            for n, a in agents.items()
            if task.capability is None or task.capability in a.capabilities
        )
        estimates = {n: self.book.estimate(kind, agents[n]) for n in names}
        excluded = self._filter(names, agents, estimates)
        eligible = [n for n in names if n not in excluded]
        # the instruction alone: every candidate has the capability, so its words would only
        # reward shorter descriptions
        measured = measure(self.relevance, task.instruction, agents, eligible)
        fit = measured.scores
        if task.capability is None and any(fit.values()):
            for n in eligible:
                if fit[n] <= 0:
                    excluded[n] = "shares no words with the task"
            eligible = [n for n in eligible if n not in excluded]
        scored = self._score(eligible, estimates, fit, has_room)
        candidates = with_details([c.to_json() for c in scored], measured)
        candidates += [{"agent": n, "excluded": why} for n, why in sorted(excluded.items())]
        limit = threshold(self.relevance, self.min_score)
        ask = self.on_no_fit == "ask"
        unfit = no_fit(measured, limit, candidates, agents, kind=kind, ask=ask)
        if unfit is not None:
            return unfit
        roomy = [c for c in scored if c.has_room]
        if not roomy:
            return None
        winner, reason = self._choose(task, scored, roomy)
        if not self.cost_aware:
            winner, reason = self._tie_break(task, agents, roomy, winner, reason)
        if self.cost_aware:
            close = {c.agent for c in self._close_to_best(roomy)}
            for entry in candidates:
                if "score" in entry:
                    entry["within_margin"] = entry["agent"] in close
        note = method_note(measured, limit, winner.agent)
        return Decision(winner.agent, reason + note, candidates, kind=kind)

    def _tie_break(
        self, task: Task, agents: Mapping[str, Agent], roomy: list[Scored], winner: Scored, why: str
    ) -> tuple[Scored, str]:
        ranked = sorted(roomy, key=lambda c: (-c.relevance, c is not winner))
        chosen, note = break_tie(
            self.tie_breaker, task, agents, [(c.agent, c.relevance) for c in ranked]
        )
        if chosen is None or chosen == winner.agent:
            return winner, why + note
        picked = next(c for c in roomy if c.agent == chosen)
        return picked, f"{why}{note}; chose {chosen!r} over {winner.agent!r}"

    def _filter(
        self, names: Sequence[str], agents: Mapping[str, Agent], estimates: Mapping[str, Estimate]
    ) -> dict[str, str]:
        """The hard filters: agent name → why it cannot take the task."""
        excluded: dict[str, str] = {}
        budget = self.budget_left() if self.budget_left is not None else None
        for n in names:
            cost = estimates[n].cost_usd
            if self.is_available is not None and not self.is_available(agents[n]):
                excluded[n] = "unavailable"
            elif budget is not None and cost is not None and cost > budget:
                excluded[n] = f"expected cost {money(cost)} is over the {money(budget)} left"
        return excluded

    def _success(self, est: Estimate) -> float:
        if self.explore == "thompson":
            return self.rng.betavariate(est.alpha, est.beta)
        if self.explore == "ucb":
            return min(1.0, est.mean + self.ucb_width * est.std)
        return est.mean

    def _score(
        self,
        names: Sequence[str],
        estimates: Mapping[str, Estimate],
        fit: Mapping[str, float],
        has_room: Callable[[str], bool],
    ) -> list[Scored]:
        costs = imputed([estimates[n].cost_usd for n in names])
        latencies = imputed([estimates[n].latency_s for n in names])
        cost_top = max([self.cost_floor_usd, *(c for c in costs if c is not None)])
        latency_top = max([self.latency_floor_s, *(t for t in latencies if t is not None)])
        w = self.weights
        scored = []
        for n, cost, latency in zip(names, costs, latencies, strict=True):
            est = estimates[n]
            success = self._success(est)
            cost_norm = (cost or 0.0) / cost_top if cost_top > 0 else 0.0
            latency_norm = (latency or 0.0) / latency_top if latency_top > 0 else 0.0
            score = (
                w.relevance * fit[n]
                + w.success * success
                - w.cost * cost_norm
                - w.latency * latency_norm
            )
            scored.append(
                Scored(
                    agent=n,
                    estimate=est,
                    relevance=fit[n],
                    success=success,
                    cost_norm=cost_norm,
                    latency_norm=latency_norm,
                    score=score,
                    has_room=has_room(n),
                    imputed_cost=cost,
                )
            )
        return scored

    def _choose(self, task: Task, scored: list[Scored], roomy: list[Scored]) -> tuple[Scored, str]:
        among = f"with capability {task.capability!r}" if task.capability is not None else "of all"
        top = max(scored, key=lambda c: c.score)
        if len(scored) == 1:
            return top, f"the only agent {among}; {components(top)}"
        if self.cost_aware:
            close = self._close_to_best(roomy)
            winner = min(close, key=lambda c: (cost_rank(c), -c.score))
            if len(close) == 1:
                reason = (
                    f"best expected success of {len(scored)} agents {among}, and no other"
                    f" one within {self.margin:g} of it; {components(winner)}"
                )
                return winner, reason
            reason = (
                f"cheapest (expected {money(winner.estimate.cost_usd)}) of {len(close)} of"
                f" {len(scored)} agents {among} whose expected success is within"
                f" {self.margin:g} of the best; {components(winner)}"
            )
            return winner, reason
        winner = max(roomy, key=lambda c: c.score)
        reason = f"best score {winner.score:.3f} of {len(scored)} agents {among}; "
        reason += components(winner)
        rivals = [c for c in roomy if c is not winner]
        if rivals:
            second = max(rivals, key=lambda c: c.score)
            reason += f"; next {second.agent!r} at {second.score:.3f}"
        if top is not winner:
            reason += f"; {top.agent!r} scored {top.score:.3f} but has no room"
        return winner, reason

    def _close_to_best(self, roomy: list[Scored]) -> list[Scored]:
        """The candidates whose expected success is within `margin` of the best one's.

        Expected success counts relevance too, with the weights' ratio: with no history every
        agent has the same prior success, and the one whose description fits the task is the
        more likely to succeed. Among agents that fit equally well, it is success alone.
        """
        w = self.weights

        def quality(c: Scored) -> float:
            return w.relevance * c.relevance + w.success * c.success

        best = max(quality(c) for c in roomy)
        slack = self.margin * (w.success or 1.0)
        return [c for c in roomy if quality(c) >= best - slack - 1e-12]

    # -- learning ---------------------------------------------------------------------------

    async def prepare(self, store: Store) -> None:
        """Reload outcome statistics from `store` (unless loaded less than `refresh_s` ago)."""
        now = self.clock()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_s:
            return
        async with self._lock:
            stats = await store.outcome_stats()
            self.book.load(stats)
            for outcome in self._unsaved:  # observed in runs still going: not in the store yet
                self.book.add(outcome)
            self._loaded_at = now

    def observe(self, outcome: Outcome) -> None:
        self.book.add(outcome)
        self._unsaved.append(outcome)

    async def save(self, store: Store, outcomes: Sequence[Outcome | OutcomeStats]) -> None:
        if not outcomes:
            return
        async with self._lock:
            await store.record_outcomes(outcomes)
            saved = {id(o) for o in outcomes}
            self._unsaved = [o for o in self._unsaved if id(o) not in saved]


__all__ = ["Explore", "NoFitAction", "RouterWeights", "Scored", "ScoringRouter"]
