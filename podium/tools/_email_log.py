"""The email tool's sent-log: a small SQLite file of idempotency keys, so a send lands once.

The runtime already replays the recorded result of a tool call that reached the journal. What
it cannot cover is a crash after the SMTP server accepted a message and before the call was
journaled: the task runs again, with the same idempotency key. The sent-log closes that gap.
Before sending, the key is *claimed* (a row in state ``sending``, inside one SQLite
transaction, so two processes cannot both claim it); after the server accepts the message the
row becomes ``sent`` with the result. A key found ``sent`` returns that result without sending.
A key found ``sending`` or ``unknown`` means an earlier send may or may not have reached the
server: the tool refuses rather than risk a second copy, and says how to release the key.
A send that certainly failed (refused before the message was accepted) releases its key.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from podium.exceptions import ToolError

logger = logging.getLogger(__name__)

JSON = Any
State = Literal["new", "sent", "in_doubt"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_email (
    key TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'unknown')),
    started_at REAL NOT NULL,
    finished_at REAL,
    result TEXT
)
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """What the log says about a key: ``new`` (claimed now: send), ``sent`` (with the recorded
    `result`) or ``in_doubt`` (an earlier send did not finish; `started_at` says when)."""

    state: State
    result: JSON = None
    started_at: float = 0.0


class SentLog:
    """The sent-log at `path` (created on first use, with its folder).

    Args:
        path: the SQLite file.
        clock: the time recorded with each row.
    """

    def __init__(self, path: str | Path, *, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.clock = clock

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ToolError(f"cannot open the email sent-log {str(self.path)!r}: {exc}") from None
        try:
            db.execute(_SCHEMA)
            yield db
        except sqlite3.Error as exc:
            raise ToolError(f"the email sent-log {str(self.path)!r} failed: {exc}") from None
        finally:
            db.close()

    def claim(self, key: str, message_id: str) -> Claim:
        """Claim `key` for a send, unless the log already knows it."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT state, result, started_at FROM sent_email WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO sent_email (key, message_id, state, started_at)"
                    " VALUES (?, ?, 'sending', ?)",
                    (key, message_id, self.clock()),
                )
            db.execute("COMMIT")
        if row is None:
            return Claim("new")
        state, result, started_at = row
        if state == "sent":
            return Claim("sent", msgspec.json.decode(result), started_at)
        return Claim("in_doubt", None, started_at)

    def record(self, key: str, result: JSON) -> None:
        """Mark `key` sent, with its result. A failure is logged, not raised: the message went,
        and the row left in ``sending`` keeps a retry from sending it again."""
        try:
            with self._connect() as db:
                db.execute(
                    "UPDATE sent_email SET state = 'sent', finished_at = ?, result = ?"
                    " WHERE key = ?",
                    (self.clock(), msgspec.json.encode(result).decode(), key),
                )
        except ToolError:
            logger.exception("email %s was sent but could not be marked sent", key)

    def doubt(self, key: str) -> None:
        """Mark `key` as sent-or-not (the connection broke while the server had the message)."""
        with contextlib.suppress(ToolError), self._connect() as db:
            db.execute(
                "UPDATE sent_email SET state = 'unknown', finished_at = ? WHERE key = ?",
                (self.clock(), key),
            )

    def forget(self, key: str) -> bool:
        """Remove `key` (a send known not to have happened may then be retried); whether it
        was there."""
        with self._connect() as db:
            return db.execute("DELETE FROM sent_email WHERE key = ?", (key,)).rowcount > 0

    def state(self, key: str) -> str | None:
        """The row's state for `key` (``sending``, ``sent``, ``unknown``), or None."""
        with self._connect() as db:
            row = db.execute("SELECT state FROM sent_email WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


__all__ = ["Claim", "SentLog"]
