"""A background thread that polls, backing off while there is nothing to do, and can be poked.

The activity runner's ``leases`` thread and the engine's ``watch`` thread (ADR 0023) are both
this: do one round, wait as long as the round asks or until poked, again until stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Poller"]


class Poller:
    """Runs ``work`` on a daemon thread named ``name``, round after round; it returns how long to
    wait. ``finish`` runs on the thread once stopped (to close what the rounds kept open there)."""

    def __init__(
        self, name: str, work: Callable[[], float], finish: Callable[[], None] | None = None
    ) -> None:
        self._round = work
        self._finish = finish
        self._stopped = threading.Event()
        self._poke = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._poke.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poke(self) -> None:
        """End the current wait: there is something to look at."""
        self._poke.set()

    def _loop(self) -> None:
        try:
            while not self._stopped.is_set():
                delay = self._round()
                if delay > 0:
                    self._poke.wait(delay)
                self._poke.clear()
        finally:
            if self._finish is not None:
                self._finish()
