"""Python agents of the sales workflow, up to the emails: the CRM copy, lead research and
scoring, the checks of what the model wrote (with their template fallbacks), and follow-ups.

The model writes two things here, a one-sentence summary per picked lead and an outreach draft;
both are checked by code and replaced when they fail the check.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from sales_data import (
    PLACEHOLDER,
    as_of,
    context,
    crm_path,
    grounding,
    names_company,
    notes_search,
    place,
    prepare_crm,
    query,
    sentences,
    text_field,
    words,
)

from podium import TaskCall

Json = Any
MAX_LEADS = 50


def prepare(call: TaskCall) -> dict[str, Json]:
    """Check the inputs and build the CRM's working copy from the seed (once)."""
    as_of(call)
    for name, low, high in (("top_n", 1, MAX_LEADS), ("follow_up_days", 1, 365)):
        value = call.run_inputs[name]
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name}: give a whole number from {low} to {high}")
    built = prepare_crm(crm_path(call))
    return {"crm": str(crm_path(call)), "built_from_seed": built}


# -- research: score every lead's notes against the product --------------------------------------


async def research(call: TaskCall) -> dict[str, Json]:
    """Score each lead by how well its notes match the product (the summed BM25 relevance of
    its passages to the pitch, from the ``documents`` search), and pick the best new leads."""
    leads = await query(call, "SELECT id, company, contact, email, note, status FROM leads")
    store = place(call, "data") / "notes.db"
    search = notes_search(place(call, "notes"), store)
    found = await search.call(
        {"query": str(call.run_inputs["pitch"]), "k": 100}, context(call, "notes")
    )
    by_note: dict[str, list[dict[str, Json]]] = defaultdict(list)
    for passage in found["passages"]:
        by_note[passage["path"]].append(passage)
    scored = []
    for lead in leads:
        passages = sorted(by_note.get(lead["note"], []), key=lambda p: -p["bm25"])
        fit = round(sum(p["bm25"] for p in passages), 1)
        scored.append({**lead, "fit": fit, "passages": passages})
    scored.sort(key=lambda s: (-s["fit"], s["id"]))
    min_fit = float(call.run_inputs["min_fit"])
    eligible = [s for s in scored if s["status"] == "new" and s["fit"] >= min_fit]
    picked = [
        evidence(s, str(call.run_inputs["pitch"])) for s in eligible[: call.run_inputs["top_n"]]
    ]
    return {
        "scores": [{k: s[k] for k in ("id", "company", "status", "fit")} for s in scored],
        "picked": picked,
    }


def evidence(lead: dict[str, Json], pitch: str) -> dict[str, Json]:
    """A picked lead with what the notes say about it: its best "Needs" passage, and from that
    the one sentence that shares most with the pitch (the fact outreach must mention)."""
    passages = lead.pop("passages")
    needs = [p for p in passages if str(p.get("heading", "")).endswith("Needs")] or passages
    if not needs:
        raise ValueError(f"lead {lead['id']}: no notes found for {lead['note']!r}")
    best = needs[0]
    pitch_words = set(words(pitch))
    fact = max(sentences(best["text"]), key=lambda s: len(pitch_words & set(words(s))))
    return {
        **lead,
        "notes": best["text"],
        "fact": fact,
        "fact_source": best["source_id"],
        "sources": [p["source_id"] for p in passages],
    }


# -- the model's summary of each picked lead, checked ---------------------------------------------


def summary_problems(summary: str, lead: dict[str, Json]) -> list[str]:
    """Why a summary may not be used; empty when it names the company and keeps to the notes."""
    found = []
    if len(summary) < 20:
        found.append("too short")
    if not names_company(summary, lead["company"]):
        found.append("does not name the company")
    if grounding(summary, f"{lead['company']} {lead['notes']}") < 0.6:
        found.append("says things the notes do not")
    if PLACEHOLDER.search(summary):
        found.append("has an unfilled placeholder")
    return found


def qualify(call: TaskCall) -> list[dict[str, Json]]:
    """Each picked lead with a checked summary and the notes' source ids it rests on."""
    picked = call.task_outputs["research"]["picked"]
    summaries = call.task_outputs["summarize"] or [None] * len(picked)
    return [qualified(lead, out) for lead, out in zip(picked, summaries, strict=True)]


def qualified(lead: dict[str, Json], output: Json) -> dict[str, Json]:
    # the one sentence asked for: what a small model adds after it is rarely in the notes
    summary = " ".join(sentences(text_field(output, "summary"))[:1])
    wrong = summary_problems(summary, lead)
    if wrong:
        summary = f"{lead['company']}: {lead['fact']}"
    return {
        **lead,
        "summary": summary,
        "summary_by": "template" if wrong else "model",
        "summary_problems": wrong,
        "cites": [lead["fact_source"]],
    }


# -- outreach: the model's draft, checked, or a template ----------------------------------------

GREETING = re.compile(r"^\s*(dear|hi|hello|hey)\b[^\n]*\n+", re.I)
SIGN_OFF = re.compile(r"\n\s*(best|kind|warm|regards|sincerely|thanks|cheers)\b.*$", re.I | re.S)


def outreach_problems(text: str, lead: dict[str, Json], pitch: str) -> list[str]:
    """Why a draft may not be sent: it must name the company and mention the cited fact."""
    found = []
    if not 40 <= len(text) <= 900:
        found.append("too short or too long")
    if not names_company(text, lead["company"]):
        found.append("does not name the company")
    distinctive = set(words(lead["fact"])) - set(words(pitch))
    if len(distinctive & set(words(text))) < 2:
        found.append(f"does not mention the fact from {lead['fact_source']}")
    if PLACEHOLDER.search(text):
        found.append("has an unfilled placeholder")
    if re.search(r"https?://|www\.|@", text):
        found.append("has a link or an address")
    return found


def template_outreach(lead: dict[str, Json], product: str) -> str:
    fact = lead["fact"].rstrip(".")
    first = fact.split()[0]
    if first[1:2].islower() and first != lead["company"].split()[0]:
        fact = fact[0].lower() + fact[1:]  # "Supplier invoices differ" reads on after "that"
    return (
        f"I understand that at {lead['company']}, {fact}. {product} takes that work off your"
        " team's hands. Would a 20-minute call next week suit you to see whether it fits?"
    )


def check_outreach(call: TaskCall) -> list[dict[str, Json]]:
    """The outreach email for each lead: its checked draft, or the template when the draft
    fails the check."""
    leads = call.task_outputs["qualify"]
    drafts = call.task_outputs["draft"] or [None] * len(leads)
    return [outreach(call, lead, d) for lead, d in zip(leads, drafts, strict=True)]


def outreach(call: TaskCall, lead: dict[str, Json], draft: Json) -> dict[str, Json]:
    product, pitch = str(call.run_inputs["product"]), str(call.run_inputs["pitch"])
    text = SIGN_OFF.sub("", GREETING.sub("", text_field(draft, "body"))).strip()
    wrong = outreach_problems(text, lead, pitch)
    if wrong:
        text = template_outreach(lead, product)
    return email(call, lead, "outreach", f"{product} for {lead['company']}", text) | {
        "written_by": "template" if wrong else "model",
        "problems": wrong,
        "cites": lead["cites"],
    }


def email(
    call: TaskCall, lead: dict[str, Json], kind: str, subject: str, text: str
) -> dict[str, Json]:
    first_name = lead["contact"].split()[0]
    signature = str(call.run_inputs["signature"])
    return {
        "lead_id": lead["id"],
        "company": lead["company"],
        "kind": kind,
        "to": lead["email"],
        "subject": subject,
        "body": f"Hi {first_name},\n\n{text}\n\nBest regards,\n{signature}\n",
    }


# -- follow-ups: leads contacted before, with no reply after N days -------------------------------

DUE_SQL = """
SELECT l.id, l.company, l.contact, l.email, MAX(a.happened_on) AS last_touch
FROM leads l JOIN activities a ON a.lead_id = l.id AND a.kind IN ('outreach', 'follow_up')
WHERE l.status = 'contacted'
  AND NOT EXISTS (SELECT 1 FROM activities r WHERE r.lead_id = l.id AND r.kind = 'reply')
GROUP BY l.id, l.company, l.contact, l.email
HAVING MAX(a.happened_on) <= ?
ORDER BY l.id
"""


async def follow_ups(call: TaskCall) -> list[dict[str, Json]]:
    """A follow-up email for each contacted lead that has not replied and was last written to
    `follow_up_days` or more days ago."""
    cutoff = as_of(call) - dt.timedelta(days=call.run_inputs["follow_up_days"])
    due = await query(call, DUE_SQL, [cutoff.isoformat()])
    product = str(call.run_inputs["product"])
    mails = []
    for lead in due:
        text = (
            f"I wrote to you on {lead['last_touch']} about how {product} could help"
            f" {lead['company']} with its supplier invoices. Would a short call this week or"
            " next suit you? If the timing is wrong, just say so and I will not write again."
        )
        subject = f"Following up: {product} for {lead['company']}"
        mail = email(call, lead, "follow_up", subject, text)
        mails.append(mail | {"written_by": "template", "problems": [], "cites": []})
    return mails
