"""The per-run event channel: one protocol, two adapters (SQLite in the home | Cosmos DB), and text batching.

Activities (an agent's streamed text) and the API's SSE endpoint may run in different threads,
processes or instances, so the channel is shared state, not memory: writers append events, a
reader asks for the events after the last sequence number it saw. The sequence number is the
SSE event id, so a reconnecting client (``Last-Event-ID``) resumes where it stopped, on any
instance: within a run, sequence numbers are unique and increase in the order events were
appended, whichever instance appended them.

Streaming a provider's answer costs a write per batch of deltas, so agents stream only while
someone watches the run (``watch`` / ``watched``, renewed by the reader); unwatched calls
answer in one piece as before. ``watched`` runs on every agent call, so both adapters answer
it from memory, looking at the shared watchers no more often than every ``recheck_s``.
A call's events must be readable before it returns (before the run can end and a watcher's
stream close): ``TextChannel.close`` stores them, and a call without text ``seal``-s its
``began``, which costs no commit when the run's only watchers read through the same instance
(ADR 0055).

The channel also carries a run's cancellation (``cancel`` / ``cancelled``, ADR 0017): the API
marks a cancelled run here, and ``run_agent`` asks before and during each provider call, so
the check must be as cheap as ``watched`` and seen by every instance within ``recheck_s``.
A sub-graph's run id is ``<root>/<node>``: cancelling the root cancels its sub-graphs too.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from convergio.controlplane import CosmosPlane

__all__ = [
    "CANCEL_KEEP_S",
    "STORE_FILE",
    "RunStream",
    "StreamEvent",
    "TextChannel",
    "open_run_stream",
    "root_of",
]

_log = logging.getLogger("convergio.streams")

STORE_FILE = "streams.sqlite3"
CANCEL_KEEP_S = 86_400.0
"""How long a cancellation is remembered: longer than any agent call, or a start, can take."""


def root_of(run_id: str) -> str:
    """The top-level run of ``run_id`` (a sub-graph runs as ``<root>/<node>``)."""
    return run_id.partition("/")[0]


@dataclass(frozen=True, slots=True)
class StreamEvent:
    seq: int
    kind: str
    data: dict[str, Any]
    text: str | None = None
    """``data`` as stored, when the channel stored it as ``compact`` writes it (the SSE message
    sends it as is: a wide run's stream decoded and encoded hundreds of them per read)."""


@runtime_checkable
class RunStream(Protocol):
    """Append and tail run events; say whether anyone watches a run."""

    recheck_s: float
    """How long ``watched`` may miss a watch made elsewhere (until then text is answered in one piece)."""

    def append(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        """Add an event to the run; its sequence number (above every earlier one of the run, > 0)."""
        ...

    def post(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        """Add an event without waiting for it to be stored (ADR 0040): it is stored, after every
        event this instance added before it, when this instance's next ``append`` or ``flush``
        returns, or within a few tens of milliseconds by itself. A crash before may lose it: only
        for a writer that calls ``append`` or ``flush`` before its events must be seen (an agent
        call before it returns, as ``TextChannel.close`` does)."""
        ...

    def flush(self) -> None:
        """Store every event this instance ``post``-ed so far before returning."""
        ...

    def seal(self, run_id: str) -> None:
        """Before returning, make what this instance posted readable by every watcher of the run
        (ADR 0055): ``flush``, unless only this instance's own readers watch it, whose ``read``
        stores this instance's posts first. A failure is logged: the stream is for watching."""
        ...

    def read(self, run_id: str, after: int = 0, limit: int = 500) -> list[StreamEvent]:
        """The run's events with a sequence number above ``after``, oldest first, at most ``limit``;
        every event this instance posted before the call is among them (stored first if need be)."""
        ...

    def watch(self, run_id: str, ttl_s: float) -> None:
        """Someone is watching ``run_id`` for the next ``ttl_s`` seconds (renew to keep watching)."""
        ...

    def watched(self, run_id: str) -> bool:
        """Whether an agent of ``run_id`` should stream its text here (nobody watching: no cost)."""
        ...

    def cancel(self, run_id: str) -> None:
        """Mark the run cancelled (for ``CANCEL_KEEP_S``): its agents stop at their next check."""
        ...

    def cancelled(self, run_id: str) -> bool:
        """Whether ``run_id`` (or its root run) was cancelled; from memory, at most ``recheck_s`` stale."""
        ...

    def forget(self, run_id: str) -> int:
        """Drop the run's events; how many there were."""
        ...

    def prune(self, older_than_s: float) -> int:
        """Drop events older than ``older_than_s`` seconds (streams are for watching, not keeping)."""
        ...

    def close(self) -> None: ...


def open_run_stream(home: Path, *, cosmos: CosmosPlane | None = None) -> RunStream:
    """The run event channel: in the shared control plane when there is one, else a file in ``home``.

    Args:
        home: The state directory (``CONVERGIO_HOME``); the file is ``home/streams.sqlite3``.
        cosmos: The control plane's Cosmos DB (several instances share it), or None.

    Returns:
        The channel.
    """
    if cosmos is not None:
        from ._cosmos import CosmosRunStream

        return CosmosRunStream(cosmos)
    from ._sqlite import SqliteRunStream

    return SqliteRunStream(home / STORE_FILE)


class TextChannel:
    """An ``on_text`` callback: text deltas of one agent call, appended in small batches.

    A provider may send a delta per token; one write per token would make the writer the slow
    part, so deltas are joined and written at most every ``interval_s`` (and on ``close``). The
    batches before the last are posted (the provider's stream does not wait for a commit); the
    last one is appended, or the channel flushed when there is none, so everything the call
    posted (its ``began`` too) is stored, in order, before ``close`` returns: before the
    activity returns, so before the run can end and a watcher's stream close (ADR 0040).
    """

    def __init__(self, stream: RunStream, run_id: str, node_id: str, attempt: int, interval_s: float = 0.05):
        self._stream, self._run_id = stream, run_id
        self._meta = {"node": node_id, "attempt": attempt}
        self._interval = interval_s
        self._parts: list[str] = []
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, delta: str) -> None:
        if not delta:
            return
        with self._lock:
            self._parts.append(delta)
            if time.monotonic() - self._last >= self._interval:
                self._flush()

    def close(self) -> None:
        with self._lock:
            if self._parts:
                self._stream.append(self._run_id, "text", self._take())
            else:
                try:
                    self._stream.flush()
                except Exception:  # the stream is for watching: logged, the call goes on
                    _log.warning("run stream: events of %s not stored", self._run_id, exc_info=True)

    def _flush(self) -> None:
        self._last = time.monotonic()
        if self._parts:
            self._stream.post(self._run_id, "text", self._take())

    def _take(self) -> dict[str, Any]:
        text, self._parts = "".join(self._parts), []
        return {**self._meta, "delta": text}
