"""When a busy instance's custom status is stored: at most every ``STATUS_INTERVAL_S``, and at
most that late (ADR 0011, ADR 0012).

An orchestrator may set its status after every completion, and encoding and writing it is
O(its size) per step. While completions keep arriving (another step of the instance is due
now), it is stored at most every ``STATUS_INTERVAL_S``; a step that leaves it pending makes
sure the instance wakes to store it by then. The last step of a burst stores it at once, so a
watcher sees every state a quiet instance settles in. The dispatcher thread alone uses this.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ._store import TERMINAL, InstanceRecord, Store

__all__ = ["STATUS_INTERVAL_S", "StatusPacer"]

STATUS_INTERVAL_S = 0.25
"""A busy instance's custom status is stored at most this often, and at most this late."""


class StatusPacer:
    """The custom statuses stored late: which, made at which history length, and when due."""

    def __init__(self, store: Store, busy: Callable[[str], bool]) -> None:
        self._store = store
        self._busy = busy  # is another step of the instance due now?
        self._written: dict[str, float] = {}  # instance -> when its custom status was stored (monotonic)
        # instance -> its newer custom status JSON, not stored, and the history length it was made at
        self._pending: dict[str, tuple[str, int]] = {}

    def to_store(self, instance_id: str, encoded: str | None, history_len: int, *, last: bool) -> str | None:
        """What a step stores as the custom status: ``encoded`` when due (or the instance's
        ``last`` step), else None and it stays pending. ``encoded`` None (no status, or refused)
        leaves nothing older pending. ``history_len``: the history once the step is committed."""
        if encoded is None:
            self._pending.pop(instance_id, None)
            return None
        if last or self._due(instance_id):
            return encoded
        self._pending[instance_id] = (encoded, history_len)
        return None

    def moved(self, instance_id: str, history_len: int) -> None:
        """A step that ran no orchestrator code grew the history: a pending status is still the newest."""
        if (pending := self._pending.get(instance_id)) is not None:
            self._pending[instance_id] = (pending[0], history_len)

    def wake_at(self, instance_id: str) -> float | None:
        """When (``time.time()``) the instance must wake to store a pending status, if it has one."""
        if instance_id not in self._pending:
            return None
        written = self._written.get(instance_id, 0.0)
        return time.time() + max(0.0, written + STATUS_INTERVAL_S - time.monotonic())

    def store_pending(self, record: InstanceRecord) -> None:
        """A wake-up with nothing in the inbox: store the custom status left pending, if due."""
        pending = self._pending.get(record.instance_id)
        if pending is None or record.status in TERMINAL:
            return
        if self._due(record.instance_id):  # not over a newer one (ADR 0023)
            self._store.set_custom_status(record.instance_id, pending[0], history_len=pending[1])

    def forget(self, instance_id: str) -> None:
        self._written.pop(instance_id, None)
        self._pending.pop(instance_id, None)

    def _due(self, instance_id: str) -> bool:
        """Store the status now (and count it written), or keep it pending for a little while?"""
        busy = self._busy(instance_id)
        moment = time.monotonic()
        last = self._written.get(instance_id)
        if busy and last is not None and moment - last < STATUS_INTERVAL_S:
            return False
        self._written[instance_id] = moment
        self._pending.pop(instance_id, None)
        return True
