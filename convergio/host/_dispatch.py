"""When instances step, and who steps them: one step at a time, on whichever thread is free (ADR 0046).

Wake-ups are kept in time order (one per instance: an earlier one replaces a later one). The
right to step is a role held under a lock, not one thread's identity: the ``orchestrations``
thread takes it for what it was woken for (timers, messages other threads and processes sent),
and an activity thread that has just committed results takes it after its item, when no step
runs, for the first wake-up due. A chain's node then goes activity, result commit, next step,
next activity on one thread, without waking the dispatcher thread and being woken back by it
(two context switches per node, each followed by a wait for the interpreter). Either way the steps
run one at a time, in the order of their wake-ups, and a thread never holds the role while it
runs an activity: a slow activity delays no other instance's step.

Results of this host's pool wake their instance through ``gather``: while the instance has many
items in flight, the wake-up is set a short, bounded time after the first result, so the results
recorded meanwhile share one step (``_gathering.py``, ADR 0057). Any other wake-up of the
instance replaces that window, and a step that takes the instance takes its window with it.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Iterable

from ._gathering import GATHER, GatherWindow

__all__ = ["Dispatcher"]


class Dispatcher:
    """The wake-ups of instances and the role of stepping them; ``step(instance_id)`` runs one step
    (it must not raise)."""

    def __init__(
        self, step: Callable[[str], None], name: str = "orchestrations", window: GatherWindow = GATHER
    ) -> None:
        self._step = step
        self._window = window
        self._cond = threading.Condition()
        self._heap: list[tuple[float, str]] = []
        self._next_wake: dict[str, float] = {}
        # Instances whose pending wake-up is a gathering window's end -> the results it waits with.
        self._gathering: dict[str, int] = {}
        self._stepping = False  # the role: some thread is running a step
        self._stopping = False
        # Until when the dispatcher thread sleeps, while it does (inf: until told); None while it
        # works, when it looks at the heap again before sleeping, so nobody needs to notify it.
        self._asleep_until: float | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop stepping: the dispatcher thread ends, and a step running on another thread finishes."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        with self._cond:
            self._cond.wait_for(lambda: not self._stepping, timeout=timeout)

    def wake(self, instance_id: str, at: float = 0.0, *, notify: bool = True) -> None:
        """Step the instance at ``at`` (epoch seconds; 0 now) unless a wake-up as early is pending.
        ``notify`` False: the caller calls ``drive`` next, so the dispatcher thread is not woken."""
        with self._cond:
            self._push(instance_id, at)
            if notify:
                self._notify()

    def wake_all(self, instance_ids: Iterable[str], *, notify: bool = True) -> None:
        with self._cond:
            for instance_id in instance_ids:
                self._push(instance_id, 0.0)
            if notify:
                self._notify()

    def gather(self, arrivals: Iterable[tuple[str, int, int]], *, notify: bool = True) -> None:
        """Results of this host's pool were recorded: ``(instance_id, results, in_flight)``, the
        instance's items still in flight here. Each instance is woken now, or at the end of a
        gathering window (ADR 0057): one opens when none is pending and the window says so, and
        ends early (now) when the instance has nothing left in flight or enough results wait."""
        window = self._window
        with self._cond:
            for instance_id, results, in_flight in arrivals:
                waiting = self._gathering.pop(instance_id, None)
                if waiting is not None:  # a window is open: its end stands, or comes now
                    waiting += results
                    if window.holds(waiting, in_flight):
                        self._gathering[instance_id] = waiting
                    else:
                        self._push(instance_id, 0.0)
                elif window.opens(results, in_flight):
                    at = time.time() + window.window_s
                    pending = self._next_wake.get(instance_id)
                    if pending is None or pending > at:  # else an earlier wake-up takes them
                        self._push(instance_id, at)
                        self._gathering[instance_id] = results
                else:
                    self._push(instance_id, 0.0)
            if notify:
                self._notify()

    def drive(self) -> None:
        """Run the first due step on this thread, if no step is running (else its holder, or the
        dispatcher thread, runs it): an activity thread calls this after its item."""
        with self._cond:
            instance_id = self._take()
        if instance_id is not None:
            self._run(instance_id)

    def run_as(self, instance_id: str, step: Callable[[bool], bool]) -> bool:
        """Run ``step`` on this thread holding the role, as a step of ``instance_id``, and return
        what it returns; False without running it when the role is held, the dispatcher stops,
        or another instance's wake-up is due first (the heap's order stands: the caller leaves
        its work to the normal path then). ``step`` is told whether the instance had a wake-up
        due (taken with it: whatever woke it is the step's too). ADR 0052."""
        woken = False
        with self._cond:
            if self._stopping or self._stepping:
                return False
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                at, first = self._heap[0]
                if self._next_wake.get(first) != at:
                    heapq.heappop(self._heap)  # superseded by an earlier wake-up
                elif first != instance_id:
                    return False
                else:
                    heapq.heappop(self._heap)
                    del self._next_wake[first]
                    self._gathering.pop(first, None)
                    woken = True
                    break
            if not woken and self._gathering.pop(instance_id, None) is not None:
                del self._next_wake[instance_id]  # its window ends with this step (the heap's
                woken = True  # entry is now stale)
            self._stepping = True
        try:
            return step(woken)
        finally:
            self._release()

    def kick(self) -> None:
        """Have the dispatcher thread run what is due (after ``wake_all(notify=False)``)."""
        with self._cond:
            self._notify()

    def due(self, instance_id: str) -> bool:
        """Is a step of the instance due now, or gathering results (completions keep arriving)?"""
        with self._cond:
            at = self._next_wake.get(instance_id)
            gathering = instance_id in self._gathering
        return gathering or (at is not None and at <= time.time())

    # -- under the lock ---------------------------------------------------------------------
    def _push(self, instance_id: str, at: float) -> None:
        earliest = self._next_wake.get(instance_id)
        if earliest is not None and earliest <= at:
            return
        self._gathering.pop(instance_id, None)  # an earlier wake-up ends a window
        self._next_wake[instance_id] = at
        heapq.heappush(self._heap, (at, instance_id))

    def _notify(self) -> None:
        """Wake the dispatcher thread if it sleeps past the earliest wake-up (not while a step
        runs: it could not take the role, and the step's end calls this again)."""
        if (
            not self._stepping
            and self._asleep_until is not None
            and self._heap
            and self._heap[0][0] < self._asleep_until
        ):
            self._cond.notify()
            self._asleep_until = None  # it looks at the heap before it sleeps again

    def _take(self) -> str | None:
        """Take the role and the first due instance; None if stopping, stepping or nothing due."""
        if self._stopping or self._stepping:
            return None
        now = time.time()
        while self._heap and self._heap[0][0] <= now:
            at, instance_id = heapq.heappop(self._heap)
            if self._next_wake.get(instance_id) != at:
                continue  # superseded by an earlier wake-up
            del self._next_wake[instance_id]
            self._gathering.pop(instance_id, None)
            self._stepping = True
            return instance_id
        return None

    # -- stepping -------------------------------------------------------------------------------
    def _run(self, instance_id: str) -> None:
        try:
            self._step(instance_id)
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._stepping = False
            if self._stopping:
                self._cond.notify_all()  # stop() waits for the step to end
            else:
                self._notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while (instance_id := self._take()) is None:
                    if self._stopping:
                        return
                    delay = None if self._stepping or not self._heap else self._heap[0][0] - time.time()
                    self._asleep_until = math.inf if delay is None else time.time() + delay
                    self._cond.wait(delay)
                    self._asleep_until = None
            self._run(instance_id)
