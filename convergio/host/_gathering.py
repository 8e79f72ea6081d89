"""The gathering window: a step for results waits a little while more are coming (ADR 0057).

A step costs about 1 to 1.8 ms of CPU whatever it carries (the replay of its new events, the
custom status, the shim's state, the commit). In a wide fan-out on the product path, billing
makes calls end spread out, so results reached the dispatcher one or two at a time and each
woke a step of its own. When results of this host's pool are recorded for an instance that
still has many activities in flight here, its wake-up is set a short, bounded time after the
first of them instead of now: the results recorded meanwhile share that step.

It is a scheduling choice, not a semantic one: the history is the one a step per result would
write, up to how the results are grouped into steps (the Durable extension groups what it
dequeues in one batch, ADR 0057). Only results of this host's pool open a window; every other
wake-up (a start, a timer, an external event, a termination, another process's message or
result) is as early as it was, and replaces a pending window.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GATHER", "NO_GATHERING", "GatherWindow"]


@dataclass(frozen=True, slots=True)
class GatherWindow:
    """``window_s``: how long after the first result a step may wait (0: never waits).
    ``min_in_flight``: a window opens only while at least this many of the instance's items are
    in flight in this host's pool (a chain's lone item never opens one). An open window ends
    at once when the instance has nothing left in flight, or ``enough`` results wait."""

    window_s: float = 0.004
    min_in_flight: int = 16
    enough: int = 64

    def __post_init__(self) -> None:
        if self.window_s < 0:
            raise ValueError("window_s must not be negative")
        if self.min_in_flight < 1 or self.enough < 1:
            raise ValueError("min_in_flight and enough must be >= 1")

    def opens(self, waiting: int, in_flight: int) -> bool:
        """Does a step for ``waiting`` results, with ``in_flight`` items still running, wait?"""
        return self.window_s > 0 and in_flight >= self.min_in_flight and waiting < self.enough

    def holds(self, waiting: int, in_flight: int) -> bool:
        """Does an open window stay open after more results (``waiting`` in all)?"""
        return in_flight > 0 and waiting < self.enough


GATHER = GatherWindow()
"""The host's window (ADR 0057 measured 2 to 16 ms): at least the pool's 16 threads' worth in
flight, a graph's default ``max_parallel`` (64) of results at most."""

NO_GATHERING = GatherWindow(window_s=0.0)
"""Every result steps at once (the tests' reference, and a comparison in benchmarks)."""
