"""The shared run event channel: Cosmos DB container ``streams`` (partition ``/tenant_id``).

A reader may resume (``Last-Event-ID``) on another instance than the writer's, so sequence
numbers are allocated through the database, not a process counter:

- Each run's events live in the run's own partition ``~run:<id>``, one document per event
  whose id is the zero-padded sequence number. Appending creates the next id; a 409 means
  another instance took that number, so the writer reads the run's last number and tries the
  one after. Numbers are thus unique, gap-free and in append order, whoever appends. Each
  instance caches a run's next number (for ``_CACHE_S``), so a lone writer pays one create.
- ``~streams:runs`` indexes the runs that have events (for ``prune``: queries never cross
  partitions), with ``floor``, the highest number ever dropped, so ``forget`` and ``prune``
  do not make a run's numbering start again below what a reader has seen (until ``prune``
  drops the entry of a run whose events are all gone: its stream is over).
- ``~streams:watchers`` holds one document per watched run; ``watched`` answers from memory
  and reads the live ones again at most every ``recheck_s`` (1 s: each look is a query).
  The same partition holds one ``cancel`` document per cancelled root run, live for
  ``CANCEL_KEEP_S``; ``cancelled`` answers from memory, refreshed by that same query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Final

from convergio.controlplane import (
    CosmosPlane,
    cas_update,
    create_doc,
    delete_doc,
    global_partition,
    query_docs,
    read_doc,
    safe_id,
    unavailable,
)
from convergio.errors import StoreUnavailable

from ._store import CANCEL_KEEP_S, StreamEvent, root_of

__all__ = ["CONTAINER", "CosmosRunStream"]

_log = logging.getLogger("convergio.streams")

CONTAINER: Final = "streams"
_STORE: Final = "streams"
_RUNS: Final = global_partition("streams", "runs")
_WATCHERS: Final = global_partition("streams", "watchers")
_ATTEMPTS: Final = 64
_LOCKS: Final = 64
_CACHED_RUNS: Final = 4096
_CACHE_S: Final = 60.0


def _partition(run_id: str) -> str:
    return global_partition("run", run_id)


def _event_id(seq: int) -> str:
    return f"{seq:020d}"


class CosmosRunStream:
    """Append and tail run events in the control plane, shared by every instance.

    Args:
        plane: The control plane's Cosmos DB (the ``streams`` container).
        recheck_s: How long ``watched`` may miss a watch made on another instance.
    """

    def __init__(self, plane: CosmosPlane, *, recheck_s: float = 1.0) -> None:
        self._container = plane.container(CONTAINER)
        self.recheck_s = recheck_s
        self._locks = [threading.Lock() for _ in range(_LOCKS)]  # one writer per run per instance
        self._next: OrderedDict[str, tuple[int, float]] = OrderedDict()  # run -> (next seq, cached at)
        self._next_lock = threading.Lock()
        self._watchers: dict[str, float] = {}  # run id -> watched until (time.time())
        self._cancels: frozenset[str] = frozenset()  # root run ids cancelled
        self._recheck_at = 0.0  # time.monotonic()
        self._view_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CosmosRunStream({self._container.id!r})"

    def close(self) -> None:
        """Nothing to close: the plane owns the client."""

    def _lock(self, run_id: str) -> threading.Lock:
        return self._locks[hash(run_id) % _LOCKS]

    def _cached(self, run_id: str) -> int | None:
        with self._next_lock:
            found = self._next.get(run_id)
        return None if found is None or time.monotonic() - found[1] > _CACHE_S else found[0]

    def _cache(self, run_id: str, seq: int | None) -> None:
        with self._next_lock:
            if seq is None:
                self._next.pop(run_id, None)
                return
            self._next[run_id] = (seq, self._next.get(run_id, (0, time.monotonic()))[1])
            self._next.move_to_end(run_id)
            while len(self._next) > _CACHED_RUNS:
                self._next.popitem(last=False)

    def _last(self, run_id: str) -> int:
        """The run's highest sequence number taken so far (0 for none)."""
        found = query_docs(
            self._container,
            _partition(run_id),
            "SELECT TOP 1 c.seq FROM c WHERE c.tenant_id = @pk ORDER BY c.seq DESC",
        )
        return int(found[0]["seq"]) if found else 0

    def _first_seq(self, run_id: str) -> int:
        """Index the run (once per run per cache period) and find the number after its last one."""
        doc_id = safe_id(run_id)
        index = read_doc(self._container, doc_id, _RUNS)
        if index is None:
            create_doc(
                self._container, {"id": doc_id, "tenant_id": _RUNS, "run_id": run_id, "at": time.time()}
            )
        floor = 0 if index is None else int(index.get("floor", 0))
        self._cache(run_id, None)  # a fresh entry, so it is cached for _CACHE_S from now
        return max(floor, self._last(run_id)) + 1

    def append(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        body = {
            "tenant_id": _partition(run_id),
            "run_id": run_id,
            "kind": kind,
            "data": data,
            "at": time.time(),
        }
        with unavailable(_STORE), self._lock(run_id):
            seq = self._cached(run_id) or self._first_seq(run_id)
            for _ in range(_ATTEMPTS):
                if create_doc(self._container, {**body, "id": _event_id(seq), "seq": seq}):
                    self._cache(run_id, seq + 1)
                    return seq
                seq = max(seq, self._last(run_id)) + 1  # another instance took it
        raise StoreUnavailable(f"the event stream of run {run_id!r} is too contended; try again")

    def post(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        # One create either way: there is no transaction to share, so nothing to defer to.
        self.append(run_id, kind, data)

    def flush(self) -> None:
        """Nothing posted waits: ``post`` stores at once."""

    def seal(self, run_id: str) -> None:
        """Nothing to store: each ``post`` was stored when it was made."""

    def read(self, run_id: str, after: int = 0, limit: int = 500) -> list[StreamEvent]:
        if limit < 1:
            return []
        with unavailable(_STORE):
            docs = query_docs(
                self._container,
                _partition(run_id),
                "SELECT TOP @n c.seq, c.kind, c.data FROM c WHERE c.tenant_id = @pk AND c.seq > @after"
                " ORDER BY c.seq",
                n=limit,
                after=after,
            )
        return [StreamEvent(int(doc["seq"]), doc["kind"], doc["data"]) for doc in docs]

    def watch(self, run_id: str, ttl_s: float) -> None:
        until = time.time() + ttl_s
        with unavailable(_STORE):
            self._container.upsert_item(
                {"id": safe_id(run_id), "tenant_id": _WATCHERS, "run_id": run_id, "until": until}
            )
        with self._view_lock:  # after a look that began before the write, if any
            self._watchers[run_id] = until

    def watched(self, run_id: str) -> bool:
        """From memory; one thread looks at the shared watchers when ``recheck_s`` has passed."""
        if time.monotonic() >= self._recheck_at and self._view_lock.acquire(blocking=False):
            try:
                if time.monotonic() >= self._recheck_at:
                    self._recheck()
            finally:
                self._view_lock.release()
        until = self._watchers.get(run_id)
        return until is not None and until > time.time()

    def cancel(self, run_id: str) -> None:
        root = root_of(run_id)
        with unavailable(_STORE):
            now = time.time()
            self._container.upsert_item(
                {
                    "id": safe_id("cancel", root),  # ':' is escaped in run ids: no watcher has this id
                    "tenant_id": _WATCHERS,
                    "kind": "cancel",
                    "run_id": root,
                    "at": now,
                    "until": now + CANCEL_KEEP_S,
                }
            )
        with self._view_lock:
            self._cancels = self._cancels | {root}

    def cancelled(self, run_id: str) -> bool:
        """From memory, like ``watched`` (the same look refreshes both)."""
        self.watched("")
        return root_of(run_id) in self._cancels

    def _recheck(self) -> None:
        """Read the live watchers and cancellations again; an unreachable backend keeps the last view."""
        try:
            with unavailable(_STORE):
                docs = query_docs(
                    self._container,
                    _WATCHERS,
                    "SELECT c.run_id, c.until, c.kind FROM c WHERE c.tenant_id = @pk AND c.until > @now",
                    now=time.time(),
                )
        except StoreUnavailable as exc:
            _log.warning("watchers not rechecked: %s", exc)
        else:
            cancels = {str(doc["run_id"]) for doc in docs if doc.get("kind") == "cancel"}
            self._watchers = {
                str(doc["run_id"]): float(doc["until"]) for doc in docs if doc.get("kind") != "cancel"
            }
            self._cancels = frozenset(cancels)
        self._recheck_at = time.monotonic() + self.recheck_s

    def _drop(self, run_id: str, before: float | None) -> int:
        """Delete the run's events (those appended before ``before``), raising its floor to the highest."""
        partition = _partition(run_id)
        if before is None:
            docs = query_docs(self._container, partition, "SELECT c.id, c.seq FROM c WHERE c.tenant_id = @pk")
        else:
            docs = query_docs(
                self._container,
                partition,
                "SELECT c.id, c.seq FROM c WHERE c.tenant_id = @pk AND c.at < @before",
                before=before,
            )
        dropped = sum(delete_doc(self._container, doc["id"], partition) for doc in docs)
        if docs:
            top = max(int(doc["seq"]) for doc in docs)

            def raise_floor(index: dict[str, Any] | None) -> dict[str, Any] | None:
                current: dict[str, Any] = {"run_id": run_id, "at": time.time()} if index is None else index
                return None if int(current.get("floor", 0)) >= top else {**current, "floor": top}

            cas_update(self._container, safe_id(run_id), _RUNS, raise_floor)
        return dropped

    def forget(self, run_id: str) -> int:
        """Drop the run's events; its index entry keeps the floor until ``prune`` finds it empty."""
        with unavailable(_STORE), self._lock(run_id):
            return self._drop(run_id, None)

    def prune(self, older_than_s: float) -> int:
        """Drop old events of every indexed run, the index entries of runs left empty, and dead watchers."""
        cutoff, dropped = time.time() - older_than_s, 0
        with unavailable(_STORE):
            runs = query_docs(
                self._container,
                _RUNS,
                "SELECT * FROM c WHERE c.tenant_id = @pk AND c.at < @cutoff",
                cutoff=cutoff,
            )
            for index in runs:
                run_id = str(index["run_id"])
                with self._lock(run_id):
                    dropped += self._drop(run_id, cutoff)
                    if not self._last_exists(run_id):
                        delete_doc(self._container, str(index["id"]), _RUNS)
                        self._cache(run_id, None)
            dead = query_docs(
                self._container,
                _WATCHERS,
                "SELECT c.id FROM c WHERE c.tenant_id = @pk AND c.until < @now",
                now=time.time(),
            )
            for doc in dead:
                delete_doc(self._container, str(doc["id"]), _WATCHERS)
        return dropped

    def _last_exists(self, run_id: str) -> bool:
        return bool(
            query_docs(
                self._container, _partition(run_id), "SELECT TOP 1 c.id FROM c WHERE c.tenant_id = @pk"
            )
        )
