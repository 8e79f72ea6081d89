"""One process's share of a store that several processes use (ADR 0023).

``Sharing`` keeps the instance leases this process holds, so that one process at a time steps
an instance (a partition of one, as DurableTask.AzureStorage's control-queue leases), and a
``watch`` thread that wakes instances for messages other processes queued (events raised and
activity results recorded through another host sharing the store; this host's own worker
processes send theirs through pipes, ADR 0029), and, every third of a lease, instances with
messages whose lease ran out (a dead host's). The watch polls fast while messages come and
backs off when none do; while no other process has the store open (``Presence``), it reads
nothing: only this process writes messages then, and it wakes what it writes itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from ._leases import acquire_instance, inbox_news, orphans
from ._poller import Poller
from ._store import Store

__all__ = ["WATCH_MAX_S", "Presence", "Sharing"]

log = logging.getLogger("convergio.host.engine")

WATCH_MIN_S, WATCH_MAX_S = 0.005, 0.05
"""How often the watch thread looks for other processes' messages: while they come, and idle."""


class Presence:
    """Whether another engine has a store open, through a POSIX lock on a file beside it.

    Each process holds a shared lock on ``<store>-hosts`` while an engine of it runs on the
    store; one that can take the exclusive lock for a moment is the only process (its own locks
    never conflict with each other, a conversion that fails leaves the shared lock in place, and
    locks go with their process, however it ends). Engines of one process on one file count
    each other here (POSIX locks are per process: one file descriptor per file, shared).
    Two system calls, where a look at the store is a read transaction.
    """

    _open: ClassVar[dict[str, list[int]]] = {}  # path -> [fd, engines of this process on it]
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: Path | None) -> None:
        """``store`` None: a store no other engine can open (in memory)."""
        self._key = str(store.resolve()) if store is not None else ""
        if not self._key:
            return
        with Presence._lock:
            entry = Presence._open.get(self._key)
            if entry is None:
                fd = os.open(f"{self._key}-hosts", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.lockf(fd, fcntl.LOCK_SH)  # waits out another's moment of LOCK_EX
                entry = Presence._open[self._key] = [fd, 0]
            entry[1] += 1

    def alone(self) -> bool:
        if not self._key:
            return True
        with Presence._lock:
            fd, engines = Presence._open[self._key]
            if engines > 1:
                return False
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
            fcntl.lockf(fd, fcntl.LOCK_SH)
            return True

    def close(self) -> None:
        if not self._key:
            return
        with Presence._lock:
            entry = Presence._open[self._key]
            entry[1] -= 1
            if entry[1] == 0:
                del Presence._open[self._key]
                with contextlib.suppress(OSError):
                    os.close(entry[0])  # releases the lock
        self._key = ""


class Sharing:
    """Instance leases and the watch of one process; ``wake(instance, at)`` steps an instance."""

    def __init__(self, store: Store, owner: str, lease_s: float, wake: Callable[[str, float], None]) -> None:
        self.store, self.owner, self.lease_s, self._wake = store, owner, lease_s, wake
        self._held: dict[str, float] = {}  # instance -> until when this process leased it
        self._others: dict[str, float] = {}  # instance -> until when it is left to another process
        self._beat_until = 0.0  # every lease of this process runs at least until then (heartbeat)
        self._mark = 0  # the last inbox id the watch has seen
        self._idle, self._next_sweep = WATCH_MIN_S, 0.0
        self._watch = Poller("watch", self._watch_round)
        self._presence: Presence | None = None
        self.reads = 0  # inbox reads the watch made (a test counts them)

    def start(self) -> None:
        """Watch from now on (what is in the inbox already, the engine's start wakes)."""
        with self.store.reading() as db:
            path = db.execute("PRAGMA database_list").fetchone()[2]
        self._presence = Presence(Path(path) if path else None)
        self._mark = inbox_news(self.store, 0, self.owner)[0]
        self._next_sweep = time.monotonic() + self.lease_s / 3
        self._watch.start()

    def stop(self) -> None:
        self._watch.stop()
        if self._presence is not None:
            self._presence.close()

    def beat(self, until: float) -> None:
        """The heartbeat renewed every lease of this process until ``until``."""
        self._beat_until = until

    def hold(self, instance_id: str) -> bool:
        """Does this process hold the instance's lease (taking or extending it when needed)?

        Called by the dispatcher before a step. A lease taken is kept, renewed by the
        heartbeat, until the instance ends; a lease lost while this process stalled is caught
        by the store's check of the history length (``StepConflict``) and dropped then.
        """
        now = time.time()
        held = self._held.get(instance_id)
        if held is not None and max(held, self._beat_until) - now > self.lease_s / 2:
            return True
        if self._others.get(instance_id, 0.0) > now:
            return False
        if acquire_instance(self.store, instance_id, self.owner, now, now + self.lease_s):
            self._held[instance_id] = now + self.lease_s
            self._others.pop(instance_id, None)
            return True
        self._held.pop(instance_id, None)
        self._others[instance_id] = now + self.lease_s / 3  # the orphan sweep looks again by then
        return False

    def drop(self, instance_id: str) -> None:
        """Forget the lease (the instance ended, or a step found it lost): ask the store next."""
        self._held.pop(instance_id, None)

    def _watch_round(self) -> float:
        """Wake what other processes' messages concern; how long to wait before looking again."""
        found: list[tuple[str, float]] = []
        try:
            if self._presence is None or not self._presence.alone():  # else nobody else writes
                self.reads += 1
                self._mark, found = inbox_news(self.store, self._mark, self.owner)
            if time.monotonic() >= self._next_sweep:  # a dead process's instances, alone or not
                self._next_sweep = time.monotonic() + self.lease_s / 3
                found += orphans(self.store, time.time())
        except Exception:
            log.exception("watching the store failed; retrying")
        for instance_id, visible_at in found:
            self._wake(instance_id, visible_at)
        self._idle = WATCH_MIN_S if found else min(self._idle * 2, WATCH_MAX_S)
        return self._idle
