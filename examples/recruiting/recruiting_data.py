"""The recruiting example's data: the working database built from the seed files, the job
description, and the deterministic skills match.

The seed files in ``data/`` are tracked in git and never written. Each run works on a copy,
``.data/recruiting.db`` beside the workflow file (or the ``data_dir`` input), built by
`prepare`: creating it, or bringing an existing copy up to date, is idempotent, so a second
run, a resumed run and a fresh clone all work.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SEEDS = HERE / "data"
DB_NAME = "recruiting.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS candidates (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, title TEXT NOT NULL,
    years INTEGER NOT NULL, skills TEXT NOT NULL, location TEXT NOT NULL, summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calendar (
    id INTEGER PRIMARY KEY, slot TEXT NOT NULL, interviewer TEXT NOT NULL,
    blocked TEXT,                      -- the interviewer is busy then (a seed's note)
    candidate_id TEXT UNIQUE,          -- one interview per candidate, whatever runs book
    booked_by_run TEXT,
    UNIQUE (slot, interviewer)
);
CREATE TABLE IF NOT EXISTS outreach (
    key TEXT PRIMARY KEY,              -- the send's idempotency key: a message lands once
    run_id TEXT NOT NULL, candidate_id TEXT NOT NULL, email TEXT NOT NULL,
    subject TEXT NOT NULL, body TEXT NOT NULL, drafted_by TEXT NOT NULL,
    sent_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"""


def data_dir(value: object) -> Path:
    """The working folder named by the ``data_dir`` input: relative to this example's folder."""
    path = Path(str(value or ".data")).expanduser()
    return path if path.is_absolute() else HERE / path


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def prepare(folder: Path) -> dict[str, Any]:
    """Create or update the working database in `folder` from the seeds; what it holds.

    Candidates are replaced by the seed's (edit the CSV, run again); calendar slots are
    added when missing and never reset, so bookings made by earlier runs stay.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DB_NAME
    candidates = seed_rows("candidates.csv")
    slots = seed_rows("calendar.csv")
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.executescript(SCHEMA)
        conn.execute("BEGIN IMMEDIATE")  # two runs preparing at once: one at a time
        conn.executemany(
            "INSERT OR REPLACE INTO candidates VALUES"
            " (:id, :name, :email, :title, :years, :skills, :location, :summary)",
            [{**c, "years": int(c["years"])} for c in candidates],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO calendar (slot, interviewer, blocked) VALUES (?, ?, ?)",
            [(s["slot"], s["interviewer"], s["blocked"] or None) for s in slots],
        )
        conn.execute("COMMIT")
        free = conn.execute(
            "SELECT count(*) FROM calendar WHERE blocked IS NULL AND candidate_id IS NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    return {"database": str(path), "candidates": len(candidates), "free_slots": free}


@dataclass(frozen=True)
class Job:
    """The parts of a job description the pipeline uses."""

    title: str
    company: str
    min_years: int
    required: tuple[str, ...]
    nice: tuple[str, ...]

    @property
    def short_title(self) -> str:
        """The title without its parenthesis: what a drafted email must name."""
        return self.title.split("(")[0].strip()


def _field(text: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.+)$", text, flags=re.M | re.I)
    return match.group(1).strip() if match else ""


def _skills(value: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in value.split(",") if s.strip())


def load_job(path: Path) -> Job:
    """Read a job description: a ``# Title`` line and ``Field: value`` lines (see data/job.md)."""
    text = path.read_text(encoding="utf-8")
    title = re.search(r"^#\s+(.+)$", text, flags=re.M)
    years = re.search(r"\d+", _field(text, "Minimum experience"))
    return Job(
        title=title.group(1).strip() if title else path.stem,
        company=_field(text, "Company") or "our company",
        min_years=int(years.group()) if years else 0,
        required=_skills(_field(text, "Required skills")),
        nice=_skills(_field(text, "Nice to have")),
    )


def skills_match(job: Job, skills: list[str], years: int) -> tuple[float, list[str]]:
    """A 0-10 score from the skills the candidate lists, and which of the job's skills matched.

    Required skills weigh 2, nice-to-have 1; a candidate short of the minimum experience loses
    a quarter. Deterministic, so a weak model cannot wreck the ranking.
    """
    have = {s.strip().casefold() for s in skills}
    req = [s for s in job.required if s.casefold() in have]
    nice = [s for s in job.nice if s.casefold() in have]
    total = 2 * len(job.required) + len(job.nice)
    score = 10 * (2 * len(req) + len(nice)) / total if total else 0.0
    if years < job.min_years:
        score *= 0.75
    return round(score, 1), req + nice


__all__ = ["Job", "data_dir", "load_job", "prepare", "seed_rows", "skills_match"]
