"""Async activities on their pool thread's own event loop, as many at once as are queued (ADR 0065).

The Python worker runs an ``async def`` function on its event loop, concurrently with the
others, and a sync one on a thread of its pool. Here a pool thread that takes an async item
runs it on an event loop of its own, with every async item queued behind it and every one
queued while they run: while one awaits (a commit, a timer, a thread), the others go on, on
the same thread. A fan-out of agents then wakes one thread, not one per agent, and what the
agents await together (their ledger commit) is done once for them all.

Results are handed back once per turn of the loop, so the ones that ended together are
committed together (the runner's group commit); the last turn's, when nothing else runs, go
back through the pool's ``after`` as a sync item's do (the step on this thread, ADR 0046/0052).
An async activity with a durable client is not run here: the SDK's client session belongs to
the host's loop (``FunctionIndex.on_own_loop``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from ._events import Event
from ._store import WorkItem

__all__ = ["LoopBatch"]

Start = Callable[[WorkItem], Coroutine[Any, Any, Event | None]]
"""An item's run: its result event, or ``None`` when it was not run (its instance ended)."""
Failed = Callable[[WorkItem, BaseException], Event]
"""The failure event of an item whose run raised past ``Start`` (cancelled)."""
Landed = Callable[[list[tuple[WorkItem, Event | None]], bool], None]
"""Results of one turn, and whether they are the batch's last (nothing runs or is queued)."""


class _Kept:
    """A pool thread's event loop, made at its first async item and closed with the thread
    (its thread-local goes when the thread ends)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_running():
            self.loop.close()


_here = threading.local()  # ``kept``: this pool thread's loop


def _loop() -> asyncio.AbstractEventLoop:
    kept: _Kept | None = getattr(_here, "kept", None)
    if kept is None or kept.loop.is_closed():
        kept = _here.kept = _Kept()
    return kept.loop


class LoopBatch:
    """The async items one pool thread runs together: ``run`` returns once none is left."""

    def __init__(
        self, start: Start, failed: Failed, adopt: Callable[[], Sequence[WorkItem]], landed: Landed
    ) -> None:
        self._start, self._failed, self._adopt, self._landed = start, failed, adopt, landed
        self._loop = _loop()
        self._left = 0  # started, not handed back
        self._ended: list[tuple[WorkItem, Event | None]] = []
        self._turn_due = False

    def run(self, first: WorkItem) -> None:
        """Run ``first`` and whatever async items are queued or come, until none is left."""
        self._begin([first, *self._adopt()])
        self._loop.run_forever()  # until the last turn stops it

    def _begin(self, items: Sequence[WorkItem]) -> None:
        self._left += len(items)
        for item in items:
            self._loop.create_task(self._start(item)).add_done_callback(partial(self._end, item))

    def _end(self, item: WorkItem, task: asyncio.Task[Event | None]) -> None:
        try:
            event = task.result()
        except BaseException as exc:  # cancelled: the start itself catches what the function raises
            event = self._failed(item, exc)
        self._ended.append((item, event))
        if len(self._ended) == self._left:  # none left to end with it: this turn is now
            self._turn()
        elif not self._turn_due:  # after every callback ready now: the tasks that ended with it
            self._turn_due = True
            self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._turn_due = False
        ended, self._ended = self._ended, []
        if not ended:  # its tasks were handed back by a turn taken at once
            return
        self._left -= len(ended)
        more = self._adopt()
        last = not self._left and not more
        try:
            self._landed(ended, last)
        finally:
            if more:
                self._begin(more)
            elif not self._left:
                self._loop.stop()  # ``run_forever`` returns once this callback is done
