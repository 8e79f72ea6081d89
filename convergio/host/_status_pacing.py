"""When a busy instance's custom status is stored: at most every ``STATUS_INTERVAL_S``, and at
most that late (ADR 0011, ADR 0012).

An orchestrator may set its status after every completion, and encoding and writing it is
O(its size) per step. While completions keep arriving (another step of the instance is due
now), it is stored at most every ``STATUS_INTERVAL_S``; a step that leaves it pending makes
sure the instance wakes to store it by then. The last step of a burst stores it at once, so a
watcher sees every state a quiet instance settles in. The dispatcher thread alone uses this.

``ENDS`` tells in-process watchers of an instance that it ended: the step that ends an execution
forgets its pacing right after its commit, and when the store then says the instance is
finished (or gone: purged) its watchers are told. The run stream, when this host serves it,
reads the status then instead of at its next pause (ADR 0049); on Azure nothing tells it: it
reads at its own pace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ._store import TERMINAL, InstanceRecord, Store

__all__ = ["ENDS", "STATUS_INTERVAL_S", "InstanceEnds", "StatusPacer"]

log = logging.getLogger("convergio.host.engine")

STATUS_INTERVAL_S = 0.25
"""A busy instance's custom status is stored at most this often, and at most this late."""


class InstanceEnds:
    """Callbacks to run (on the notifying thread) when an instance's execution may have ended.

    A hint, never the news itself: a watcher told reads the status, which says what happened.
    ``notify`` costs a dict lookup when nobody watches the instance (every execution end calls it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[str, tuple[Callable[[], None], ...]] = {}

    def watch(self, instance_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` at each ``notify(instance_id)`` until the returned function is called."""
        with self._lock:
            self._watchers[instance_id] = (*self._watchers.get(instance_id, ()), callback)

        def unwatch() -> None:
            with self._lock:
                left = tuple(c for c in self._watchers.get(instance_id, ()) if c is not callback)
                if left:
                    self._watchers[instance_id] = left
                else:
                    self._watchers.pop(instance_id, None)

        return unwatch

    def watched(self, instance_id: str) -> bool:
        return instance_id in self._watchers

    def notify(self, instance_id: str) -> None:
        for callback in self._watchers.get(instance_id, ()):  # a tuple: replaced, never changed
            try:
                callback()
            except Exception:  # a watcher's fault never reaches the step that ended the instance
                log.warning("a watcher of %s failed", instance_id, exc_info=True)


ENDS = InstanceEnds()
"""This process's: the engine's ``StatusPacer.forget`` notifies it."""


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
        """The instance's execution ended, or its session was dropped: nothing pending. If the
        store now says it ended (or it is gone), ``ENDS`` is told: a watcher's read after the hint
        comes after the end's commit (a session dropped mid-run tells nobody)."""
        self._written.pop(instance_id, None)
        self._pending.pop(instance_id, None)
        if ENDS.watched(instance_id):
            record = self._store.get(instance_id, header=True)
            if record is None or record.status in TERMINAL:
                ENDS.notify(instance_id)

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
