"""The activity threads: a last-in-first-out pool without futures (ADR 0035).

``ThreadPoolExecutor`` costs more per item than the host needs: a ``Future`` nobody reads,
its condition notified on completion, an idle semaphore taken and released around every
item, and a queue that wakes whichever waiting thread the kernel picks, so a chain of
activities rotates through all 16 threads and each call finds its thread's stack, its
thread-local connections and the CPU caches cold. Here an idle thread parks on its own lock
and ``submit`` wakes the one that parked last (the warmest); a thread that finishes takes the
next queued item without parking; nothing is allocated per item but its place in the queue.

Items ``together`` says yes to (async activities, ADR 0065) are run several at once by the
thread that takes the first: it ``take``s the others from the queue, so they wake one thread
between them, not one each.

After each item a thread may run ``after`` (the engine steps an instance there, ADR 0046). What
``after`` submits is queued for the calling thread first: it goes back to the queue at once, so
one item wakes no other thread (a chain's next node runs on the thread that recorded the last).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["WorkerPool"]

log = logging.getLogger("convergio.host.activities")

T = TypeVar("T")

_live: weakref.WeakSet[WorkerPool[Any]] = weakref.WeakSet()
_here = threading.local()  # ``pool``: the pool whose thread this is; ``after``: in its ``after``


def _at_exit() -> None:
    """At interpreter exit, as for ``ThreadPoolExecutor``: queued items are dropped, items in
    flight finish, and the exit waits for them (their results get committed)."""
    for pool in list(_live):
        pool.shutdown()


# Called before the interpreter joins its threads (the hook ``concurrent.futures`` uses); without
# it, daemon threads, so that an exit never waits for a parked thread.
_register_atexit: Callable[[Callable[[], None]], None] | None = getattr(threading, "_register_atexit", None)
if _register_atexit is not None:
    _register_atexit(_at_exit)


class WorkerPool(Generic[T]):
    """Up to ``size`` threads named ``<name>_<n>``, started as work needs them, each calling
    ``run`` on queued items in order, then ``after``; the idle thread that parked last runs first."""

    def __init__(
        self,
        size: int,
        name: str,
        run: Callable[[T], None],
        after: Callable[[], None] | None = None,
        together: Callable[[T], bool] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._size, self._name, self._run, self._after = size, name, run, after
        self._together = together
        self._lock = threading.Lock()
        self._queue: deque[T] = deque()
        self._parked: list[threading.Lock] = []  # a stack: the top one parked last
        self._threads = 0
        self._stopped = False
        _live.add(self)

    def owns_thread(self) -> bool:
        """Is the calling thread one of this pool's?"""
        return getattr(_here, "pool", None) is self

    def submit(self, items: Sequence[T]) -> None:
        """Queue items; wake as many parked threads as there are items (one fewer the first
        time this pool's ``after`` submits: its thread takes one next), start more if allowed."""
        if not items:
            return
        wanted = len(items)
        if self._together is not None:  # the thread that takes the first of them takes them all
            alone = sum(1 for item in items if not self._together(item))
            wanted = alone + (alone < wanted)
        if getattr(_here, "after", False) and self.owns_thread():
            _here.after, wanted = False, wanted - 1
        with self._lock:
            if self._stopped:
                return
            self._queue.extend(items)
            woken = [self._parked.pop() for _ in range(min(wanted, len(self._parked)))]
            started = min(wanted - len(woken), self._size - self._threads)
            self._threads += started
            first = self._threads - started
        for wake in woken:
            wake.release()
        for n in range(first, first + started):
            threading.Thread(
                target=self._work, name=f"{self._name}_{n}", daemon=_register_atexit is None
            ).start()

    def take(self) -> list[T]:
        """Remove the queued items ``together`` says yes to and return them (the calling
        thread runs them with its own)."""
        together = self._together
        if together is None or not self._queue:  # a glance first: most turns find nothing queued
            return []
        with self._lock:
            if not self._queue:
                return []
            marks = [together(item) for item in self._queue]
            if not any(marks):
                return []
            taken = [item for item, mark in zip(self._queue, marks, strict=True) if mark]
            self._queue = deque(item for item, mark in zip(self._queue, marks, strict=True) if not mark)
        return taken

    def shutdown(self) -> None:
        """Drop what is queued and let every thread end once its current item is done."""
        with self._lock:
            self._stopped = True
            self._queue.clear()
            parked, self._parked = self._parked, []
        for wake in parked:
            wake.release()

    def _work(self) -> None:
        _here.pool = self
        wake = threading.Lock()
        wake.acquire()  # held while running; released by whoever wakes this thread
        while True:
            with self._lock:
                if self._queue:
                    item = self._queue.popleft()
                elif self._stopped:
                    return
                else:
                    self._parked.append(wake)
                    item = None
            if item is None:
                wake.acquire()
                continue
            try:
                self._run(item)
            except BaseException:  # a thread lost to one item's failure would shrink the pool
                log.exception("activity thread: an item failed outside its activity")
            if self._after is not None:
                _here.after = True
                try:
                    self._after()
                except BaseException:
                    log.exception("activity thread: the step after an item failed")
                finally:
                    _here.after = False
