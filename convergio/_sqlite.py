"""One SQLite connection per store, shared by a process's threads, with group commit.

The stores the ``run_agent`` activity writes on every call (ledger, quotas, streams) would
otherwise commit once per call, and with ``synchronous=FULL`` a commit is an fsync: parallel
activities then queue on the store's lock, one fsync each. Here a writer queues its operation;
when no commit is under way it leads: it commits every queued operation in one ``BEGIN
IMMEDIATE`` transaction (one fsync), in queue order, so each operation sees the ones before it
exactly as if it had run alone; then it wakes each writer of the batch, and hands the lead to
the first writer queued meanwhile (nobody commits for others forever). A follower sleeps on a
lock of its own, so waking a batch is no convoy through a shared lock. An operation that
raises is left out (the batch is rolled back and run again without it) and its error goes to
its own caller only, so operations must touch nothing but the connection. Nobody returns
before the commit of their operation.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

__all__ = ["Database", "run_script"]

T = TypeVar("T")


class _Write(Generic[T]):
    """One queued operation and, once its batch is over, its outcome."""

    __slots__ = ("done", "error", "op", "result", "wake")

    def __init__(self, op: Callable[[sqlite3.Connection], T]) -> None:
        self.op = op
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()  # held until the writer is to wake: done, or to lead
        self.wake.acquire()


class Database:
    """A WAL database file behind one connection and a lock, written by group commit.

    Args:
        path: The database file (created with its directory if missing).
        timeout: Seconds to wait for another connection's (process's) write lock.
        synchronous: ``FULL`` when a commit must be on disk before it returns (billing);
            ``NORMAL`` when a crash of the machine may lose the last commits but never
            corrupts the file.
    """

    def __init__(self, path: Path, *, timeout: float, synchronous: Literal["NORMAL", "FULL"]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()  # the connection's
        self._queue_lock = threading.Lock()  # the queue's and the lead's
        self._queue: list[_Write[Any]] = []
        self._leading = False
        self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        _wal(self._db, timeout)
        self._db.execute(f"PRAGMA synchronous={synchronous}")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, to this thread alone, for reads (autocommit: each sees the last commit)."""
        with self._lock:
            yield self._db

    def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` in a write transaction, committed (maybe with others') before this returns.

        Returns:
            What ``op`` returned.

        Raises:
            Whatever ``op`` raised (its writes are rolled back), or the commit's error.
        """
        write = _Write(op)
        with self._queue_lock:
            self._queue.append(write)
            follow, self._leading = self._leading, True
        if follow:
            write.wake.acquire()
        if not write.done:
            self._lead()
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]  # T, set by _commit when there is no error

    def _lead(self) -> None:
        """Commit the queue, wake its writers, and pass the lead on (or drop it: queue empty)."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        with self._lock:
            self._commit(batch)
        with self._queue_lock:
            successor = self._queue[0] if self._queue else None
            self._leading = successor is not None
        if successor is not None:
            successor.wake.release()
        for write in batch:
            if write.wake.locked():  # not the leader's own when the lead was passed to it
                write.wake.release()

    def _commit(self, batch: list[_Write[Any]]) -> None:
        """One transaction for the batch. An operation that raises gets its error; the
        transaction is rolled back and run again without it (no savepoint per operation:
        under a busy GIL every statement the leader runs costs a wait for the GIL)."""
        db = self._db
        pending = batch
        try:
            while pending:
                db.execute("BEGIN IMMEDIATE")  # the write lock first: ``op`` reads the latest commit
                try:
                    failed = _run_until_one_fails(db, pending)
                    if failed is None:
                        db.execute("COMMIT")
                        break
                    db.execute("ROLLBACK")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                pending = [write for write in pending if write is not failed]
        except BaseException as exc:  # nothing of the batch is stored: each caller learns why
            for write in batch:
                if write.error is None:
                    write.error = exc
        finally:
            for write in batch:
                write.done = True

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


def run_script(db: sqlite3.Connection, script: str) -> None:
    """The ``;``-separated statements of a schema, inside the caller's transaction
    (``executescript`` would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _wal(db: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL, waiting out other connections opening a new file at the same moment
    (the switch answers "locked" at once instead of using the busy timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _run_until_one_fails(db: sqlite3.Connection, batch: list[_Write[Any]]) -> _Write[Any] | None:
    """Run the operations in order; the first that raises (its error kept) stops the run."""
    for write in batch:
        try:
            write.result = write.op(db)
        except Exception as exc:
            write.error = exc
            return write
    return None
