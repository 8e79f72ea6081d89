"""The per-run event channel: an append-only SQLite table that writers fill and readers tail.

Activities (an agent's streamed text) and the API's SSE endpoint may run in different threads
or processes, so the channel is a file in the home directory, not memory: writers append rows,
a reader asks for the rows after the last sequence number it saw. The sequence number is the
SSE event id, so a reconnecting client (``Last-Event-ID``) resumes where it stopped.

Streaming a provider's answer costs a row per batch of deltas, so agents stream only while
someone watches the run (``watch`` / ``watched``, renewed by the reader); unwatched calls
answer in one piece as before.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convergio._sqlite import Database, run_script

__all__ = ["STORE_FILE", "RunStream", "StreamEvent", "TextChannel"]

STORE_FILE = "streams.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, seq);
CREATE TABLE IF NOT EXISTS watchers (run_id TEXT PRIMARY KEY, until REAL NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    seq: int
    kind: str
    data: dict[str, Any]


class RunStream:
    """Append and tail run events in one SQLite file, safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # One connection for the process: ``watched`` runs on every agent call. Events are for
        # watching, not keeping: a machine crash may lose the last ones (synchronous=NORMAL).
        self._db = Database(path, timeout=5.0, synchronous="NORMAL")
        self._db.write(lambda db: run_script(db, _SCHEMA))

    def close(self) -> None:
        self._db.close()

    def append(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        row = (run_id, kind, json.dumps(data), time.time())
        return self._db.write(
            lambda db: int(
                db.execute("INSERT INTO events (run_id, kind, data, at) VALUES (?, ?, ?, ?)", row).lastrowid
                or 0
            )
        )

    def watch(self, run_id: str, ttl_s: float) -> None:
        """Someone is watching ``run_id`` for the next ``ttl_s`` seconds (renew to keep watching)."""
        row = (run_id, time.time() + ttl_s)
        self._db.write(lambda db: db.execute("INSERT OR REPLACE INTO watchers VALUES (?, ?)", row))

    def watched(self, run_id: str) -> bool:
        """Whether an agent of ``run_id`` should stream its text here (nobody watching: no cost)."""
        with self._db.read() as db:
            row = db.execute("SELECT until FROM watchers WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None and row[0] > time.time()

    def read(self, run_id: str, after: int = 0, limit: int = 500) -> list[StreamEvent]:
        """The run's events with a sequence number above ``after``, oldest first."""
        with self._db.read() as db:
            rows = db.execute(
                "SELECT seq, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
        return [StreamEvent(seq, kind, json.loads(data)) for seq, kind, data in rows]

    def forget(self, run_id: str) -> int:
        return self._db.write(
            lambda db: db.execute("DELETE FROM events WHERE run_id = ?", (run_id,)).rowcount
        )

    def prune(self, older_than_s: float) -> int:
        """Drop events older than ``older_than_s`` seconds (streams are for watching, not keeping)."""
        cutoff = time.time() - older_than_s
        return self._db.write(lambda db: db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount)


class TextChannel:
    """An ``on_text`` callback: text deltas of one agent call, appended in small batches.

    A provider may send a delta per token; one row per token would make the writer the slow
    part, so deltas are joined and written at most every ``interval_s`` (and on ``close``).
    """

    def __init__(self, stream: RunStream, run_id: str, node_id: str, attempt: int, interval_s: float = 0.05):
        self._stream, self._run_id = stream, run_id
        self._meta = {"node": node_id, "attempt": attempt}
        self._interval = interval_s
        self._parts: list[str] = []
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, delta: str) -> None:
        if not delta:
            return
        with self._lock:
            self._parts.append(delta)
            if time.monotonic() - self._last >= self._interval:
                self._flush()

    def close(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        self._last = time.monotonic()
        if self._parts:
            text, self._parts = "".join(self._parts), []
            self._stream.append(self._run_id, "text", {**self._meta, "delta": text})
