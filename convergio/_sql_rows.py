"""Multi-row statements under SQLite's limits: one statement for many rows, not one per row.

CPython's ``sqlite3`` lets go of the GIL around every step of every statement (``executemany``
steps once per row), so the stores write a batch's rows with one ``INSERT ... VALUES (...),
(...)`` per chunk and look keys up with one ``IN (...)``; the chunks respect the library's
bound-parameter and statement-length limits.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["Rows", "row_chunks", "value_lists", "value_marks"]

R = TypeVar("R", bound=Sequence[object])


class Rows(Generic[R]):
    """Rows for one multi-row statement (``head VALUES (...), (...) tail``), written at flush.

    A row added under the key of an earlier one replaces it in place, so an upsert that several
    operations of a batch move (a running total) is written once, with its last value.
    """

    def __init__(self, head: str, tail: str = "") -> None:
        self._head, self._tail = head, tail
        self._rows: dict[Hashable, R] = {}
        self._unkeyed = itertools.count()

    def add(self, row: R, key: Hashable = None) -> None:
        """Defer ``row``; with the ``key`` of an earlier row, in that row's place."""
        self._rows[next(self._unkeyed) if key is None else (key,)] = row  # (key,): never a counter's int

    def chunks(self) -> list[list[R]]:
        """The rows in order, cut to SQLite's limits per statement (usually one chunk)."""
        return row_chunks(list(self._rows.values())) if self._rows else []

    def write(self, db: sqlite3.Connection, chunk: Sequence[R]) -> None:
        """One statement for the rows of a chunk."""
        marks, values = value_marks(chunk)
        db.execute(f"{self._head} VALUES {marks}{self._tail}", values)

    def flush(self, db: sqlite3.Connection) -> None:
        """Every row: one statement per chunk, none for no rows."""
        for chunk in self.chunks():
            self.write(db, chunk)


def _limits() -> tuple[int, int]:
    """The SQLite library's bound parameters and SQL characters per statement (our connections
    keep the defaults)."""
    db = sqlite3.connect(":memory:")
    try:
        return db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), db.getlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH)
    finally:
        db.close()


_MAX_PARAMETERS, _MAX_LENGTH = _limits()


def row_chunks(rows: Sequence[R], *, spare: int = 0) -> list[list[R]]:
    """``rows`` (of one width) cut to what one statement may hold under SQLite's limits, with
    ``spare`` bound parameters left for the rest of the statement."""
    if not rows:
        return []
    width = len(rows[0])
    per = max(1, min((_MAX_PARAMETERS - spare) // width, (_MAX_LENGTH - 1000) // (2 * width + 3)))
    if len(rows) <= per:  # the usual case: one statement
        return [list(rows)]
    return [list(rows[first : first + per]) for first in range(0, len(rows), per)]


def value_marks(chunk: Sequence[Sequence[object]]) -> tuple[str, list[object]]:
    """``(?, ?), (?, ?)`` for the rows of a chunk, with their values in order: a ``VALUES``
    list, or an ``IN`` list of one-value rows. One statement for many rows, not one per row:
    ``sqlite3`` lets go of the GIL around every step (``executemany`` steps once per row)."""
    if not chunk:
        return "", []
    rows, width = len(chunk), len(chunk[0])
    marks = _small_marks(rows, width) if rows <= 64 else _marks(rows, width)
    return marks, [value for row in chunk for value in row]


def _marks(rows: int, width: int) -> str:
    """``(?, ?), (?, ?)``: ``rows`` groups of ``width`` marks."""
    mark = f"({', '.join('?' * width)})"
    return ", ".join(itertools.repeat(mark, rows))


_small_marks = functools.lru_cache(maxsize=256)(_marks)
"""The marks of the few small shapes that come back on every call (a call's rows, one key)."""


def value_lists(rows: Sequence[Sequence[object]], *, spare: int = 0) -> list[tuple[str, list[object]]]:
    """:func:`value_marks` of each of the :func:`row_chunks` of ``rows``."""
    return [value_marks(chunk) for chunk in row_chunks(rows, spare=spare)]
