"""The run stream's pauses, cut short when the host in this process ends the run (ADR 0049).

A watched run's end was seen 8 to 11 ms after its commit (medians, fan-out 50 and chain 100
through HTTP): 4 to 5 of them waiting for the stream's next read, which comes every 5 ms or
more near the end. The embedded host knows the moment: the step that ends an execution tells
``convergio.host._status_pacing.ENDS`` right after its commit. When that host runs in this
process the stream watches its run there and reads the status at once; the read itself still
goes through the durable client, as on Azure (ADR 0033), and says what happened: the hint
carries no state, so a hint for anything else (a start, a purge) costs one early read.

The host's module is looked up, never imported: on Azure (or a host in another process, or a
run another host process ends) nothing tells the stream, and it reads at its own pace as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Protocol

__all__ = ["Wake", "host_ends"]

_HOST_MODULE = "convergio.host._status_pacing"


class Ends(Protocol):
    def watch(self, instance_id: str, callback: Callable[[], None]) -> Callable[[], None]: ...


def host_ends() -> Ends | None:
    """The embedded host's end signal when that host is loaded in this process, else None."""
    module = sys.modules.get(_HOST_MODULE)
    ends: Ends | None = getattr(module, "ENDS", None)
    return ends


class Wake:
    """A stream's pause: ``arm`` before a status read, then ``pause``; a hint since ``arm`` ends
    the pause at once (one that came during the read too, so an end committed while the read was
    under way is not waited for). ``close`` when the stream ends."""

    def __init__(self, run_id: str, ends: Ends | None) -> None:
        self._event = asyncio.Event()
        self._unwatch: Callable[[], None] | None = None
        if ends is not None:
            loop, event = asyncio.get_running_loop(), self._event

            def hint() -> None:  # on the host's dispatcher thread (or this loop's)
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody to wake
                    loop.call_soon_threadsafe(event.set)

            self._unwatch = ends.watch(run_id, hint)

    @property
    def hinted(self) -> bool:
        """Whether the host in this process tells this stream of its run's end."""
        return self._unwatch is not None

    def arm(self) -> None:
        self._event.clear()

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less when a hint came since ``arm``; whether one did."""
        if self._unwatch is None:
            await asyncio.sleep(seconds)
            return False
        if not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), seconds)
        return self._event.is_set()

    def close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
