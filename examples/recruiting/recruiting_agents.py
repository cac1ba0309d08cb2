"""Python agents of the recruiting example (``workflow.yaml``): sourcing, ranking, outreach,
scheduling and the report. Screening and drafting are model-driven agents in the workflow file;
these check their work and never trust it blindly.

Each agent that changes something does it through a tool with a declared effect and an
idempotency key from `TaskCall.idempotency_key`, so a retried or resumed task lands its effect
once: `sql_write` for the calendar (effect ``write``), and `send_outreach` (effect
``irreversible``), which the sender only calls once a person approved that exact call.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from recruiting_data import DB_NAME, HERE, Job, data_dir, load_job, prepare, skills_match
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from podium import TaskCall
from podium.exceptions import ConfigError, ToolError
from podium.policy import ApprovalNeeded, ApprovalRequest
from podium.tools import Tool, ToolContext, action_hash
from podium.tools.sql import sql_query_tool, sql_write_tool

JSON = Any
MODEL_WEIGHT = 0.3
"""The model's share of the combined score; the skills match has the rest."""


def _db(call: TaskCall) -> Path:
    return data_dir(call.run_inputs.get("data_dir")) / DB_NAME


def _job(call: TaskCall) -> Job:
    path = Path(str(call.run_inputs.get("job_file") or "data/job.md")).expanduser()
    return load_job(path if path.is_absolute() else HERE / path)


def _ctx(call: TaskCall, effect: str) -> ToolContext:
    """The tool context of this task's effect `effect`: the same key in every attempt."""
    key = call.idempotency_key(effect)
    return ToolContext(
        run_id=call.run_id, task_id=call.task_id, agent=call.agent, call_id=effect,
        idempotency_key=key,
    )  # fmt: skip


async def _rows(call: TaskCall, tables: list[str], sql: str, *params: JSON) -> list[list[JSON]]:
    tool = sql_query_tool(url=f"sqlite:///{_db(call)}", tables=tables, max_rows=1000)
    result = await tool.call({"sql": sql, "params": list(params)}, _ctx(call, "read"))
    rows: list[list[JSON]] = result["rows"]
    return rows


# -- sourcing and screening ---------------------------------------------------------------


def prepare_data(call: TaskCall) -> dict[str, JSON]:
    """Check the inputs, then build (or bring up to date) the working database from the seed
    files: before any model is asked anything."""
    for name in ("top_n", "max_screen"):
        if int(call.run_inputs.get(name, 0)) < 0:
            raise ConfigError(f"input {name!r} must be 0 or more, not {call.run_inputs[name]!r}")
    try:
        job = _job(call)
    except OSError as exc:
        raise ConfigError(f"cannot read the job description (input 'job_file'): {exc}") from None
    if not job.required:
        raise ConfigError(f"the job description names no 'Required skills:' ({job.title!r})")
    return prepare(data_dir(call.run_inputs.get("data_dir")))


async def source(call: TaskCall) -> list[dict[str, JSON]]:
    """Candidates from the pool with at least two of the job's required skills, best skills
    match first, at most ``max_screen`` of them: the ones worth a screening."""
    job = _job(call)
    rows = await _rows(
        call,
        ["candidates"],
        "SELECT id, name, email, title, years, skills, location, summary"
        " FROM candidates ORDER BY id",
    )
    found = []
    for cid, name, email, title, years, skills, location, summary in rows:
        listed = [s.strip() for s in str(skills).split(";") if s.strip()]
        score, matched = skills_match(job, listed, int(years))
        if len(set(matched) & set(job.required)) >= 2:
            found.append(
                {
                    "id": cid,
                    "name": name,
                    "email": email,
                    "title": title,
                    "years": years,
                    "skills": ", ".join(listed),
                    "location": location,
                    "summary": summary,
                    "skills_score": score,
                    "matched": matched,
                    "role": job.title,
                    "required": ", ".join(job.required),
                }
            )
    found.sort(key=lambda c: (-c["skills_score"], c["id"]))
    return found[: int(call.run_inputs.get("max_screen", 8))]


def _model_score(screen: JSON) -> tuple[float | None, str]:
    """The screener's score clamped to 0-10 and its reason; ``None`` when it gave no number."""
    if not isinstance(screen, dict) or not isinstance(screen.get("score"), int | float):
        return None, ""
    score = float(min(10, max(0, screen["score"])))
    return score, str(screen.get("reason", "")).strip()[:200]


def rank(call: TaskCall) -> dict[str, JSON]:
    """Combine each candidate's skills match with the screener's score; shortlist the top N.

    The combined score is ``0.7 * skills + 0.3 * model`` (skills alone when the model gave no
    usable score); both are kept, so the report shows what each contributed.
    """
    sourced = call.task_outputs["source"]
    screens = call.task_outputs["screen"] or [None] * len(sourced)  # the screening failed
    ranked = []
    for cand, screen in zip(sourced, screens, strict=True):
        model, reason = _model_score(screen)
        skills = cand["skills_score"]
        combined = skills if model is None else (1 - MODEL_WEIGHT) * skills + MODEL_WEIGHT * model
        ranked.append({**cand, "model_score": model, "reason": reason, "score": round(combined, 1)})
    ranked.sort(key=lambda c: (-c["score"], -c["skills_score"], c["id"]))
    top = int(call.run_inputs.get("top_n", 3))
    job = _job(call)
    shortlist = [{**c, "company": job.company, "short_role": job.short_title} for c in ranked[:top]]
    return {"screened": ranked, "shortlist": shortlist}


# -- outreach -------------------------------------------------------------------------------

MAX_BODY = 500
"""The drafts' ``maxLength`` in workflow.yaml: a draft that long was cut off there."""


def _ends_whole(text: str) -> bool:
    """The last paragraph ends a sentence, or is a short sign-off ("Best,\nPriya")."""
    last = text.rsplit("\n\n", 1)[-1].strip()
    return last[-1] in ".!?" or len(last.split()) <= 6


_PLACEHOLDER = re.compile(r"\[[^\]]*\]|\{\{|<[A-Z][A-Za-z ]*>")


def usable_draft(body: str, name: str, job: Job) -> bool:
    """Whether a drafted email may go out as written: it opens by greeting the candidate by
    first name, names the role, is not cut off (at the length limit, mid-sentence), does not
    speak as the candidate (a small model's favourite slip), and has no placeholder such as
    ``[Your Name]``."""
    text = body.strip()
    first = re.escape(name.split(maxsplit=1)[0])
    opening = text.split("\n", 1)[0][:40]
    return (
        80 <= len(text) <= 2000
        and re.search(rf"^(hi|hello|dear|hey)\b.*\b{first}\b", opening, re.I) is not None
        and job.short_title.casefold() in text.casefold()
        and len(text) < MAX_BODY
        and _ends_whole(text)
        and re.search(rf"\bI(?: am|'m) {first}\b", text, re.I) is None
        and _PLACEHOLDER.search(text) is None
    )


def template_email(cand: dict[str, JSON], job: Job) -> str:
    """The fallback outreach email, when the drafted one is not fit to send."""
    skills = ", ".join(cand["matched"][:3])
    return (
        f"Hi {cand['name'].split()[0]},\n\n"
        f"I am writing from {job.company}: we are hiring a {job.title}, and your experience as"
        f" {cand['title']} ({skills}) stands out. Would you have 45 minutes for a first video"
        " interview? We will send you a time shortly.\n\n"
        f"Best regards,\nThe {job.company} hiring team"
    )


class Message(TypedDict):
    """One outreach email."""

    candidate_id: str
    to: str
    subject: str
    body: str
    drafted_by: str


def outreach_tool(db: Path) -> Tool:
    """The ``send_outreach`` tool (effect ``irreversible``): the example's outbox is the
    ``outreach`` table of `db`; each message lands once per idempotency key."""

    def send_outreach(messages: list[Message], ctx: ToolContext) -> dict[str, JSON]:
        """Send outreach emails to candidates (recorded in the outreach table)."""
        # mode=rw: a working copy deleted meanwhile is an error, not a new empty database
        conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            fresh = []
            for m in messages:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO outreach (key, run_id, candidate_id, email, subject,"
                    " body, drafted_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (f"{ctx.idempotency_key}/{m['candidate_id']}", ctx.run_id,
                     m["candidate_id"], m["to"], m["subject"], m["body"], m["drafted_by"]),
                )  # fmt: skip
                fresh.append(cur.rowcount == 1)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return {"sent": sum(fresh), "already_sent": len(fresh) - sum(fresh)}

    return Tool.from_function(send_outreach, effect="irreversible")


def messages_for(call: TaskCall) -> list[Message]:
    """The exact emails to send: each shortlisted candidate's draft if usable, else the
    template."""
    job = _job(call)
    shortlist = call.task_outputs["rank"]["shortlist"]
    drafts = call.task_outputs["draft"] or [None] * len(shortlist)
    out: list[Message] = []
    for cand, draft in zip(shortlist, drafts, strict=True):
        body = str(draft.get("body", "")) if isinstance(draft, dict) else ""
        ok = usable_draft(body, cand["name"], job)
        out.append(
            Message(
                candidate_id=cand["id"],
                to=cand["email"],
                subject=f"Interview invitation: {job.title} at {job.company}",
                body=body.strip() if ok else template_email(cand, job),
                drafted_by="model" if ok else "template",
            )
        )
    return out


async def send(call: TaskCall) -> dict[str, JSON]:
    """Send the outreach once a person approved these exact messages.

    The approval is the one a model's call of ``send_outreach`` would need: bound to the hash
    of the tool and its arguments, so a changed message asks again.
    """
    messages = messages_for(call)
    if not messages:
        return {"sent": 0, "already_sent": 0, "messages": []}
    tool = outreach_tool(_db(call))
    arguments = {"messages": messages}
    digest = action_hash(tool.name, arguments)
    if digest not in call.approved:
        raise ApprovalNeeded(
            ApprovalRequest(
                action="tool",
                action_hash=digest,
                reason=f"{tool.name!r} is irreversible: {len(messages)} emails to candidates",
                tool=tool.name,
                arguments=dict(arguments),
            )
        )
    result = await tool.call(dict(arguments), _ctx(call, tool.name))
    return {**result, "messages": messages}


# -- scheduling -----------------------------------------------------------------------------


async def _booked(call: TaskCall, cid: str) -> list[list[JSON]]:
    return await _rows(
        call, ["calendar"],
        "SELECT slot, interviewer, booked_by_run FROM calendar WHERE candidate_id = ?", cid,
    )  # fmt: skip


async def book(call: TaskCall, cid: str) -> dict[str, JSON]:
    """Book the earliest free slot for candidate `cid`, or find the one already booked.

    The UPDATE only takes a slot that is still free, so two runs racing for it cannot both
    get it; its idempotency key makes a retried or resumed booking land once.
    """
    write = sql_write_tool(url=f"sqlite:///{_db(call)}", tables=["calendar"])
    for _ in range(2):  # a concurrent run may book this candidate between our look and write
        if found := await _booked(call, cid):
            slot, who, run = found[0]
            new = run == call.run_id
            return {"candidate_id": cid, "slot": slot, "interviewer": who, "new": new}
        free = await _rows(
            call, ["calendar"],
            "SELECT id, slot, interviewer FROM calendar"
            " WHERE candidate_id IS NULL AND blocked IS NULL ORDER BY slot, interviewer",
        )  # fmt: skip
        try:
            for sid, slot, who in free:
                sql = (
                    "UPDATE calendar SET candidate_id = ?, booked_by_run = ?"
                    " WHERE id = ? AND candidate_id IS NULL AND blocked IS NULL"
                )
                args = {"sql": sql, "params": [cid, call.run_id, sid]}
                done = await write.call(args, _ctx(call, f"book/{cid}/{sid}"))
                if done["rows_affected"] == 1:
                    return {"candidate_id": cid, "slot": slot, "interviewer": who, "new": True}
        except ToolError as exc:
            if "UNIQUE" not in str(exc):
                raise
            continue  # booked elsewhere meanwhile: look again
        break
    return {"candidate_id": cid, "slot": None, "interviewer": None, "new": False}


async def schedule(call: TaskCall) -> list[dict[str, JSON]]:
    """An interview slot for every contacted candidate, in shortlist order."""
    sent = call.task_outputs.get("outreach")
    messages = sent["messages"] if isinstance(sent, dict) else []
    return [await book(call, m["candidate_id"]) for m in messages]
