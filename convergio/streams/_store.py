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
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection for the process: ``watched`` runs on every agent call.
        self._conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def append(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        with self._db() as db:
            row = db.execute(
                "INSERT INTO events (run_id, kind, data, at) VALUES (?, ?, ?, ?)",
                (run_id, kind, json.dumps(data), time.time()),
            )
        return int(row.lastrowid or 0)

    def watch(self, run_id: str, ttl_s: float) -> None:
        """Someone is watching ``run_id`` for the next ``ttl_s`` seconds (renew to keep watching)."""
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO watchers VALUES (?, ?)", (run_id, time.time() + ttl_s))

    def watched(self, run_id: str) -> bool:
        """Whether an agent of ``run_id`` should stream its text here (nobody watching: no cost)."""
        with self._db() as db:
            row = db.execute("SELECT until FROM watchers WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None and row[0] > time.time()

    def read(self, run_id: str, after: int = 0, limit: int = 500) -> list[StreamEvent]:
        """The run's events with a sequence number above ``after``, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT seq, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
        return [StreamEvent(seq, kind, json.loads(data)) for seq, kind, data in rows]

    def forget(self, run_id: str) -> int:
        with self._db() as db:
            return db.execute("DELETE FROM events WHERE run_id = ?", (run_id,)).rowcount

    def prune(self, older_than_s: float) -> int:
        """Drop events older than ``older_than_s`` seconds (streams are for watching, not keeping)."""
        with self._db() as db:
            return db.execute("DELETE FROM events WHERE at < ?", (time.time() - older_than_s,)).rowcount


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
