"""The recruiting example's last step: who was screened, shortlisted, contacted, scheduled."""

from __future__ import annotations

from typing import Any

from podium import TaskCall

JSON = Any


def _score(value: JSON) -> str:
    return "-" if value is None else f"{value:g}"


def _screened(ranked: list[dict[str, JSON]], shortlisted: set[str]) -> list[str]:
    lines = []
    scores = {c["model_score"] for c in ranked}
    if len(ranked) > 1 and len(scores) == 1:
        given = _score(scores.pop())
        lines += [
            f"The screener gave every candidate the same score ({given}): the skills match"
            " alone decided the order.",
            "",
        ]
    lines += [
        "| # | candidate | title | skills 0-10 | model 0-10 | combined | shortlisted |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, c in enumerate(ranked, start=1):
        mark = "yes" if c["id"] in shortlisted else ""
        lines.append(
            f"| {n} | {c['name']} ({c['id']}) | {c['title']} | {_score(c['skills_score'])}"
            f" | {_score(c['model_score'])} | {_score(c['score'])} | {mark} |"
        )
    return lines


def _contacted(sent: JSON, names: dict[str, str]) -> list[str]:
    if not isinstance(sent, dict):
        return ["Nobody was contacted: the outreach was not approved (or failed)."]
    if not sent["messages"]:
        return ["Nobody was contacted: nobody was shortlisted."]
    lines = []
    for m in sent["messages"]:
        lines.append(f"- {names[m['candidate_id']]} <{m['to']}>: drafted by the {m['drafted_by']}")
    again = sent.get("already_sent", 0)
    if again:
        lines.append(f"({again} of these had been sent before this attempt; not sent twice.)")
    return lines


def _scheduled(bookings: JSON, names: dict[str, str]) -> list[str]:
    if not bookings:
        return ["No interviews were scheduled."]
    lines = []
    for b in bookings:
        who = names[b["candidate_id"]]
        if b["slot"] is None:
            lines.append(f"- {who}: no free slot left in the calendar")
        else:
            note = "" if b["new"] else " (booked earlier)"
            lines.append(f"- {who}: {b['slot']} with {b['interviewer']}{note}")
    return lines


def report(call: TaskCall) -> str:
    """A short Markdown report of the run's pipeline."""
    ranking = call.task_outputs["rank"]
    ranked, shortlist = ranking["screened"], ranking["shortlist"]
    names = {c["id"]: c["name"] for c in ranked}
    pool = call.task_outputs["prepare"]["candidates"]
    role = shortlist[0]["role"] if shortlist else "the role"
    sent, bookings = call.task_outputs["outreach"], call.task_outputs["schedule"]
    contacted = len(sent["messages"]) if isinstance(sent, dict) else 0
    scheduled = sum(1 for b in bookings or [] if b["slot"] is not None)
    return "\n".join(
        [
            f"# Recruiting: {role}",
            "",
            f"Pool {pool} · screened {len(ranked)} · shortlisted {len(shortlist)}"
            f" · contacted {contacted} · scheduled {scheduled}",
            "",
            "## Screened (combined: 70% skills match, 30% model score)",
            "",
            *_screened(ranked, {c["id"] for c in shortlist}),
            "",
            "## Contacted",
            "",
            *_contacted(sent, names),
            "",
            "## Scheduled",
            "",
            *_scheduled(bookings, names),
        ]
    )
