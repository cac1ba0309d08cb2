"""`diagnose`: every detector over one journal; `diagnose_run`: the same, read from a store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from podium.diagnose import _alignment, _circles, _stops
from podium.diagnose._journal import Journal, Similarity, lexical_similarity
from podium.diagnose._model import LABELS, Diagnosis, Finding
from podium.events import AnyEvent
from podium.exceptions import RunNotFound
from podium.store import Store

log = logging.getLogger(__name__)

Detector = Callable[[Journal], Finding | None]


def _detectors(similar: Similarity) -> list[Detector]:
    return [
        _circles.step_repetition,
        _circles.loop,
        _circles.unaware_of_termination,
        partial(_alignment.derailment, similar=similar),
        partial(_alignment.verification, similar=similar),
        _alignment.task_misallocation,
        partial(_alignment.ignored_inputs, similar=similar),
        _stops.budget_exhausted,
        _stops.breaker_open,
        _stops.approval_rejected,
        _stops.timeout,
    ]


def diagnose(events: Sequence[AnyEvent], *, similarity: Similarity | None = None) -> Diagnosis:
    """Label a run's failure modes from its journal.

    Args:
        events: the run's events in journal order (an unfinished run's so far).
        similarity: how related two texts are, 0 to 1, for derailment and ignored inputs
            (default: `lexical_similarity`; an embedding cosine reads paraphrases better).

    Returns:
        The findings, each with its evidence events and a confidence; none for a clean run.
    """
    journal = Journal(events)
    found = [f for d in _detectors(similarity or lexical_similarity) if (f := d(journal))]
    found.sort(key=lambda f: LABELS.index(f.label))
    for f in found:
        f.evidence.sort(key=lambda e: e.seq)
    log.debug("run %s: %d finding(s)", journal.run_id, len(found))
    return Diagnosis(
        run_id=journal.run_id,
        status=journal.status,
        finished=journal.finished,
        events=len(journal.events),
        findings=tuple(found),
    )


async def diagnose_run(
    store: Store, run_id: str, *, similarity: Similarity | None = None
) -> Diagnosis:
    """`diagnose` the run `run_id` of an open `store`.

    Raises:
        RunNotFound: the store has no such run.
    """
    events = await store.load(run_id)
    if not events:
        raise RunNotFound(f"no run {run_id!r} in this store")
    return diagnose(events, similarity=similarity)


__all__ = ["diagnose", "diagnose_run"]
