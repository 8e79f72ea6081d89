"""Helpers to put calls into one group-commit batch of a store and to count its statements."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from convergio._sqlite import Database

T = TypeVar("T")


def in_one_batch(db: Database[Any], calls: list[Callable[[], T]]) -> list[Future[T]]:
    """Run each call in a thread of its own, queued in list order behind a write that holds the
    lead, so that they all share the next transaction; their futures, done."""
    leading, release = threading.Event(), threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        leading.set()
        release.wait(10)

    with ThreadPoolExecutor(len(calls) + 1) as pool:
        head = pool.submit(db.write, hold)
        assert leading.wait(10)
        futures: list[Future[T]] = []
        for call in calls:
            futures.append(pool.submit(call))
            deadline = time.monotonic() + 10
            while len(db._queue) < len(futures):  # queued: the next one goes behind it
                assert time.monotonic() < deadline
                time.sleep(0.0005)
        release.set()
        head.result()
        for future in futures:
            future.exception(10)
    return futures


@contextmanager
def statements(db: Database[Any]) -> Iterator[list[str]]:
    """The statements the store's connection runs meanwhile (not those SQLite runs inside them,
    which it traces as ``-- ...``: the one of ``pragma_data_version()``)."""
    seen: list[str] = []
    db._db.set_trace_callback(lambda sql: None if sql.startswith("--") else seen.append(sql))
    try:
        yield seen
    finally:
        db._db.set_trace_callback(None)
