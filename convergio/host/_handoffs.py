"""Where the step after an activity runs, and how the activity's result reaches it.

A result committed on its own (``ActivityRunner._record``) wakes its instance; on a pool
thread the step then runs at once when no other activity runs, else the dispatcher thread
steps later, for every result recorded meanwhile (ADR 0046), after a short gathering window
while the instance has many items in flight here (ADR 0057). A result whose item was the only
one running is not committed on its own: its pool thread hands it to the instance's next
step, which records it in its own commit (ADR 0052). A handed result the step did not commit
(the role was busy or another instance is due first, the instance is another process's, its
work row is gone, the step failed) goes back to the runner, which commits it as any other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ._activities import ActivityRunner
from ._dispatch import Dispatcher
from ._events import Event
from ._inbox import Handed
from ._store import StepConflict, WorkItem

__all__ = ["Handoffs"]

log = logging.getLogger("convergio.host.engine")


class Handoffs:
    """The engine's side of the pool's hooks (``on_recorded``, ``after``, ``hand_over``) and
    of the dispatcher's steps; ``Engine`` provides what is declared here."""

    _dispatch: Dispatcher
    _runner: ActivityRunner

    def _step(self, instance_id: str, handed: Handed | None = None) -> bool:
        raise NotImplementedError

    def _evict(self, instance_id: str) -> None:
        raise NotImplementedError

    def _dispatch_step(self, instance_id: str) -> None:
        """The step of a wake-up (the dispatcher's ``step``: it must not raise)."""
        self._guarded_step(instance_id, None)

    def _recorded(self, results: Mapping[str, int]) -> None:
        """Results committed (how many per instance): their instances step now, or once more
        have come while many are in flight here (ADR 0057). On a pool thread ``_after_item``
        follows, which steps or notifies."""
        in_flight = self._runner.in_flight
        self._dispatch.gather(
            ((instance_id, count, in_flight(instance_id)) for instance_id, count in results.items()),
            notify=not self._runner.on_pool_thread(),
        )

    def _after_item(self) -> None:
        """A pool thread's item is done: with no other activity running, no result is coming
        to share the step, so the step runs here at once; else the dispatcher thread runs it,
        later, for every result recorded meanwhile (a fan-out's batching, ADR 0046)."""
        if self._runner.idle():
            self._dispatch.drive()
        else:
            self._dispatch.kick()

    def _hand_over(self, item: WorkItem, event: Event) -> bool:
        """The result of the only item that ran, on its pool thread: the instance's next step
        runs here at once and records it in its own commit (ADR 0052). False if the step did
        not run or did not commit: the runner then commits the result itself."""
        return self._dispatch.run_as(
            item.instance_id, lambda woken: self._guarded_step(item.instance_id, Handed(item, event, woken))
        )

    def _guarded_step(self, instance_id: str, handed: Handed | None) -> bool:
        """One step, holding the role; True if it committed. A step that did not commit is
        stepped again: at once after a conflict (another process or a rewind stepped it, or a
        handed result's work row is gone), and after a handed result is committed otherwise."""
        try:
            return self._step(instance_id, handed)
        except StepConflict as exc:
            log.info("step of %s not committed: %s", instance_id, exc)
            self._evict(instance_id)
            self._dispatch.wake(instance_id, notify=handed is None)  # on a pool thread, ``after`` follows
        except Exception:
            log.exception("orchestration step failed for instance %s", instance_id)
            if handed is not None:  # ``run_as`` took its wake-up; the runner commits the result
                self._dispatch.wake(instance_id, notify=False)
        return False
