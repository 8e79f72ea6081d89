"""Group commit (``convergio._sqlite``): concurrent writes share a transaction, each lands once,
nobody returns before its commit, and a failing operation fails only its own caller; a batch
hears the keys first and writes deferred rows in as few statements as SQLite's limits allow."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import pytest

from convergio import _sql_rows, _sqlite
from convergio._sqlite import Batch, Database
from tests.metering._batching import in_one_batch, statements


def test_concurrent_writes_share_transactions_and_a_failure_stays_with_its_caller(tmp_path: Path) -> None:
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="FULL")
    db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    leading, release = threading.Event(), threading.Event()

    def first(c: sqlite3.Connection) -> int:
        c.execute("INSERT INTO t VALUES (-1)")
        leading.set()
        release.wait(5)  # hold the lead while the others queue behind it
        return -1

    def insert(n: int) -> int:
        def op(c: sqlite3.Connection) -> int:
            c.execute("INSERT INTO t VALUES (?)", (n,))
            if n == 7:
                c.execute("INSERT INTO t VALUES (?)", (n,))  # a duplicate key: this operation fails
            return n

        return db.write(op)

    commits: list[int] = []
    with ThreadPoolExecutor(17) as pool:
        head = pool.submit(db.write, first)
        leading.wait(5)
        futures = {n: pool.submit(insert, n) for n in range(16)}
        while len(db._queue) < 16:  # every one queued behind the leader
            threading.Event().wait(0.001)
        with sqlite3.connect(db.path) as other:
            commits.append(other.execute("SELECT COUNT(*) FROM t").fetchone()[0])
        release.set()
        assert head.result() == -1
        with pytest.raises(sqlite3.IntegrityError):
            futures[7].result()
        assert {n: f.result() for n, f in futures.items() if n != 7} == {n: n for n in range(16) if n != 7}
    assert commits == [0]  # nothing visible before the commit
    with db.read() as c:
        stored = [n for (n,) in c.execute("SELECT n FROM t ORDER BY n")]
    assert stored == [-1, *(n for n in range(16) if n != 7)]  # the failed one left nothing behind
    db.close()


def test_many_threads_writing_at_once_each_land_exactly_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL")
    db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, k INTEGER)"))
    barrier = threading.Barrier(16)

    def work(k: int) -> int:
        barrier.wait()
        new = 0
        for n in range(100):
            row = (n * 16 + k % 8, k)  # pairs of threads write the same keys: first one wins
            new += db.write(
                lambda c, row=row: c.execute("INSERT OR IGNORE INTO t VALUES (?, ?)", row).rowcount
            )
        return new

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(work, range(16))) == 800
    with db.read() as c:
        assert c.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 800
    db.close()


class _Recording(Batch):
    """A batch that keeps what it was told, and defers its rows."""

    log: ClassVar[list[str]] = []  # batches come and go: what they heard stays here

    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__(db)
        self.inserts = self.rows("INSERT INTO t")

    def begin(self, keys: Sequence[str]) -> None:
        self.log.append(f"begin {','.join(keys)}")

    def flush(self) -> None:
        self.log.append("flush")
        super().flush()

    def rollback(self) -> None:
        self.log.append("rollback")


def test_a_batch_learns_the_keys_first_and_writes_deferred_rows_in_one_statement_before_commit(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL", batch=_Recording)
    db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    _Recording.log.clear()

    def insert(n: int) -> Callable[[], int]:
        def op(batch: _Recording) -> int:
            if n == 3:
                raise ValueError("three")
            batch.inserts.add((n,))
            return n

        return lambda: db.batch_write(op, keys=(str(n),))

    with statements(db) as seen:
        futures = in_one_batch(db, [insert(n) for n in range(6)])
    assert [f.result() for f in futures if f.exception() is None] == [0, 1, 2, 4, 5]
    assert isinstance(futures[3].exception(), ValueError)  # its error, to its caller only
    assert _Recording.log[-4:] == ["begin 0,1,2,3,4,5", "rollback", "begin 0,1,2,4,5", "flush"]
    assert seen[-2:] == ["INSERT INTO t VALUES (0), (1), (2), (4), (5)", "COMMIT"]  # one statement
    with db.read() as c:
        assert [n for (n,) in c.execute("SELECT n FROM t ORDER BY n")] == [0, 1, 2, 4, 5]
    db.close()


def test_rows_replace_by_key_and_split_at_the_parameter_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sql_rows, "_MAX_PARAMETERS", 6)  # three rows of two per statement
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL")
    db.write(lambda c: c.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"))

    def op(batch: Batch) -> None:
        rows = batch.rows("INSERT INTO t")
        for n in range(8):
            rows.add((f"k{n % 7}", n), key=n % 7)  # k0 twice: the last value, in the first place
        assert len(batch.select_in("SELECT k FROM t WHERE k IN ({})", [f"x{n}" for n in range(7)])) == 0

    with statements(db) as seen:
        db.batch_write(op)
    assert [s.count("'k") for s in seen if s.startswith("INSERT")] == [3, 3, 1]
    assert sum(s.startswith("SELECT") for s in seen) == 2  # seven keys, six per statement
    with db.read() as c:
        assert dict(c.execute("SELECT k, v FROM t").fetchall()) == {f"k{n}": n for n in range(1, 7)} | {
            "k0": 7
        }
    db.close()


def test_a_deferred_write_rides_first_in_the_next_transaction_and_its_error_is_only_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_sqlite, "DEFER_S", 60.0)  # no flusher: only the next writer takes them
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL")
    db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    db.defer(lambda batch: batch.db.execute("INSERT INTO t VALUES (1)"))
    db.defer(lambda batch: batch.db.execute("INSERT INTO t VALUES (1)"))  # fails: a duplicate key
    with db.read() as c:
        assert c.execute("SELECT count(*) FROM t").fetchone() == (0,)  # not yet: nothing waited
    with statements(db) as seen:
        assert db.write(lambda c: c.execute("SELECT max(n) FROM t").fetchone()) == (1,)  # after them
    assert seen.count("BEGIN IMMEDIATE") == 2  # one transaction, run again without the failed one
    assert "a deferred write" in caplog.text  # its error is logged, raised to nobody
    with statements(db) as seen:
        db.flush()  # nothing deferred, nothing in flight: no transaction
    assert seen == []
    db.defer(lambda batch: batch.db.execute("INSERT INTO t VALUES (2)"))
    db.close()  # commits what is deferred
    with pytest.raises(sqlite3.ProgrammingError):
        db.defer(lambda batch: None)
    again = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL")
    with again.read() as c:
        assert [n for (n,) in c.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    again.close()


def test_a_deferred_write_nobody_takes_is_committed_by_the_flusher(tmp_path: Path) -> None:
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL")
    db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    reader = sqlite3.connect(tmp_path / "g.sqlite3")

    def insert(n: int) -> Callable[[Batch], object]:
        return lambda batch: batch.db.execute("INSERT INTO t VALUES (?)", (n,))

    for n in range(3):  # the flusher sleeps between bursts, then wakes again for the next
        db.defer(insert(n))
        deadline = time.monotonic() + 5
        while reader.execute("SELECT count(*) FROM t").fetchone() != (n + 1,):
            assert time.monotonic() < deadline
            time.sleep(0.005)
    reader.close()
    db.close()


def test_the_flusher_commits_a_deferred_write_only_once_it_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flusher's wait runs from the oldest write still waiting: when a writer took the one it
    woke for, a write deferred since is left to the next writer until its own ``DEFER_S`` is up
    (no transaction for a write a few milliseconds old), and it is stored once that is up."""
    monkeypatch.setattr(_sqlite, "DEFER_S", 0.4)
    db = Database(tmp_path / "g.sqlite3", timeout=5, synchronous="NORMAL")
    db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    reader = sqlite3.connect(tmp_path / "g.sqlite3")

    def insert(n: int) -> Callable[[Batch], object]:
        return lambda batch: batch.db.execute("INSERT INTO t VALUES (?)", (n,))

    db.defer(insert(1))  # the flusher wakes for it 0.4 s from now
    time.sleep(0.2)
    db.write(lambda c: None)  # takes it along
    second = time.monotonic()
    db.defer(insert(2))
    with statements(db) as seen:
        time.sleep(0.3)  # the flusher woke for the first (taken): the second is 0.3 s old
        assert seen == []
        assert reader.execute("SELECT n FROM t").fetchall() == [(1,)]
        deadline = time.monotonic() + 5
        while reader.execute("SELECT count(*) FROM t").fetchone() != (2,):
            assert time.monotonic() < deadline
            time.sleep(0.005)
    assert time.monotonic() - second >= 0.4
    assert seen.count("BEGIN IMMEDIATE") == 1  # the flusher's own, for the second
    reader.close()
    db.close()
