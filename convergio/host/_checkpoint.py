"""WAL checkpoints mostly on their own thread, off the path of the steps and results (ADR 0028).

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses its threshold: that
commit copies about a thousand pages into the database file and syncs both files, on the
dispatcher or an activity thread, while everything behind the store's lock waits. On a chain
that cost 0.06 to 0.10 ms of wall per node. Here, every ``EVERY`` commits (and after a quiet
second), a ``checkpoint`` thread runs a ``PASSIVE`` checkpoint on a connection of its own:
SQLite lets go of the GIL for it, so the bulk of the copy and the syncs run beside the
interpreter. Only a complete checkpoint lets the next writer restart the WAL from its start.
When no commit landed while the thread copied (``PRAGMA data_version`` unchanged around it,
commits of other processes included) and it moved every frame, it is complete: the next
writer restarts the WAL by itself. Otherwise (commits landed meanwhile) the next commit
finishes it on the store's connection, under the store's lock (no writer of this process in
between): it copies only the pages of the commits since, syncs, and completes. Under load
commits nearly always land meanwhile; after a quiet second they do not, and a finish would
copy the next commit's pages and sync both files on a dispatcher or activity thread for
nothing (0.2 to 0.3 ms of CPU and milliseconds of wall holding the store's lock, measured on
the chain of 100), in the first commit of the next run. The WAL thus cycles at about
``EVERY`` commits; the store's own automatic checkpoint stays, at ``BOUND_PAGES``, for a
thread that falls behind. Durability is unchanged: a commit is in the WAL before anything
acts on it, and a checkpoint only moves committed pages. The thread keeps its connection open
between rounds (opening one cost a sixth of a round's CPU); idle in autocommit, it holds no
snapshot that would keep the WAL from restarting, and it closes when the thread stops, before
the store's own connection, which closes last and removes the WAL.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ._poller import Poller

__all__ = ["BOUND_PAGES", "Checkpointer"]

log = logging.getLogger("convergio.host.store")

EVERY = 128
"""Commits between the thread's checkpoints (a step or a batch of results writes 5 to 15 pages)."""
BOUND_PAGES = 8000
"""The store connection's own automatic checkpoint, should the thread fall behind (32 MB)."""
_IDLE_S = 1.0


class Checkpointer:
    """Checkpoints the WAL of the database at ``path`` on a ``checkpoint`` thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._tail_due = False  # the thread's checkpoint was not complete: the next commit completes it
        self.rounds = 0  # the thread's checkpoints so far (tests wait for one)
        self._commits = 0  # since the thread was last asked to checkpoint
        self._written = False  # commits since the thread's last checkpoint
        self._db: sqlite3.Connection | None = None  # the thread's own, opened on its first round
        self._poller = Poller("checkpoint", self._round, self._disconnect)
        self._poller.start()

    def committed(self, db: sqlite3.Connection) -> None:
        """A transaction committed on ``db`` (the store's connection, its lock held): finish the
        thread's last checkpoint, or have the thread start the next one, when due."""
        if self._tail_due:  # only the pages of the commits since the thread's copy: quick
            self._tail_due = False
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the transaction is committed whatever happens here
                log.debug("checkpoint not completed: %s", exc)
        self._written = True
        self._commits += 1
        if self._commits >= EVERY:
            self._commits = 0
            self._poller.poke()

    def close(self) -> None:
        self._poller.stop()

    def _round(self) -> float:
        if not self._written:
            return _IDLE_S
        self._written = False
        try:
            if self._db is None:
                # Read-write, never create: a store whose file went away has nothing to move.
                uri = f"{self._path.resolve().as_uri()}?mode=rw"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            db = self._db
            (before,) = db.execute("PRAGMA data_version").fetchone()
            _, frames, moved = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            (after,) = db.execute("PRAGMA data_version").fetchone()
            self._tail_due = moved < frames or after != before
        except sqlite3.Error as exc:  # another process's checkpoint, say: the next one catches up
            log.debug("checkpoint skipped: %s", exc)
            self._disconnect()  # a fresh connection next round, should the file have changed
        self.rounds += 1
        return _IDLE_S

    def _disconnect(self) -> None:
        """Close the thread's connection (on the thread: it is not shared)."""
        db, self._db = self._db, None
        if db is not None:
            db.close()
