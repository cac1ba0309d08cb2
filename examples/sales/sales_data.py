"""What the sales example's agents share: where its data lives, its standard tools, text checks.

The CRM is a SQLite working copy built from ``seed.sql`` into the run input `data` (``.data/``,
never a file tracked in git). Every read and write of it goes through the standard SQL tools
(``sql_query``, effect ``read``; ``sql_write``, effect ``write``), the notes through the
``documents`` tool, and emails through ``send_email``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from podium import TaskCall
from podium.tools import Tool, ToolContext
from podium.tools.documents import make as documents_tools
from podium.tools.sql import sql_query_tool, sql_write_tool

HERE = Path(__file__).parent
CRM_TABLES = ("leads", "activities")
Json = Any
STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "our", "so", "that", "the", "their", "them",
    "they", "this", "to", "was", "we", "were", "which", "will", "with", "you", "your", "who",
    "what", "when", "about", "would", "could", "does", "need", "needs", "want", "wants",
))  # fmt: skip
PLACEHOLDER = re.compile(r"\[[^\]]{1,40}\]|\{[^}]{1,40}\}|<[A-Za-z ]{1,40}>")


# -- paths and the working copy ------------------------------------------------------------------


def place(call: TaskCall, name: str) -> Path:
    """The path a run input names, relative to this example's folder."""
    return HERE / str(call.run_inputs[name])


def crm_path(call: TaskCall) -> Path:
    return place(call, "data") / "crm.db"


def as_of(call: TaskCall) -> dt.date:
    """The run's "today" (input `today`, an ISO date): fixed by default, so runs repeat."""
    raw = str(call.run_inputs["today"])
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"today: {raw!r} is not a date like 2026-03-16") from None


def prepare_crm(path: Path) -> bool:
    """Build `path` from ``seed.sql`` unless it exists; whether it was built. Concurrent runs
    race safely: each builds its own file aside and renames it into place."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)
    db = sqlite3.connect(part)
    try:
        with db:
            db.executescript((HERE / "seed.sql").read_text(encoding="utf-8"))
    finally:
        db.close()
    os.replace(part, path)
    return True


# -- the standard tools, one instance per database or folder in this process ---------------------


@functools.cache
def crm_reader(db: Path) -> Tool:
    return sql_query_tool(url=str(db), tables=CRM_TABLES, max_rows=500, name="crm")


@functools.cache
def crm_writer(db: Path) -> Tool:
    return sql_write_tool(url=str(db), tables=CRM_TABLES, name="crm_write")


@functools.cache
def notes_search(notes: Path, store: Path) -> Tool:
    """``notes_search`` of the ``documents`` kind: the notes folder, ingested on first use into
    a store in the data folder (BM25 only: quick, and the same ranking on every machine)."""
    made = documents_tools(
        {"ingest": str(notes), "store": str(store), "embeddings": "off", "max_k": 100}
    )
    return next(t for t in made if t.name == "search")


def context(call: TaskCall, effect: str) -> ToolContext:
    """The tool context of this task's effect `effect`: the same key in every attempt."""
    return ToolContext(
        run_id=call.run_id,
        task_id=call.task_id,
        agent=call.agent,
        call_id=effect,
        idempotency_key=call.idempotency_key(effect),
    )


async def query(call: TaskCall, sql: str, params: Sequence[Json] = ()) -> list[dict[str, Json]]:
    """Rows of one read-only query on the CRM through ``sql_query``, as dicts."""
    found = await crm_reader(crm_path(call)).call(
        {"sql": sql, "params": list(params)}, context(call, "crm")
    )
    names = [c["name"] for c in found["columns"]]
    return [dict(zip(names, row, strict=True)) for row in found["rows"]]


# -- text checks for what the model wrote ----------------------------------------------------------


def words(text: str) -> list[str]:
    """Content words, lower case: what groundedness and fact checks compare."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in STOP]


def sentences(text: str) -> list[str]:
    flat = " ".join(text.split())  # a note's line breaks are not the writer's
    return [s for s in re.split(r"(?<=[.!?]) ", flat) if s]


def grounding(claim: str, source: str) -> float:
    """Share of the claim's content words found in `source`."""
    claimed = set(words(claim))
    return len(claimed & set(words(source))) / len(claimed) if claimed else 0.0


def text_field(output: Json, field: str) -> str:
    """A model task's text field, or empty when the output is not the expected object."""
    value = output.get(field) if isinstance(output, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def names_company(text: str, company: str) -> bool:
    """Whether `text` names the company: its full name, or its first word (``Lumen``)."""
    lowered = text.lower()
    return (
        company.lower() in lowered
        or re.search(rf"\b{re.escape(company.split(maxsplit=1)[0].lower())}\b", lowered) is not None
    )
