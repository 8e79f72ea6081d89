"""An instance's stored history as a sequence, read from SQLite only when something reads it.

A kept-alive step never does (ADR 0011); a full replay, or a verifying one, reads it once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from ._events import Event
from ._store import Store

__all__ = ["LazyHistory"]


class LazyHistory(Sequence[Event]):
    """The stored history, read from SQLite only if a full replay needs it."""

    def __init__(self, store: Store, instance_id: str, length: int) -> None:
        self._store, self._id, self._len = store, instance_id, length
        self._events: list[Event] | None = None

    def _load(self) -> list[Event]:
        if self._events is None:
            self._events = self._store.history(self._id)
        return self._events

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | Sequence[Event]:
        return self._load()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._load())
