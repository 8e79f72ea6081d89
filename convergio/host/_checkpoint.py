"""WAL checkpoints mostly on their own thread, off the path of the steps and results (ADR 0028).

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses its threshold: that
commit copies about a thousand pages into the database file and syncs both files, on the
dispatcher or an activity thread, while everything behind the store's lock waits. On a chain
that cost 0.06 to 0.10 ms of wall per node. Here, every ``EVERY`` commits (and after a quiet
second), a ``checkpoint`` thread opens its own connection and runs a ``PASSIVE`` checkpoint:
SQLite lets go of the GIL for it, so the bulk of the copy and the syncs run beside the
interpreter. Commits land while it copies, so it does not complete, and only a complete
checkpoint lets the next writer restart the WAL from its start. So the next commit finishes
it on the store's connection, under the store's lock (no writer of this process in between):
it copies only the pages of the commits since, and completes. The WAL thus cycles at about
``EVERY`` commits; the store's own automatic checkpoint stays, at ``BOUND_PAGES``, for a
thread that falls behind. Durability is unchanged: a commit is in the WAL before anything
acts on it, and a checkpoint only moves committed pages.
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
        self._tail_due = False  # the thread copied the WAL: the next commit completes the checkpoint
        self._commits = 0  # since the thread was last asked to checkpoint
        self._written = False  # commits since the thread's last checkpoint
        self._poller = Poller("checkpoint", self._round)
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
            # Read-write, never create: a store whose file went away has nothing to move.
            uri = f"{self._path.resolve().as_uri()}?mode=rw"
            db = sqlite3.connect(uri, uri=True, isolation_level=None)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                db.close()
            self._tail_due = True
        except sqlite3.Error as exc:  # another process's checkpoint, say: the next one catches up
            log.debug("checkpoint skipped: %s", exc)
        return _IDLE_S
