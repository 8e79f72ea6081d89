"""The engine's management operations, which the Durable HTTP API calls: start an instance,
wait for it, send it an event, terminate, suspend or resume it, purge it.

Each one writes the store and wakes the instance; the step that handles the message runs on
the dispatcher thread (``_engine.py``), which this part of the engine never touches.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence

from ._events import Event, EventType, format_time, new_event, utcnow
from ._functions import FunctionIndex
from ._records import new_record, started_event
from ._sharing import WATCH_MAX_S
from ._store import TERMINAL, InstanceRecord, Message, Store, WorkItem
from ._versioning import VersionGate

__all__ = ["Conflict", "Gone", "Management", "NotFound"]

log = logging.getLogger("convergio.host.engine")


class NotFound(LookupError):
    """No such instance (HTTP 404)."""


class Gone(Exception):
    """The instance already finished (HTTP 410)."""


class Conflict(Exception):
    """A running instance already has this id (HTTP 409)."""


class Management:
    """The management operations of ``Engine``, which provides what is declared here."""

    index: FunctionIndex
    store: Store
    versions: VersionGate
    _finished: threading.Condition  # notified when an instance of this process finishes

    def _wake(self, instance_id: str, at: float = 0.0) -> None:
        raise NotImplementedError

    def _evict(self, instance_id: str) -> None:
        raise NotImplementedError

    def _poke(self) -> None:
        """Have the activity pool claim unleased work now."""
        raise NotImplementedError

    def start_new(
        self, name: str, instance_id: str | None, input_json: str | None, version: str | None = None
    ) -> str:
        """Start ``name``; ``version`` None takes host.json's ``defaultVersion`` (ADR 0020)."""
        self.index.orchestrator(name)  # LookupError names the missing function
        instance_id = instance_id or uuid.uuid4().hex
        existing = self.store.get(instance_id, header=True)
        if existing is not None and existing.status not in TERMINAL:
            raise Conflict(f"An instance with ID '{instance_id}' already exists.")
        stamp = format_time(utcnow())
        version = self.versions.versioning.for_new_instance(version)
        record = new_record(instance_id, name, input_json, stamp, parent=None, version=version)
        self._evict(instance_id)
        self.store.create(
            record,
            Message(instance_id, record.execution_id, time.time(), started_event(record, stamp)),
            replace=existing is not None,
        )
        self._wake(instance_id)
        return instance_id

    def wait(self, instance_id: str, timeout: float | None = None) -> InstanceRecord | None:
        """Block until the instance has finished (or ``timeout`` seconds passed); its record.

        Notified by the step that finishes an instance, so callers need not poll the store.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._finished:
            while True:
                record = self.store.get(instance_id)
                left = None if deadline is None else deadline - time.monotonic()
                if record is None or record.status in TERMINAL or (left is not None and left <= 0):
                    return record
                # bounded: another process sharing the store may be the one that finishes it
                self._finished.wait(4 * WATCH_MAX_S if left is None else min(left, 4 * WATCH_MAX_S))

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        self._live(instance_id)
        self._send(
            instance_id, new_event(EventType.EVENT_RAISED, format_time(utcnow()), Name=name, Input=data_json)
        )

    def terminate(self, instance_id: str, reason: str | None) -> None:
        self._live(instance_id)
        self._send(
            instance_id,
            new_event(EventType.EXECUTION_TERMINATED, format_time(utcnow()), Input=json.dumps(reason)),
        )

    def suspend(self, instance_id: str, reason: str | None) -> None:
        self._live(instance_id)
        self._send(
            instance_id, new_event(EventType.EXECUTION_SUSPENDED, format_time(utcnow()), Reason=reason)
        )

    def resume(self, instance_id: str, reason: str | None) -> None:
        self._live(instance_id)
        self._send(instance_id, new_event(EventType.EXECUTION_RESUMED, format_time(utcnow()), Reason=reason))

    def run_committed_work(self, instance_id: str, items: Sequence[WorkItem], reason: str | None) -> None:
        """Run work a management operation committed for an instance (rewind: ``_rewind.py``).

        Its history was rewritten under a new execution, so its kept session and shim are stale.
        """
        log.info("instance %s rewound (%s): %d activities run again", instance_id, reason, len(items))
        self._evict(instance_id)
        self._poke()  # its rows are unleased: whoever has a thread free claims them

    def purge(self, instance_ids: Sequence[str]) -> int:
        finished = [
            i
            for i in instance_ids
            if (r := self.store.get(i, header=True)) is not None and r.status in TERMINAL
        ]
        for instance_id in finished:
            self._evict(instance_id)
        return self.store.purge(finished)

    def _live(self, instance_id: str) -> InstanceRecord:
        """The instance's header (no large values: only its status is asked) if it still runs."""
        record = self.store.get(instance_id, header=True)
        if record is None:
            raise NotFound(f"No instance with ID '{instance_id}' found.")
        if record.status in TERMINAL:
            raise Gone(f"Instance '{instance_id}' is {record.status.lower()}.")
        return record

    def _send(self, instance_id: str, event: Event) -> None:
        self.store.send(Message(instance_id, None, time.time(), event))
        self._wake(instance_id)
