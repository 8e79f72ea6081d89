"""Group commit (``convergio._sqlite``): concurrent writes share a transaction, each lands once,
nobody returns before its commit, and a failing operation fails only its own caller."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convergio._sqlite import Database


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
