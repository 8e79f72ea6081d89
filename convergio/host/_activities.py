"""Activities: a thread pool (``_pool.py``) that runs work rows under leases and records their results.

The same runner serves the host process and its worker processes (``_workers.py``). Work a
step of this process created and leased to it at once is handed over directly (no claim: the
one-process path costs what it did before leases). Everything else is claimed from the store
by a ``leases`` thread: rows nobody holds yet (a host with worker processes leaves the work
its own pool cannot start now to whoever has a free thread) and rows whose lease ran out (a
process killed mid-activity). That thread also renews this process's leases (the heartbeat),
so an agent that runs for minutes keeps its row. Polling backs off while there is nothing to
claim; a freed thread pokes it. ADR 0023.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ._activity_loop import LoopBatch
from ._events import Event, EventType, format_time, new_event, utcnow
from ._finished import FinishedExecutions
from ._functions import FunctionIndex, user_traceback
from ._leases import claim_work, renew
from ._poller import Poller
from ._pool import WorkerPool
from ._store import Store, WorkItem

__all__ = ["ActivityRunner", "RunnerConfig"]

log = logging.getLogger("convergio.host.activities")

_POLL_MIN_S = 0.001
_POLL_MAX_S = 0.05


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """``concurrency`` threads; leases of ``lease_s`` renewed every third of it.

    ``claim_after_s``: claim only rows free for that long (a host leaves its work to its worker
    processes, and takes what they leave waiting). Work is pushed to worker processes (ADR 0029),
    so a freed thread does not claim at once: only the back-off poll claims, for rows a rewind
    or a dead process left unleased (ADR 0039).
    """

    concurrency: int = 16
    lease_s: float = 30.0
    claim_after_s: float = 0.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.lease_s <= 0:
            raise ValueError("lease_s must be positive")


class ActivityRunner:
    """Runs one process's activities; ``on_recorded`` hears how many results each instance got."""

    def __init__(
        self,
        index: FunctionIndex,
        store: Store,
        owner: str,
        config: RunnerConfig,
        on_recorded: Callable[[Mapping[str, int]], None] | None = None,
        on_beat: Callable[[float], None] | None = None,
        run: Callable[[WorkItem], None] | None = None,
        after: Callable[[], None] | None = None,
        hand_over: Callable[[WorkItem, Event], bool] | None = None,
    ) -> None:
        """``run``: what a pool thread calls for an item (default ``self.run``; the engine's
        ``_run_activity``, which the benchmarks' profilers wrap). ``after``: what it calls next,
        holding no item (the engine steps an instance there, ADR 0046). ``hand_over``: offered,
        in ``after``, the result of an item that finished while no other ran; True if the
        instance's step recorded it (else it is committed here, ADR 0052)."""
        self.index, self.store, self.owner, self.config = index, store, owner, config
        self._on_recorded, self._on_beat = on_recorded, on_beat
        self._run_item = run or self.run
        self._after, self._hand_over = after, hand_over
        self.finished = FinishedExecutions()  # their queued work is dropped, not run
        then = self._after_item if after is not None or hand_over is not None else None
        self._pool = WorkerPool[WorkItem](
            config.concurrency, "activity", self._run_item, then, lambda item: index.on_own_loop(item.name)
        )
        # ``result``: the item's, kept for ``hand_over`` in ``after``; ``looping``: recording a
        # turn of a loop batch that goes on (its instances are stepped by the dispatcher).
        self._held = threading.local()
        self._busy = 0  # items handed to the pool whose function has not returned
        # Per instance, items handed to the pool whose result is not recorded yet (ADR 0057).
        self._flying: dict[str, int] = {}
        self._busy_lock = threading.Lock()
        # Activity results waiting for the group commit (see _record), and whether a thread is at it.
        self._results: list[tuple[WorkItem, Event]] = []
        self._results_lock = threading.Lock()
        self._committing = False
        self._idle, self._next_beat = _POLL_MIN_S, time.monotonic()
        self._leases = Poller("leases", self._lease_round)

    def start(self) -> None:
        self._leases.start()

    def stop(self) -> None:
        self._leases.stop()
        self._pool.shutdown()

    def free(self) -> int:
        """How many items to claim: enough to keep every thread busy and as many queued behind
        (claiming costs a write transaction; a claim of one item per freed thread was half
        the worker's time), counting queued items as taken."""
        return max(0, 2 * self.config.concurrency - self._busy)

    def idle(self) -> bool:
        return self._busy == 0

    def in_flight(self, instance_id: str) -> int:
        """How many of the instance's items the pool holds whose result is not recorded yet
        (running, queued, or waiting for the group commit or a hand-over)."""
        return self._flying.get(instance_id, 0)

    def _landed(self, items: Sequence[WorkItem]) -> None:
        """These items' results are recorded (or dropped): they are no longer in flight."""
        with self._busy_lock:
            flying = self._flying
            for item in items:
                if (left := flying.get(item.instance_id, 1) - 1) > 0:
                    flying[item.instance_id] = left
                else:
                    flying.pop(item.instance_id, None)

    def on_pool_thread(self) -> bool:
        """Is this one of the pool's threads, which calls ``after`` once its item is done (not
        yet, while its loop batch goes on)?"""
        return self._pool.owns_thread() and not getattr(self._held, "looping", False)

    def submit(self, items: Sequence[WorkItem]) -> None:
        """Run items this process holds the leases of."""
        with self._busy_lock:
            self._busy += len(items)
            flying = self._flying
            for item in items:
                flying[item.instance_id] = flying.get(item.instance_id, 0) + 1
        self._pool.submit(items)

    def poke(self) -> None:
        """Claim now (unleased work was committed, or a thread came free)."""
        self._leases.poke()

    # -- the leases thread -----------------------------------------------------------------
    def _lease_round(self) -> float:
        """Renew this process's leases when due, claim what there is room for; how long to wait."""
        try:
            if time.monotonic() >= self._next_beat:
                until = time.time() + self.config.lease_s
                renew(self.store, self.owner, until, instances=self._on_beat is not None)
                if self._on_beat is not None:
                    self._on_beat(until)
                self._next_beat = time.monotonic() + self.config.lease_s / 3
            now = time.time()
            cutoff = now - self.config.claim_after_s
            items = claim_work(self.store, self.owner, cutoff, now + self.config.lease_s, self.free())
        except Exception:
            log.exception("lease renewal or claim failed; retrying")
            items = []
        if items:
            log.debug("claimed %d work items", len(items))
            self.submit(items)
            self._idle = _POLL_MIN_S
            return 0.0
        self._idle = min(self._idle * 2, _POLL_MAX_S)
        return max(0.0, min(self._idle, self._next_beat - time.monotonic()))

    # -- one activity -----------------------------------------------------------------------
    def run(self, item: WorkItem) -> None:
        """Run one item on this thread and record its result (it was counted busy); an async
        activity's item with the other async items queued, on this thread's loop (ADR 0065)."""
        if self.index.on_own_loop(item.name):
            LoopBatch(self._await, self._failure, self._pool.take, self._landed_together).run(item)
            return
        try:
            event = self._call(item)
        finally:
            with self._busy_lock:
                self._busy -= 1
                alone = self._busy == 0
        if event is None:
            self._landed((item,))
            return
        if alone and self._hand_over is not None and self._pool.owns_thread():
            self._held.result = (item, event)  # ``after`` follows on this thread, always
            return
        self._record(item, event)

    def _after_item(self) -> None:
        """On a pool thread after its item: hand a kept result to its instance's step, or
        commit it if the step did not record it; then the owner's ``after``."""
        held: tuple[WorkItem, Event] | None = getattr(self._held, "result", None)
        if held is not None:
            self._held.result = None
            taken = False
            try:
                taken = self._hand_over is not None and self._hand_over(*held)
            finally:
                if taken:
                    self._landed((held[0],))
                else:  # committing it again is harmless: its work row takes one result
                    self._record(*held)
        if self._after is not None:
            self._after()

    def _landed_together(self, ended: list[tuple[WorkItem, Event | None]], last: bool) -> None:
        """A turn of a loop batch: its results committed together. The batch's last result,
        when nothing else runs, is kept for ``after`` (the step here, ADR 0052)."""
        with self._busy_lock:
            self._busy -= len(ended)
            alone = self._busy == 0
        results = [(item, event) for item, event in ended if event is not None]
        if len(results) < len(ended):
            self._landed([item for item, event in ended if event is None])
        if not results:
            return
        if last and alone and len(results) == 1 and self._hand_over is not None and self._pool.owns_thread():
            self._held.result = results[0]
            return
        self._held.looping = not last
        try:
            self._record_all(results)
        finally:
            self._held.looping = False

    def _ended(self, item: WorkItem) -> bool:
        if item.execution_id in self.finished:
            log.info("activity %s of %s not run: the instance has ended", item.name, item.instance_id)
            return True  # its work row went with the step that ended the execution
        return False

    def _call(self, item: WorkItem) -> Event | None:
        if self._ended(item):
            return None
        try:
            return self._completion(item, self.index.call_activity(item.name, item.input))
        except Exception as exc:
            return self._failure(item, exc)

    async def _await(self, item: WorkItem) -> Event | None:
        if self._ended(item):
            return None
        try:
            return self._completion(item, await self.index.await_activity(item.name, item.input))
        except Exception as exc:
            return self._failure(item, exc)

    @staticmethod
    def _completion(item: WorkItem, result: str) -> Event:
        return new_event(
            EventType.TASK_COMPLETED, format_time(utcnow()), TaskScheduledId=item.task_id, Result=result
        )

    @staticmethod
    def _failure(item: WorkItem, exc: BaseException) -> Event:
        return new_event(
            EventType.TASK_FAILED,
            format_time(utcnow()),
            TaskScheduledId=item.task_id,
            Reason=f"Activity function '{item.name}' failed: {type(exc).__name__}: {exc}",
            Details=user_traceback(exc),  # the user's frames, not the host's
        )

    def _record(self, item: WorkItem, event: Event) -> None:
        self._record_all([(item, event)])

    def _record_all(self, results: Sequence[tuple[WorkItem, Event]]) -> None:
        """Commit activities' results, batched with whatever else finished meanwhile.

        The first thread to arrive commits for everyone: it drains the results queued while
        it was writing and commits them in one transaction, until none are left. So a burst
        of completions costs a few transactions instead of one each, and the pool's threads
        do not queue on the store's lock. Nothing is acknowledged before its commit, and an
        uncommitted result is a work row still leased, run again once its lease runs out. A
        row that is gone (completed by a process that claimed it after our lease ran out, or
        cancelled) takes no result: one result per row.
        """
        with self._results_lock:
            self._results.extend(results)
            if self._committing:
                return
            self._committing = True
        try:
            while True:
                with self._results_lock:
                    batch, self._results = self._results, []
                    if not batch:
                        self._committing = False
                        return
                try:
                    recorded = self.store.complete_many(batch, time.time())
                finally:  # uncommitted, a result runs again once its lease runs out
                    self._landed([done for done, _ in batch])
                if self._on_recorded is not None:
                    self._on_recorded(Counter(done.instance_id for done in recorded))
        except BaseException:
            with self._results_lock:
                self._committing = False
            raise
