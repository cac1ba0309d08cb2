"""Python agents of `workflow.yaml`: intake, order look-up, checks, sending and the report.

The language steps (classifying a ticket, drafting a reply) are model-driven agents declared in
the workflow file; everything here is deterministic, and checks what the model wrote.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from podium import TaskCall
from podium.exceptions import ToolError
from podium.policy import ApprovalNeeded, ApprovalRequest
from podium.tools import Tool, ToolContext, action_hash
from podium.tools.email import domain_allowed, send_email_tool
from podium.tools.sql import sql_query_tool

HERE = Path(__file__).parent
CATEGORIES = ("billing", "shipping", "refund", "technical", "other")
MAX_TICKETS = 200
MAX_BYTES = 2_000_000
KEYWORDS = {  # the fallback classifier: the first category with a hit wins, in this order
    "refund": ("refund", "money back", "returned", "return"),
    "billing": ("charged", "invoice", "payment", "billing", "vat", "discount", "card"),
    "shipping": ("parcel", "ship", "deliver", "tracking", "address", "arrived"),
    "technical": ("pair", "bluetooth", "firmware", "error", "broken", "flicker", "reboot"),
}
ORDER_REF = re.compile(r"(?:#|\border\s+(?:no\.?\s*|number\s+)?)(\d{3,9})\b", re.I)
NUMBER = re.compile(r"\d+(?:[.,:-]\d+)*")
STATUS_WORD = re.compile(r"\b(shipped|delivered|returned|refunded|cancell?ed)\b", re.I)
STATUS_WORDS = {  # what a reply may say about an order in each status
    "processing": {"shipped"},  # "it has not shipped yet"
    "shipped": {"shipped"},
    "delivered": {"shipped", "delivered"},
    "returned": {"returned"},
    "refunded": {"returned", "refunded"},
    "cancelled": {"cancelled", "canceled"},
}
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
PLACEHOLDER = re.compile(r"\[[^\]]{1,40}\]|\{[^}]{1,40}\}|<[A-Za-z ]{1,40}>")
Json = Any


# -- intake ------------------------------------------------------------------------------------


def folder(call: TaskCall, name: str) -> Path:
    """A run input that names a path, relative to this example's folder."""
    return HERE / str(call.run_inputs[name])


def intake(call: TaskCall) -> list[dict[str, str]]:
    """Build the working copy of the shop database (once) and read the batch of tickets."""
    send_email_tool(**mail_settings(call))  # bad mail settings fail now, not after approval
    prepare_database(folder(call, "data") / "shop.db")
    given = call.run_inputs["tickets"]
    if isinstance(given, str) and not given.lstrip().startswith("["):
        path = HERE / given
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"tickets: {given!r} is larger than {MAX_BYTES} bytes")
        given = path.read_text(encoding="utf-8")
    if isinstance(given, str):
        if len(given) > MAX_BYTES:
            raise ValueError(f"tickets: the JSON text is longer than {MAX_BYTES} characters")
        given = json.loads(given)
    if not isinstance(given, list) or not 1 <= len(given) <= MAX_TICKETS:
        raise ValueError(f"tickets: give a list of 1 to {MAX_TICKETS} tickets")
    tickets = [checked_ticket(t, i) for i, t in enumerate(given)]
    ids = [t["id"] for t in tickets]
    if len(set(ids)) != len(ids):
        raise ValueError("tickets: every ticket needs its own id")
    return tickets


def checked_ticket(raw: Json, index: int) -> dict[str, str]:
    """One ticket, its fields checked: `id`, `from`, `subject` and `body`, all text."""
    limits = {"id": 40, "from": 254, "subject": 200, "body": 4000}
    if not isinstance(raw, dict):
        raise TypeError(f"ticket {index}: expected an object with {sorted(limits)}")
    ticket = {}
    for field, limit in limits.items():
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise ValueError(f"ticket {index}: {field!r} must be text of 1 to {limit} characters")
        if field != "body" and CONTROL.search(value):
            raise ValueError(f"ticket {index}: {field!r} has a line break or control character")
        ticket[field] = value.strip()
    return ticket


def prepare_database(path: Path) -> None:
    """Create `path` from ``seed.sql`` unless it exists. Concurrent runs race safely: each
    builds its own file aside and renames it into place."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    part = Path(name)
    try:
        with contextlib.closing(sqlite3.connect(part)) as db:
            db.executescript((HERE / "seed.sql").read_text(encoding="utf-8"))
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


# -- classification ----------------------------------------------------------------------------


def evidence(text: str) -> list[str]:
    """The categories whose keywords the text mentions, in `KEYWORDS` order."""
    words = text.lower()
    return [
        category
        for category, keys in KEYWORDS.items()
        if any(re.search(rf"\b{re.escape(k)}", words) for k in keys)
    ]


def by_keywords(text: str) -> str:
    """The first category with keyword evidence, or other."""
    return next(iter(evidence(text)), "other")


def classify_by_keywords(call: TaskCall) -> dict[str, str]:
    """The backup classifier: takes over a ticket the model could not classify."""
    ticket = call.item
    return {"category": by_keywords(f"{ticket['subject']} {ticket['body']}"), "by": "keywords"}


# -- orders --------------------------------------------------------------------------------------


@functools.cache
def orders_tool(db: Path) -> Tool:
    """The ``sql_query`` standard tool on the working copy, limited to two tables."""
    return sql_query_tool(url=str(db), tables=["customers", "orders"], max_rows=20)


ORDERS_SQL = (
    "SELECT c.name, o.id, o.placed_on, o.item, o.total, o.status, o.carrier, o.tracking"
    " FROM orders o JOIN customers c ON c.id = o.customer_id"
    " WHERE c.email = lower(:email) ORDER BY o.placed_on DESC, o.id DESC"
)


async def look_up_orders(call: TaskCall) -> dict[str, Json]:
    """The sender's orders, through ``sql_query`` (values as bound parameters). A ticket only
    ever sees its own sender's orders, whatever order numbers it mentions."""
    ticket = call.item
    tool = orders_tool(folder(call, "data") / "shop.db")
    ctx = ToolContext(
        run_id=call.run_id,
        task_id=call.task_id,
        agent=call.agent,
        call_id="orders",
        idempotency_key=call.idempotency_key("orders"),
    )
    found = await tool.call({"sql": ORDERS_SQL, "params": {"email": ticket["from"]}}, ctx)
    names = [c["name"] for c in found["columns"]]
    rows = [dict(zip(names, row, strict=True)) for row in found["rows"]]
    return {"customer": rows[0]["name"] if rows else None, "orders": rows}


# -- cases: the ticket, its category and its orders, together ------------------------------------


def cases(call: TaskCall) -> list[dict[str, Json]]:
    """One case per ticket: the checked category and the orders the reply may talk about."""
    tickets = call.task_outputs["intake"]
    labels = call.task_outputs["classify"]
    found = call.task_outputs["orders"]
    return [case(t, c, o) for t, c, o in zip(tickets, labels, found, strict=True)]


def case(ticket: dict[str, str], label: Json, found: dict[str, Json]) -> dict[str, Json]:
    category, by = checked_category(label, f"{ticket['subject']} {ticket['body']}")
    orders = found["orders"]
    mentioned = {int(n) for n in ORDER_REF.findall(f"{ticket['subject']} {ticket['body']}")}
    # the orders the ticket names, among the sender's own; else the sender's latest order
    focus = [o for o in orders if o["id"] in mentioned] or orders[:1]
    return {
        "ticket": ticket,
        "category": category,
        "category_by": by,
        "customer": found["customer"],
        "orders": focus,
        "facts": facts(focus),
        "cite": ", ".join(f"#{o['id']}" for o in focus) or "none",
        "opening": f"Your order #{focus[0]['id']}" if focus else "Thank you for your message",
    }


def checked_category(label: Json, text: str) -> tuple[str, str]:
    """The model's category unless it is not one of the list, or the ticket has keywords of
    other categories and none of it: then the keywords' (category, who chose it)."""
    category = label.get("category") if isinstance(label, dict) else None
    by = str(label.get("by", "model")) if isinstance(label, dict) else "model"
    found = evidence(text)
    if category in CATEGORIES and (not found or category in found):
        return str(category), by
    return by_keywords(text), "keywords"


def facts(orders: list[dict[str, Json]]) -> str:
    """The orders as short sentences, for the model's prompt and the template reply."""
    if not orders:
        return "We have no orders from this email address."
    return " ".join(fact(o) for o in orders)


def fact(order: dict[str, Json]) -> str:
    said = f"Order #{order['id']} ({order['item']}, {order['total']} EUR, {order['placed_on']})"
    status = order["status"]
    if status == "shipped":
        return f"{said} was shipped with {order['carrier']}, tracking {order['tracking']}."
    if status == "processing":
        return f"{said} is being prepared and has not shipped yet."
    return f"{said} is {status}."


# -- the reply, checked --------------------------------------------------------------------------


def problems(reply: str, case: dict[str, Json]) -> list[str]:
    """Why a drafted reply may not be sent as it is; empty when it is grounded."""
    found: list[str] = []
    sentences = [x.lower() for x in SENTENCE.split(reply.strip()) if x]
    if len(reply.strip()) < 20:
        found.append("too short")
    if not reply.rstrip().endswith((".", "!", "?")):
        found.append("ends mid-sentence")
    if len(set(sentences)) < len(sentences) or len(sentences) > 3:
        found.append("repeats itself or runs on")
    cited = {int(n) for n in ORDER_REF.findall(reply)}
    allowed = {o["id"] for o in case["orders"]}
    if case["orders"] and not cited & allowed:
        found.append(f"does not cite {case['cite']}")
    if cited - allowed:
        found.append(f"cites orders not in the data: {sorted(cited - allowed)}")
    if PLACEHOLDER.search(reply):
        found.append("has an unfilled placeholder")
    known = {part for n in NUMBER.findall(case["facts"]) for part in (n, *re.split(r"\D", n))}
    invented = set(NUMBER.findall(reply)) - known
    if invented:
        found.append(f"has numbers not in the data: {sorted(invented)[:3]}")
    claimed = {w.lower() for w in STATUS_WORD.findall(reply)}
    true = set().union(*(STATUS_WORDS[o["status"]] for o in case["orders"]))
    if claimed - true:
        found.append(f"says {sorted(claimed - true)[0]!r}, which the data does not say")
    if re.search(r"https?://|www\.|@", reply):
        found.append("has a link or an address")
    return found


TEMPLATES = {
    "billing": "Our billing team is checking the payment and will write to you again.",
    "shipping": "We will keep an eye on the delivery for you.",
    "refund": "Our refunds team is checking your request.",
    "technical": "Our technical team will help you get it working.",
    "other": "A member of our team will follow up on your message.",
}


def complete_sentences(reply: str) -> str:
    """The draft's complete sentences, up to the first one that repeats an earlier one: a
    small model often states the facts, then loops or runs into its length limit."""
    kept: list[str] = []
    for sentence in SENTENCE.split(reply.strip()):
        if not sentence.endswith((".", "!", "?")) or sentence.lower() in map(str.lower, kept):
            break
        kept.append(sentence)
    return " ".join(kept)


def template_reply(case: dict[str, Json]) -> str:
    """A reply built from the rows alone, for when the draft is not grounded."""
    opening = f"Thank you for your message about {case['cite']}." if case["orders"] else ""
    return f"{opening} {case['facts']} {TEMPLATES[case['category']]}".strip()


def template_draft(call: TaskCall) -> dict[str, str]:
    """The writer's backup, for a ticket the model gave no usable draft for."""
    return {"reply": template_reply(call.item), "by": "template"}


def check_drafts(call: TaskCall) -> list[dict[str, Json]]:
    """Keep each grounded draft; replace the others with the template reply. The email to
    send, per ticket."""
    drafts = call.task_outputs["draft"]
    return [email(c, d) for c, d in zip(call.task_outputs["cases"], drafts, strict=True)]


def email(case: dict[str, Json], draft: Json) -> dict[str, Json]:
    ticket = case["ticket"]
    reply = str(draft.get("reply", "")) if isinstance(draft, dict) else ""
    by = draft.get("by", "model") if isinstance(draft, dict) else "model"
    kept = complete_sentences(reply)
    wrong = ["the model gave no usable draft"] if by == "template" else problems(kept, case)
    text = template_reply(case) if wrong else kept
    name = case["customer"] or "there"
    body = f"Hello {name},\n\n{text}\n\nBest regards,\nShop support\n(ticket {ticket['id']})\n"
    return {
        "ticket": ticket["id"],
        "category": case["category"],
        "category_by": case["category_by"],
        "reply_by": "template" if wrong else "model",
        "problems": wrong,
        "trimmed": not wrong and kept != reply.strip(),
        "to": ticket["from"],
        "subject": f"Re: {ticket['subject']} [{ticket['id']}]"[:200],
        "body": body,
    }


# -- sending, after a person's approval of that very email ---------------------------------------


def mail_settings(call: TaskCall) -> dict[str, Json]:
    """The ``send_email`` options from the run input `mail`; relative folders are in this
    example's folder."""
    settings = dict(call.run_inputs["mail"])
    for key in ("outbox", "sent_log"):
        if settings.get(key):
            settings[key] = str(HERE / str(settings[key]))
    return settings


async def send_reply(call: TaskCall) -> dict[str, Json]:
    """Send one reply with the ``send_email`` tool once a person approved this exact email
    (recipient, subject and body). Until then the task waits; the run parks."""
    mail = call.item
    settings = mail_settings(call)
    tool = send_email_tool(**settings)
    domain = mail["to"].rpartition("@")[2].lower()
    if not domain_allowed(domain, [d.lower() for d in settings["allow_domains"]]):
        # not asked at all: a person should not approve an email that cannot be sent
        error = f"recipient domain {domain!r} is not in allow_domains"
        return {"ticket": mail["ticket"], "sent": False, "error": error}
    arguments = {"to": [mail["to"]], "subject": mail["subject"], "body": mail["body"]}
    digest = action_hash(tool.name, arguments)
    if digest not in call.approved:
        raise ApprovalNeeded(
            ApprovalRequest(
                action="tool",
                action_hash=digest,
                reason=f"tool {tool.name!r} is irreversible: reply to ticket {mail['ticket']}",
                tool=tool.name,
                arguments=arguments,
            )
        )
    ctx = ToolContext(
        run_id=call.run_id,
        task_id=call.task_id,
        agent=call.agent,
        call_id="send",
        idempotency_key=call.idempotency_key("send_email"),  # one email per ticket, ever
    )
    try:
        result: dict[str, Json] = await tool.call(arguments, ctx)
    except ToolError as exc:  # one failed email does not stop the batch: the report says so
        return {"ticket": mail["ticket"], "sent": False, "error": str(exc)}
    return {"ticket": mail["ticket"], **result}


def report(call: TaskCall) -> str:
    """One line per ticket: its category, who wrote the reply, and whether it was sent."""
    mails = call.task_outputs["check"]
    sent = call.task_outputs["send"]
    lines = [
        f"{m['ticket']}  {m['category']:<9} by {m['category_by']:<8}"
        f"  reply by {m['reply_by']:<8}  to {m['to']}"
        for m in mails
    ]
    if sent is None:  # a person rejected one or more emails (or one failed): the map failed
        lines.append(
            f"{len(mails)} replies drafted; not every one was sent (rejected or failed):"
            f" `podium show {call.run_id}` says which"
        )
    else:
        lines = [
            f"{line}  {'sent' if s.get('sent') else 'NOT sent: ' + str(s.get('error'))}"
            for line, s in zip(lines, sent, strict=True)
        ]
        lines.append(f"{sum(1 for s in sent if s.get('sent'))} of {len(mails)} replies sent")
    return "\n".join(lines)
