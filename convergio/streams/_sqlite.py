"""The embedded run event channel: an append-only SQLite table in the home directory.

Sequence numbers come from one ``AUTOINCREMENT`` for all runs: unique and increasing, so they
are increasing within each run too. ``watched`` answers from memory: a view of the live
watchers, which this instance's ``watch`` updates at once and which is read again from the file
when ``PRAGMA data_version`` says another connection (the SSE endpoint's process) committed,
looked at no more often than every ``recheck_s`` seconds (50 ms). A watch made elsewhere is thus
seen by every ``watched`` call that starts ``recheck_s`` after its commit. Cancellations
(``cancel`` / ``cancelled``) are kept and seen the same way. ``post`` is a deferred write of
the group commit (``Database.defer``): it rides first in the next transaction, usually the
agent call's own last ``append`` (ADR 0040).

Each instance watches under a name of its own (a row per run and reader), so the view also
tells whether another instance watches a run. ``read`` stores this instance's posts first, so
``seal`` commits nothing while the run's only watchers are this instance's own (the embedded
host's one process: its SSE endpoint and its agents), and flushes otherwise; a watch made
elsewhere counts from ``recheck_s`` after its commit, as it does for ``watched`` (ADR 0055).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from convergio._sqlite import Database, run_script

from ._sse import compact
from ._store import CANCEL_KEEP_S, StreamEvent, root_of

__all__ = ["SqliteRunStream"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, seq);
CREATE TABLE IF NOT EXISTS watches (
    run_id TEXT NOT NULL, reader TEXT NOT NULL, until REAL NOT NULL, PRIMARY KEY (run_id, reader)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cancels (run_id TEXT PRIMARY KEY, at REAL NOT NULL);
"""

_INSERT = "INSERT INTO events (run_id, kind, data, at) VALUES (?, ?, ?, ?)"

_log = logging.getLogger("convergio.streams")


class SqliteRunStream:
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
        self._reader = uuid.uuid4().hex  # this instance's name in ``watches``
        self._watchers: dict[str, float] = {}  # run id -> watched until (time.time())
        self._own: dict[str, float] = {}  # run id -> watched by this instance until
        self._elsewhere: dict[str, float] = {}  # run id -> watched by other instances until
        self._cancels: frozenset[str] = frozenset()  # root run ids cancelled
        self._version: int | None = None  # the file's data_version when they were read
        self._recheck_at = 0.0  # time.monotonic()
        self._view_lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def append(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        row = (run_id, kind, compact(data), time.time())
        return self._db.write(lambda db: int(db.execute(_INSERT, row).lastrowid or 0))

    def post(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        # Deferred (ADR 0040): it rides first in the next transaction anyone makes (usually the
        # call's own last append), or in the flusher's within DEFER_S.
        row = (run_id, kind, compact(data), time.time())
        self._db.defer(lambda batch: batch.db.execute(_INSERT, row))

    def flush(self) -> None:
        self._db.flush()

    def seal(self, run_id: str) -> None:
        if time.monotonic() >= self._recheck_at:
            self._recheck()
        now = time.time()
        if self._own.get(run_id, 0.0) > now and self._elsewhere.get(run_id, 0.0) <= now:
            return  # only this instance's readers watch: their ``read`` stores the posts first
        try:
            self._db.flush()
        except Exception:  # the stream is for watching: logged, the call goes on
            _log.warning("run stream: events of %s not stored", run_id, exc_info=True)

    def watch(self, run_id: str, ttl_s: float) -> None:
        until = time.time() + ttl_s
        row = (run_id, self._reader, until)
        self._db.write(lambda db: db.execute("INSERT OR REPLACE INTO watches VALUES (?, ?, ?)", row))
        with self._view_lock:  # after a look at the file that began before the commit, if any
            # the connection's own commits leave data_version as it is
            self._watchers[run_id] = max(until, self._watchers.get(run_id, 0.0))
            self._own[run_id] = until

    def watched(self, run_id: str) -> bool:
        if time.monotonic() >= self._recheck_at:
            self._recheck()
        until = self._watchers.get(run_id)
        return until is not None and until > time.time()

    def cancel(self, run_id: str) -> None:
        root = root_of(run_id)
        self._db.write(
            lambda db: db.execute("INSERT OR REPLACE INTO cancels VALUES (?, ?)", (root, time.time()))
        )
        with self._view_lock:
            self._cancels = self._cancels | {root}

    def cancelled(self, run_id: str) -> bool:
        if time.monotonic() >= self._recheck_at:
            self._recheck()
        return root_of(run_id) in self._cancels

    def _recheck(self) -> None:
        """Read the live watchers and cancellations again if another connection committed since."""
        with self._view_lock:
            if time.monotonic() < self._recheck_at:  # another thread just looked
                return
            with self._db.read() as db:
                (version,) = db.execute("PRAGMA data_version").fetchone()
                if version != self._version:
                    now = time.time()
                    rows = db.execute(  # one statement for both views
                        "SELECT run_id, until, reader FROM watches WHERE until > ?"
                        " UNION ALL SELECT run_id, at, NULL FROM cancels WHERE at > ?",
                        (now, now - CANCEL_KEEP_S),
                    ).fetchall()
                    self._watch_view(rows, now)
                    self._cancels = frozenset(run for run, _, reader in rows if reader is None)
                    self._version = version
            self._recheck_at = time.monotonic() + self.recheck_s

    def _watch_view(self, rows: list[tuple[str, float, str | None]], now: float) -> None:
        """The live watches in the file: who watches each run until when, this instance or another."""
        watchers: dict[str, float] = {}
        own: dict[str, float] = {}
        elsewhere: dict[str, float] = {}
        for run, until, reader in rows:
            if reader is None:  # a cancellation
                continue
            watchers[run] = max(until, watchers.get(run, 0.0))
            mine = own if reader == self._reader else elsewhere
            mine[run] = max(until, mine.get(run, 0.0))
        self._watchers, self._elsewhere = watchers, elsewhere
        # this instance's own watches are known at once (``watch``): kept while live
        self._own = {run: until for run, until in self._own.items() if until > now} | own

    def read(self, run_id: str, after: int = 0, limit: int = 500) -> list[StreamEvent]:
        self._db.flush()  # what this instance posted is readable before the read (``seal``)
        with self._db.read() as db:
            rows = db.execute(
                "SELECT seq, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
        return [StreamEvent(seq, kind, json.loads(data), data) for seq, kind, data in rows]

    def forget(self, run_id: str) -> int:
        return self._db.write(
            lambda db: db.execute("DELETE FROM events WHERE run_id = ?", (run_id,)).rowcount
        )

    def prune(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        old = time.time() - CANCEL_KEEP_S

        def drop(db: Any) -> int:
            db.execute("DELETE FROM cancels WHERE at < ?", (old,))
            db.execute("DELETE FROM watches WHERE until < ?", (time.time(),))
            return int(db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount)

        return self._db.write(drop)
