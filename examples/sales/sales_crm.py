"""Python agents of the sales workflow, from the emails on: sending (after a person approved
the exact batch), recording the activities in the CRM, and the weekly summary."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sales_data import (
    HERE,
    PLACEHOLDER,
    as_of,
    context,
    crm_path,
    crm_writer,
    grounding,
    query,
    sentences,
    text_field,
)

from podium import TaskCall
from podium.exceptions import ToolError
from podium.policy import ApprovalNeeded, ApprovalRequest
from podium.tools import action_hash
from podium.tools.email import send_email_tool

Json = Any


# -- sending, once a person approved these exact emails -------------------------------------------


def mail_settings(call: TaskCall) -> dict[str, Json]:
    """The ``send_email`` options from the run input `mail`; relative paths are in this folder."""
    settings = dict(call.run_inputs["mail"])
    for key in ("outbox", "sent_log"):
        if settings.get(key):
            settings[key] = str(HERE / str(settings[key]))
    return settings


async def send(call: TaskCall) -> list[dict[str, Json]]:
    """Send the outreach and follow-up emails with ``send_email`` (effect ``irreversible``).

    The whole batch waits for one approval, bound to the hash of every email's recipient,
    subject and body: a changed email asks again. Each email is sent once, ever, under its
    own idempotency key, so a resumed or retried task does not send it twice.
    """
    mails = [*call.task_outputs["outreach"], *call.task_outputs["follow_ups"]]
    if not mails:
        return []
    tool = send_email_tool(**mail_settings(call))
    calls = [{"to": [m["to"]], "subject": m["subject"], "body": m["body"]} for m in mails]
    digest = action_hash(tool.name, {"emails": calls})
    if digest not in call.approved:
        kinds = [m["kind"] for m in mails]
        raise ApprovalNeeded(
            ApprovalRequest(
                action="tool",
                action_hash=digest,
                reason=(
                    f"{tool.name!r} is irreversible: {kinds.count('outreach')} outreach and"
                    f" {kinds.count('follow_up')} follow-up emails to"
                    f" {', '.join(m['company'] for m in mails)}"
                ),
                tool=tool.name,
                arguments={"emails": calls},
            )
        )
    sent = []
    for mail, arguments in zip(mails, calls, strict=True):
        ctx = context(call, f"send_email/{mail['lead_id']}/{mail['kind']}")
        try:
            result = await tool.call(arguments, ctx)
        except ToolError as exc:  # one failed email does not stop the others: the report says
            sent.append({**mail, "sent": False, "error": str(exc)})
            continue
        sent.append({**mail, "sent": True, "message_id": result["message_id"]})
    return sent


# -- the CRM update: one activity per email sent -------------------------------------------------

ACTIVITY_SQL = (
    "INSERT INTO activities (lead_id, kind, happened_on, summary, ref) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (ref) DO NOTHING"
)
LEAD_SQL = (
    "UPDATE leads SET updated_on = ?,"
    " status = CASE status WHEN 'new' THEN 'contacted' ELSE status END WHERE id = ?"
)


async def record(call: TaskCall) -> dict[str, Json]:
    """Record every email sent as an activity of its lead with ``sql_write`` (effect
    ``write``), and mark new leads contacted. Idempotent twice over: each write carries its
    idempotency key, and an activity is keyed by its email's Message-ID."""
    sent = [m for m in call.task_outputs["send"] or [] if m["sent"]]
    day = as_of(call).isoformat()
    write = crm_writer(crm_path(call))
    added = updated = 0
    for mail in sent:
        effect = f"crm_write/{mail['lead_id']}/{mail['kind']}"
        summary = f"{mail['kind'].replace('_', '-').capitalize()}: {mail['subject']}"
        row = [mail["lead_id"], mail["kind"], day, summary, mail["message_id"]]
        done = await write.call({"sql": ACTIVITY_SQL, "params": row}, context(call, effect))
        added += done["rows_affected"]
        lead = [day, mail["lead_id"]]
        done = await write.call({"sql": LEAD_SQL, "params": lead}, context(call, f"{effect}/lead"))
        updated += done["rows_affected"]
    return {"activities_added": added, "leads_updated": updated}


# -- the weekly summary: counts from SQL, a paragraph from the model (checked) ---------------------

LEADS_SQL = """
SELECT l.id, l.company, l.contact, l.status,
       (SELECT a.kind || ' ' || a.happened_on FROM activities a WHERE a.lead_id = l.id
        ORDER BY a.happened_on DESC, a.id DESC LIMIT 1) AS last_activity
FROM leads l ORDER BY l.id
"""
WEEK_SQL = (
    "SELECT kind, COUNT(*) AS n FROM activities WHERE happened_on > ? AND happened_on <= ?"
    " GROUP BY kind"
)


async def weekly(call: TaskCall) -> dict[str, Json]:
    """This week's counts and every lead's status, read from the CRM with ``sql_query``."""
    end = as_of(call)
    start = end - dt.timedelta(days=7)
    week = {
        r["kind"]: r["n"] for r in await query(call, WEEK_SQL, [start.isoformat(), end.isoformat()])
    }
    leads = await query(call, LEADS_SQL)
    statuses: dict[str, int] = {}
    for lead in leads:
        statuses[lead["status"]] = statuses.get(lead["status"], 0) + 1
    counts = {k: week.get(k, 0) for k in ("outreach", "follow_up", "reply")}
    facts = (
        f"This week {counts['outreach']} first emails and {counts['follow_up']} follow-ups were"
        f" sent, and {counts['reply']} leads replied. Leads by status: "
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        + "."
    )
    first = start + dt.timedelta(days=1)
    return {"from": first.isoformat(), "to": end.isoformat(), "week": counts,
            "statuses": statuses, "leads": leads, "facts": facts}  # fmt: skip


NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
)  # fmt: skip


def paragraph_problems(text: str, week: dict[str, Json]) -> list[str]:
    """Why the model's paragraph may not be used. Every number in it must be a count and stand
    next to what it counts ("4 first emails", "2 are new"); its words must come from the facts."""
    found = []
    if len(text) < 20:
        found.append("is too short")
    counts, statuses = week["week"], week["statuses"]
    meaning: dict[str, set[int]] = {w: {counts["outreach"]} for w in ("first", "emails", "email")}
    meaning |= {w: {counts["follow_up"]} for w in ("follow", "followups")}
    meaning |= {w: {counts["reply"]} for w in ("replied", "replies", "reply")}
    for status, n in statuses.items():
        meaning.setdefault(status, set()).add(n)
    tokens = re.findall(r"[a-z]+|\d+", text.lower())
    for i, token in enumerate(tokens):
        if not token.isdigit() and token not in NUMBER_WORDS:
            continue
        n = int(token) if token.isdigit() else NUMBER_WORDS.index(token)
        label = next((t for t in tokens[i + 1 : i + 4] if t in meaning), None)
        if label is None or n not in meaning[label]:
            found.append(f"says {' '.join(tokens[i : i + 2])!r}, which is not a count")
    if grounding(text, week["facts"] + " sales team week leads emails") < 0.6:
        found.append("says things the counts do not")
    if PLACEHOLDER.search(text):
        found.append("has an unfilled placeholder")
    return found


def report(call: TaskCall) -> str:
    """The weekly summary: a checked paragraph, the counts, and each lead's status."""
    week = call.task_outputs["weekly"]
    # the two sentences asked for; a small model tends to go on repeating itself
    text = " ".join(sentences(text_field(call.task_outputs["paragraph"], "paragraph"))[:2])
    wrong = paragraph_problems(text, week)
    lines = [f"# Sales week {week['from']} to {week['to']}", ""]
    lines += [week["facts"] if wrong else text, ""]
    if not wrong:
        lines += ["(written by the model, checked against the counts)", ""]
    elif text:
        lines += [f"(from the counts: the model's paragraph {'; '.join(wrong)})", ""]
    lines += lead_table(call, week["leads"])
    lines += ["", "Picked leads (fit: BM25 relevance of their notes to the pitch):"]
    for lead in call.task_outputs["qualify"]:
        cites = ", ".join(lead["cites"])
        lines.append(f"- {lead['company']} (fit {lead['fit']}): {lead['summary']} [{cites}]")
    if not call.task_outputs["qualify"]:
        lines.append("- none: no new lead reaches min_fit")
    return "\n".join(lines)


def lead_table(call: TaskCall, leads: list[dict[str, Json]]) -> list[str]:
    """One line per lead: its status in the CRM and what this run did for it."""
    planned = [*call.task_outputs["outreach"], *call.task_outputs["follow_ups"]]
    sent = {(m["lead_id"], m["kind"]): m for m in call.task_outputs["send"] or []}
    lines = [f"{'company':<22}  {'status':<9}  {'last activity':<20}  this run"]
    for lead in leads:
        done = []
        for mail in (m for m in planned if m["lead_id"] == lead["id"]):
            outcome = sent.get((lead["id"], mail["kind"]))
            if outcome is None:
                state = "NOT sent (not approved)"
            elif outcome["sent"]:
                state = f"sent ({mail['written_by']})"
            else:
                state = f"NOT sent ({outcome['error']})"
            done.append(f"{mail['kind'].replace('_', '-')} {state}")
        last = (lead["last_activity"] or "-").replace("_", "-")
        lines.append(
            f"{lead['company']:<22}  {lead['status']:<9}  {last:<20}  {', '.join(done) or '-'}"
        )
    return lines
