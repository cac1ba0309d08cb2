"""Misalignment: outputs off the instruction, inputs ignored, checks that rejected or missed a
bad output, and agents corrected after the fact (MAST FM-2.3, FM-2.5, FM-3.2/3.3, FM-1.2)."""

from __future__ import annotations

from podium.diagnose._journal import Journal, Similarity, TaskView, flatten, words
from podium.diagnose._model import Evidence, Finding
from podium.events import (
    Handoff,
    OutputRejected,
    PlanRevised,
    RunForked,
    TaskAssigned,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
)

MIN_WORDS = 3
"""Content words a text needs before its relevance is judged: "ok" says nothing either way."""
UNRELATED = 0.05
"""Similarity at or below which two texts are taken to be about different things."""
CHECK_ERRORS = frozenset(
    {"output_invalid", "output_not_json", "grounding", "relevance", "language", "judge", "check"}
    | {"schema", "rule"}
)
"""`ErrorInfo.type` words of outputs a check rejected (every `OutputRejected` counts too)."""


def _check_of(ev: OutputRejected | TaskFailed) -> str:
    """The check that rejected an output, where the event names it, else the error's type."""
    return str(getattr(ev, "check", "") or ev.error.type)


def _judgeable(value: object) -> bool:
    return len(words(value)) >= MIN_WORDS


def derailed_tasks(j: Journal, similar: Similarity) -> list[tuple[TaskView, TaskSucceeded, float]]:
    """Succeeded tasks whose output is unrelated to their instruction, with the similarity."""
    found = []
    for t in j.tasks.values():
        done = t.succeeded
        if done is None or done.copied_from or len(words(t.instruction)) < 2:
            continue
        if not _judgeable(done.output):
            continue
        score = similar(t.instruction, flatten(done.output))
        if score <= UNRELATED:
            found.append((t, done, score))
    return found


def derailment(j: Journal, similar: Similarity) -> Finding | None:
    """Outputs about something else than their instruction, and relevance checks that failed."""
    evidence: list[Evidence] = []
    for t, done, score in derailed_tasks(j, similar):
        note = f"output unrelated to {t.instruction[:80]!r} (similarity {score:.2f})"
        evidence.append(Evidence(done.seq, "TaskSucceeded", note, t.id))
    for ev in j.of(OutputRejected, TaskFailed):
        if "relevance" in (ev.error.type, _check_of(ev)):
            evidence.append(Evidence(ev.seq, type(ev).__name__, ev.error.message, ev.task))
    if not evidence:
        return None
    return Finding("derailment", 0.6, "output off the instruction", evidence)


def ignored_inputs(j: Journal, similar: Similarity) -> Finding | None:
    """A task whose output shares nothing with the outputs of the tasks it needed."""
    evidence: list[Evidence] = []
    for t in j.tasks.values():
        done = t.succeeded
        if done is None or done.copied_from or not t.needs or not _judgeable(done.output):
            continue
        given = [j.tasks[n].succeeded for n in t.needs if n in j.tasks]
        upstream = " ".join(flatten(g.output) for g in given if g is not None)
        if not _judgeable(upstream):
            continue
        score = similar(upstream, flatten(done.output))
        if score <= UNRELATED:
            note = f"output shares nothing with {', '.join(t.needs)} (similarity {score:.2f})"
            evidence.append(Evidence(done.seq, "TaskSucceeded", note, t.id))
    if not evidence:
        return None
    return Finding("ignored_inputs", 0.6, "outputs that did not use their inputs", evidence)


def verification(j: Journal, similar: Similarity) -> Finding | None:
    """Outputs a check rejected; and unchecked outputs, empty or off the instruction, that a
    later task used anyway."""
    evidence: list[Evidence] = []
    for ev in j.of(OutputRejected, TaskFailed):
        if isinstance(ev, OutputRejected) or ev.error.type in CHECK_ERRORS:
            note = f"check failed ({_check_of(ev)}): {ev.error.message[:120]}"
            evidence.append(Evidence(ev.seq, type(ev).__name__, note, ev.task))
    failed_checks = len(evidence)
    suspect = {t.id for t, _, _ in derailed_tasks(j, similar)}
    for t in j.tasks.values():
        done = t.succeeded
        if done is None or t.checked:
            continue
        empty = not flatten(done.output).strip()
        users = j.used_by(t.id)
        if users and (empty or t.id in suspect):
            why = "empty" if empty else "off its instruction"
            note = f"unchecked {why} output used by {', '.join(u.id for u in users)}"
            evidence.append(Evidence(done.seq, "TaskSucceeded", note, t.id))
    if not evidence:
        return None
    confidence = 0.9 if failed_checks else 0.5
    summary = f"{failed_checks} check failure(s), {len(evidence) - failed_checks} missed"
    return Finding("verification", confidence, summary, evidence)


def task_misallocation(j: Journal) -> Finding | None:
    """A later correction of who does a task: a backup, a handoff that finished the task, a
    fork onto another agent, or a re-plan."""
    evidence: list[Evidence] = []
    first: dict[str, str] = {}
    for ev in j.of(TaskAssigned, TaskStarted):
        if ev.task not in first:
            first[ev.task] = ev.agent
        elif isinstance(ev, TaskAssigned) and ev.agent != first[ev.task]:
            note = f"reassigned {first[ev.task]!r} → {ev.agent!r}: {ev.reason[:100]}"
            evidence.append(Evidence(ev.seq, "TaskAssigned", note, ev.task))
    for h in j.of(Handoff):
        done = j.task(h.task).succeeded
        routed = first.get(h.task)
        if done is not None and done.agent not in (None, routed) and h.from_agent == routed:
            note = f"{h.from_agent!r} handed the task to {h.to_agent!r}, {done.agent!r} finished"
            evidence.append(Evidence(h.seq, "Handoff", note, h.task))
    for fork in j.of(RunForked):
        if "agent" in fork.changes:
            note = f"forked from {fork.parent} with agent {fork.changes['agent']!r}"
            evidence.append(Evidence(fork.seq, "RunForked", note, fork.task))
    for revised in j.of(PlanRevised):
        note = f"re-planned {', '.join(revised.replaced)}"
        evidence.append(Evidence(revised.seq, "PlanRevised", note))
    if not evidence:
        return None
    return Finding("task_misallocation", 0.7, "a task's agent was corrected later", evidence)


__all__ = ["derailment", "ignored_inputs", "task_misallocation", "verification"]
