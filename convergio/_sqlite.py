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
its own caller only, so operations must touch nothing but the connection and their
:class:`Batch`. Nobody returns before the commit of their operation, except a deferred one
(:meth:`Database.defer`, ADR 0027): a write whose loss the store can afford runs first in the
next transaction, or in one a flusher thread makes for it within ``DEFER_S``, and nobody waits.

Statements, not fsyncs, are then what a store costs: CPython's ``sqlite3`` lets go of the GIL
around every step of every statement (every row of an ``executemany`` too), and winning it back
from a dozen busy threads takes longer than the step. So the operations of one transaction
share a :class:`Batch`: it learns, before they run, the keys they declared (one ``IN (...)``
query can fetch what all of them will look up), and it collects the rows they write into
multi-row statements, run once before ``COMMIT``. A store's batch type adds its own prefetch
and caches; an error while flushing fails the whole batch, like a failed ``COMMIT``.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, overload

from convergio._sql_rows import Rows, value_lists

__all__ = [
    "DEFER_S",
    "Batch",
    "Database",
    "Readers",
    "run_script",
]

DEFER_S = 0.02
"""How long a deferred write waits for a transaction to ride in before one is made for it."""

_log = logging.getLogger("convergio.sqlite")

T = TypeVar("T")
B = TypeVar("B", bound="Batch")


class Batch:
    """What the operations of one transaction share; this base class shares nothing.

    A store's subclass prefetches in :meth:`begin`, defers rows to :class:`Rows` made by
    :meth:`rows`, and drops its caches in :meth:`rollback`. A new batch serves each attempt at
    a transaction (a rolled-back one is run again without its failed operation).
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._deferred: list[Rows[Sequence[object]]] = []

    def rows(self, head: str, tail: str = "") -> Rows[Sequence[object]]:
        """A multi-row statement flushed before ``COMMIT``, after those made before it."""
        rows: Rows[Sequence[object]] = Rows(head, tail)
        self._deferred.append(rows)
        return rows

    def begin(self, keys: Sequence[str]) -> None:
        """Inside the transaction, before the first operation: the keys the operations declared."""

    def flush(self) -> None:
        """After the last operation, before ``COMMIT``: write the deferred rows."""
        for rows in self._deferred:
            rows.flush(self.db)

    def rollback(self) -> None:
        """The transaction was rolled back: forget whatever it taught the store."""

    def write_alone(self) -> bool:
        """Write what the operations staged as one statement outside a transaction, which
        SQLite then commits on its own; ``False``: nothing written, a transaction is needed.

        Only for a batch whose operations read and write nothing (they stage rows; see
        :attr:`STAGES_ONLY`): the statement's own implicit transaction is then the batch's.
        Under a busy interpreter every statement costs a wait for the GIL, and ``BEGIN`` and
        ``COMMIT`` are two of them.
        """
        return False

    STAGES_ONLY = False
    """Whether the operations only stage rows (they run before any transaction begins, and
    :meth:`write_alone` may write the batch in one statement)."""

    def select_in(self, sql: str, keys: Sequence[str]) -> list[Any]:
        """The rows of ``sql`` with its ``{}`` filled by as many marks as ``keys`` has: one
        statement per chunk under SQLite's limits, and one (``IN ()``) for no keys."""
        found: list[Any] = []
        for marks, values in value_lists([(key,) for key in dict.fromkeys(keys)]) or [("", [])]:
            found += self.db.execute(sql.format(marks), values).fetchall()
        return found


class _Write(Generic[B, T]):
    """One queued operation and, once its batch is over, its outcome."""

    __slots__ = ("deferred", "done", "error", "keys", "op", "queued", "result", "stages", "wake")

    def __init__(
        self, op: Callable[[B], T], keys: Sequence[str], *, deferred: bool = False, stages: bool = False
    ) -> None:
        self.op = op
        self.keys = keys
        self.stages = stages  # it only stages rows: its batch may commit alone (``Batch.write_alone``)
        self.deferred = deferred  # nobody waits for it (``Database.defer``)
        self.queued = time.monotonic() if deferred else 0.0  # the flusher's clock starts here
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()  # held until the writer is to wake: done, or to lead
        self.wake.acquire()


class Database(Generic[B]):
    """A WAL database file behind one connection and a lock, written by group commit.

    Args:
        path: The database file (created with its directory if missing).
        timeout: Seconds to wait for another connection's (process's) write lock.
        synchronous: ``FULL`` when a commit must be on disk before it returns (billing);
            ``NORMAL`` when a crash of the machine may lose the last commits but never
            corrupts the file.
        batch: Makes the :class:`Batch` of each transaction (default: the base, sharing nothing).
    """

    @overload
    def __init__(
        self: Database[Batch], path: Path, *, timeout: float, synchronous: Literal["NORMAL", "FULL"]
    ) -> None: ...

    @overload
    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        synchronous: Literal["NORMAL", "FULL"],
        batch: Callable[[sqlite3.Connection], B],
    ) -> None: ...

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        synchronous: Literal["NORMAL", "FULL"],
        batch: Callable[[sqlite3.Connection], Any] = Batch,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._batch: Callable[[sqlite3.Connection], B] = batch
        self._stages_only: bool = getattr(batch, "STAGES_ONLY", False)  # a Batch class says so
        self._lock = threading.Lock()  # the connection's
        self._queue_lock = threading.Lock()  # the queue's and the lead's
        self._queue: list[_Write[B, Any]] = []
        self._leading = False
        self._deferred: list[_Write[B, Any]] = []  # run first in the next transaction; nobody waits
        self._in_flight = 0  # deferred writes taken by a transaction not yet over
        self._wanted = threading.Condition(self._queue_lock)  # deferred writes wait for a flusher
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        _wal(self._db, timeout)
        self._db.execute(f"PRAGMA synchronous={synchronous}")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, to this thread alone, for reads (autocommit: each sees the last commit)."""
        with self._lock:
            yield self._db

    def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` on the connection in a write transaction (see :meth:`batch_write`)."""
        return self._queued(_Write(lambda batch: op(batch.db), (), stages=False))

    def batch_write(self, op: Callable[[B], T], keys: Sequence[str] = ()) -> T:
        """Run ``op`` in a write transaction, committed (maybe with others') before this returns.

        Args:
            op: The operation, given the transaction's batch (only staging rows in it, when
                the batch type says :attr:`Batch.STAGES_ONLY`).
            keys: What ``op`` will look up, told to the batch before any operation runs.

        Returns:
            What ``op`` returned.

        Raises:
            Whatever ``op`` raised (its writes are rolled back), or the flush's or commit's error.
        """
        return self._queued(_Write(op, keys, stages=self._stages_only))

    def _queued(self, write: _Write[B, T]) -> T:
        """Queue ``write``; lead or follow until its batch is over; its outcome."""
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

    def defer(self, op: Callable[[B], object], keys: Sequence[str] = ()) -> None:
        """Queue ``op`` for the next transaction and return at once, without its commit.

        It runs first in the next transaction anyone makes, or in one made for it by a flusher
        thread within :data:`DEFER_S`; :meth:`flush` (before a read that must see it) and
        :meth:`close` commit it at once. Only for writes whose loss the store can afford: a
        crash before the commit loses it, and so does an error (logged, raised to nobody).
        """
        write: _Write[B, object] = _Write(op, keys, deferred=True)
        with self._queue_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("the database is closed")
            self._deferred.append(write)
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_later, name="sqlite-defer", daemon=True)
                self._flusher.start()
                _deferring.add(self)  # flushed at exit too (the flusher is a daemon)
            self._wanted.notify()  # no waiter (the flusher is sleeping): a check, no system call

    def flush(self) -> None:
        """Commit the deferred writes now, and wait for those a transaction is committing."""
        if self._deferred or self._in_flight:
            self.write(_nothing)

    def _flush_later(self) -> None:
        """The flusher: deferred writes that no transaction took within ``DEFER_S`` get one.

        It sleeps until the oldest waiting write is ``DEFER_S`` old, and makes a transaction
        only if that write is still waiting: one a writer took meanwhile needs none (on a busy
        store, nearly always), and the writes queued since have their own ``DEFER_S``.
        """
        while True:
            with self._wanted:
                while not self._deferred and not self._closed:
                    self._wanted.wait()
                if self._closed:
                    return
                oldest = self._deferred[0]
            time.sleep(max(0.0, oldest.queued + DEFER_S - time.monotonic()))
            with self._queue_lock:
                waiting = bool(self._deferred) and self._deferred[0] is oldest
            if waiting:  # nobody took it: its transaction, and every deferred write's since
                try:
                    self.write(_nothing)
                except Exception:  # the writes' own errors are logged by the transaction
                    _log.warning("deferred writes to %s: the transaction failed", self.path, exc_info=True)

    def _lead(self) -> None:
        """Commit the queue, wake its writers, and pass the lead on (or drop it: queue empty)."""
        with self._queue_lock:
            writes, self._queue = self._queue, []
            if self._deferred:  # first: they were queued before anything now in the queue
                writes[:0], self._deferred = self._deferred, []
                self._in_flight += 1
        taken = bool(writes) and writes[0].deferred
        with self._lock:
            self._commit(writes)
        with self._queue_lock:
            if taken:
                self._in_flight -= 1
            successor = self._queue[0] if self._queue else None
            self._leading = successor is not None
        if successor is not None:
            successor.wake.release()
        for write in writes:
            if write.deferred and write.error is not None:
                _log.warning("a deferred write to %s failed", self.path, exc_info=write.error)
            if write.wake.locked():  # not the leader's own when the lead was passed to it
                write.wake.release()

    def _commit(self, writes: list[_Write[B, Any]]) -> None:
        """One transaction for the writes. An operation that raises gets its error; the
        transaction is rolled back and run again without it (no savepoint per operation:
        under a busy GIL every statement the leader runs costs a wait for the GIL)."""
        db = self._db
        pending = writes
        try:
            while pending:
                staged: B | None = None
                if all(write.stages for write in pending):  # staged first, then maybe one statement
                    staged = self._batch(db)
                    failed = _run_until_one_fails(staged, pending)
                    if failed is not None:
                        pending = [write for write in pending if write is not failed]
                        continue
                    if staged.write_alone():
                        break
                batch = staged or self._batch(db)
                db.execute("BEGIN IMMEDIATE")  # the write lock first: ``op`` reads the latest commit
                try:
                    batch.begin([key for write in pending for key in write.keys])
                    failed = None if staged else _run_until_one_fails(batch, pending)
                    if failed is None:
                        batch.flush()
                        db.execute("COMMIT")
                        break
                    db.execute("ROLLBACK")
                    batch.rollback()
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    batch.rollback()
                    raise
                pending = [write for write in pending if write is not failed]
        except BaseException as exc:  # nothing of the batch is stored: each caller learns why
            for write in writes:
                if write.error is None:
                    write.error = exc
        finally:
            for write in writes:
                write.done = True

    def close(self) -> None:
        """Commit the deferred writes, stop the flusher, close the connection."""
        self.flush()
        with self._wanted:
            self._closed = True
            self._wanted.notify()
        with self._lock:
            self._db.close()


class Readers:
    """One read-only connection per thread to a store's file, kept for the store's life (ADR 0032).

    Beside a store's :class:`Database` (its one writer): a read never queues behind a commit's
    fsync nor on another thread's lock, and opening a connection is no longer a cost per call.
    Each connection runs in autocommit, so every statement sees the last commit of any
    connection or process; it closes with its thread (its thread-local goes) or the store.

    Args:
        path: The database file (its :class:`Database` creates it and switches it to WAL).
        timeout: Seconds to wait for a lock another connection holds.
    """

    def __init__(self, path: Path, *, timeout: float) -> None:
        self.path = path
        self._timeout = timeout
        self._local = threading.local()

    def __call__(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first read."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
        return db


def _nothing(_: sqlite3.Connection) -> None:
    """The operation of a transaction made only to commit deferred writes."""


_deferring: weakref.WeakSet[Database[Any]] = weakref.WeakSet()
"""The open databases that ever deferred a write: a process that exits normally stores them all."""


@atexit.register
def _flush_at_exit() -> None:
    for db in list(_deferring):
        if not db._closed:
            try:
                db.flush()
            except Exception:
                _log.warning("deferred writes to %s not stored at exit", db.path, exc_info=True)


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


def _run_until_one_fails(batch: B, writes: list[_Write[B, Any]]) -> _Write[B, Any] | None:
    """Run the operations in order; the first that raises (its error kept) stops the run."""
    for write in writes:
        try:
            write.result = write.op(batch)
        except Exception as exc:
            write.error = exc
            return write
    return None
