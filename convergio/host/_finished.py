"""Executions that have ended, so their queued activities are dropped instead of run.

A step that ends an execution (completed, failed, terminated, continued as new) deletes its
pending work rows in the same commit, but work items already handed to the activity pool sit
in the pool's queue. Azure discards what such work produces (the result message reaches an
instance that is no longer running); the pool asks here first and does not run it at all, so a
terminated instance's queued work never occupies a thread (ADR 0017). Only ids are kept, a
bounded number, newest last: a queue drains long before that many executions end.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["FinishedExecutions"]


class FinishedExecutions:
    """A bounded, thread-safe set of execution ids that have ended."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.listeners: list[Callable[[str], None]] = []  # worker processes hear of it (ADR 0029)

    def add(self, execution_id: str) -> None:
        with self._lock:
            self._ids[execution_id] = None
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
        for listener in self.listeners:
            listener(execution_id)

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self._ids
