"""The per-run event channel: an append-only SQLite table that writers fill and readers tail.

Activities (an agent's streamed text) and the API's SSE endpoint may run in different threads
or processes, so the channel is a file in the home directory, not memory: writers append rows,
a reader asks for the rows after the last sequence number it saw. The sequence number is the
SSE event id, so a reconnecting client (``Last-Event-ID``) resumes where it stopped.

Streaming a provider's answer costs a row per batch of deltas, so agents stream only while
someone watches the run (``watch`` / ``watched``, renewed by the reader); unwatched calls
answer in one piece as before. ``watched`` runs on every agent call, so it answers from memory:
a view of the live watchers, which this instance's ``watch`` updates at once and which is read
again from the file when ``PRAGMA data_version`` says another connection (the SSE endpoint's
process) committed, looked at no more often than every ``recheck_s`` seconds (50 ms). A watch made
elsewhere is thus seen by every ``watched`` call that starts ``recheck_s`` after its commit.
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
    """Append and tail run events in one SQLite file, safe across threads and processes.

    Args:
        path: The database file.
        recheck_s: How long ``watched`` may miss a watch made through another connection (it
            costs a statement each time it looks; until then the agents' text is not lost,
            only answered in one piece).
    """

    def __init__(self, path: Path, *, recheck_s: float = 0.05) -> None:
        self.path = path
        self.recheck_s = recheck_s
        # One connection for the process: ``watched`` runs on every agent call. Events are for
        # watching, not keeping: a machine crash may lose the last ones (synchronous=NORMAL).
        self._db = Database(path, timeout=5.0, synchronous="NORMAL")
        self._db.write(lambda db: run_script(db, _SCHEMA))
        self._watchers: dict[str, float] = {}  # run id -> watched until (time.time())
        self._version: int | None = None  # the file's data_version when they were read
        self._recheck_at = 0.0  # time.monotonic()
        self._view_lock = threading.Lock()

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
        until = time.time() + ttl_s
        self._db.write(
            lambda db: db.execute("INSERT OR REPLACE INTO watchers VALUES (?, ?)", (run_id, until))
        )
        with self._view_lock:  # after a look at the file that began before the commit, if any
            self._watchers[run_id] = until  # the connection's own commits leave data_version as it is

    def watched(self, run_id: str) -> bool:
        """Whether an agent of ``run_id`` should stream its text here (nobody watching: no cost)."""
        if time.monotonic() >= self._recheck_at:
            self._recheck()
        until = self._watchers.get(run_id)
        return until is not None and until > time.time()

    def _recheck(self) -> None:
        """Read the live watchers again if another connection committed since the last read."""
        with self._view_lock:
            if time.monotonic() < self._recheck_at:  # another thread just looked
                return
            with self._db.read() as db:
                (version,) = db.execute("PRAGMA data_version").fetchone()
                if version != self._version:
                    live = db.execute("SELECT run_id, until FROM watchers WHERE until > ?", (time.time(),))
                    self._watchers, self._version = dict(live.fetchall()), version
            self._recheck_at = time.monotonic() + self.recheck_s

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
