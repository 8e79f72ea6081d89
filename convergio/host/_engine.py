"""The engine: orchestrator steps one at a time (``_dispatch.py``), activities in a pool.

Flow of one step: read the instance's visible inbox messages, let the executor
run the orchestrator on them, let the action shim turn the new actions into
commands, then commit history, consumed messages, new work, timers and
sub-orchestrations in one transaction. Only after the commit is work handed to
the pool, so nothing runs that the history does not know about. A step runs on the
dispatcher thread, or on the activity thread that has just recorded its results (ADR 0046),
or that hands the step its result to record in the step's own commit (``_handoffs.py``,
ADR 0052).

Several processes may share the store (ADR 0023): a step runs only under the
instance's lease, commits only if the history is still the one it read, and a
``watch`` thread wakes instances for messages other processes queued.

What a step writes for its commands is ``_commands.py``'s, for the end of an execution
``_endings.py``'s; when it stores the custom status, ``_status_pacing.py``'s; the operations
the HTTP API calls are ``_management.py``'s.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ._activities import ActivityRunner, RunnerConfig
from ._commands import apply_command
from ._dispatch import Dispatcher
from ._endings import continued, ending, version_failure
from ._events import Event, EventType, format_time, new_event, utcnow
from ._executor import Instance, NonDeterminismError, OrchestrationExecutor, StepResult
from ._finished import FinishedExecutions
from ._functions import FunctionIndex
from ._handoffs import Handoffs
from ._inbox import HANDED, Handed, KeptShims, deliver, hand_in
from ._lazy_history import LazyHistory
from ._leases import new_owner, release, release_dead
from ._management import Conflict, Gone, Management, NotFound
from ._sharing import Sharing
from ._shim import Command, ShimError
from ._status_limit import CUSTOM_STATUS_LIMIT_KB, custom_status_error
from ._status_pacing import StatusPacer
from ._store import TERMINAL, InstanceRecord, StepWrite, Store, WorkItem
from ._stored_json import stored_text
from ._versioning import Verdict, VersionGate, Versioning

__all__ = [
    "CUSTOM_STATUS_LIMIT_KB",
    "HOST_CLAIM_AFTER_S",
    "Conflict",
    "Engine",
    "EngineConfig",
    "Gone",
    "NotFound",
    "custom_status_error",
]

log = logging.getLogger("convergio.host.engine")

HOST_CLAIM_AFTER_S = 1.0
"""With worker processes, the host runs only work that no worker took for this long."""

_WORK_EVENTS = frozenset(
    {
        EventType.EXECUTION_STARTED,
        EventType.TASK_COMPLETED,
        EventType.TASK_FAILED,
        EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        EventType.TIMER_FIRED,
        EventType.EVENT_RAISED,
    }
)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """``workers``: processes that run this store's activities, this one included (ADR 0023);
    above 1, work this process cannot start now is left for the others to claim.
    ``lease_s``: how long a lease on work or an instance lasts without its heartbeat."""

    activity_concurrency: int = 16
    keep_alive: int = 1000
    verify_replay: bool = False
    versioning: Versioning = field(default_factory=Versioning)  # host.json's, ADR 0020
    workers: int = 1
    lease_s: float = 30.0

    def __post_init__(self) -> None:
        if self.activity_concurrency < 1:
            raise ValueError("activity_concurrency must be >= 1")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.lease_s <= 0:
            raise ValueError("lease_s must be positive")


class Engine(Management, Handoffs):
    """Runs the orchestrations and activities of one app against one store."""

    def __init__(self, index: FunctionIndex, store: Store, config: EngineConfig | None = None) -> None:
        self.index, self.store = index, store
        self.config = config or EngineConfig()
        self.versions = VersionGate(self.config.versioning)
        self.executor = OrchestrationExecutor(
            index.orchestrator, keep_alive=self.config.keep_alive, verify=self.config.verify_replay
        )
        self.owner = new_owner()
        store.origin = self.owner
        shared = self.config.workers > 1
        self._runner = ActivityRunner(
            index,
            store,
            self.owner,
            RunnerConfig(
                self.config.activity_concurrency,
                self.config.lease_s,
                claim_after_s=HOST_CLAIM_AFTER_S if shared else 0.0,
            ),
            on_recorded=self._recorded,
            after=self._after_item,
            hand_over=self._hand_over,
            on_beat=lambda until: self._sharing.beat(until),
            run=lambda item: self._run_activity(item),  # looked up per call: profilers wrap it
        )
        self._sharing = Sharing(store, self.owner, self.config.lease_s, self._wake_timed)
        # Work leased here that worker processes run (ADR 0029); without them, this process's pool.
        self.on_shared_work: Callable[[Sequence[WorkItem]], None] = self.run_here
        self._shims = KeptShims(self.config.keep_alive)
        self._status = StatusPacer(store, self._busy)  # when custom statuses are stored
        # Instances that may have inbox messages visible later (timers): only these make _rearm
        # ask the store. Touched by the dispatcher and, adding, by start and the watch thread.
        self._timed: set[str] = set()
        self._finished = threading.Condition()
        self._dispatch = Dispatcher(self._dispatch_step)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Recover: free the leases of this machine's dead processes (the work they had in
        flight runs again), wake instances with messages, then watch for other processes'."""
        release_dead(self.store)
        self._sharing.start()
        for instance_id, visible_at in self.store.due():
            self._wake_timed(instance_id, visible_at)
        self._runner.start()
        self._dispatch.start()

    def stop(self) -> None:
        self._dispatch.stop()
        self._sharing.stop()
        self._runner.stop()

    # -- scheduling (``_dispatch.py``) -----------------------------------------------------------
    def _wake(self, instance_id: str, at: float = 0.0) -> None:
        self._dispatch.wake(instance_id, at)

    # -- several processes on one store (ADR 0023) -------------------------------------------
    def record_results(self, done: Sequence[tuple[WorkItem, Event]]) -> None:
        """Commit results a worker process sent through its pipe and step their instances (ADR 0029)."""
        self._wake_all(dict.fromkeys(i.instance_id for i in self.store.complete_many(done, time.time())))

    def release_worker(self, owner: str) -> None:
        """A worker process this host started exited: what it claimed itself is free now (ADR 0029)."""
        release(self.store, [owner])
        self._runner.poke()

    @property
    def finished(self) -> FinishedExecutions:
        """Executions that ended in this process (its worker processes hear of them, ADR 0029)."""
        return self._runner.finished

    def pool_idle(self) -> bool:
        """Is this process's activity pool idle? (a chain's lone item then stays here, ADR 0029)"""
        return self._runner.idle()

    def run_here(self, items: Sequence[WorkItem]) -> None:
        """Run work leased to this process in its own pool (a dead worker process's, ADR 0029)."""
        self._runner.submit(items)

    def _run_activity(self, item: WorkItem) -> None:
        self._runner.run(item)

    def _local_share(self, created: int) -> int:
        """How many of a step's new work items (all leased to this process) it runs itself.

        Alone, all. With worker processes, none: ``on_shared_work`` hands them to the workers
        over their pipes, and the first (a step of at most two, whole) back to this process's
        pool when nothing runs anywhere, where a round trip through a worker would only add
        latency (a chain's next node; ``_workers.py``, ADR 0029, 0039 and 0054).
        """
        return created if self.config.workers == 1 else 0

    def _wake_all(self, instance_ids: Iterable[str]) -> None:
        self._dispatch.wake_all(instance_ids)

    def _wake_timed(self, instance_id: str, at: float) -> None:
        """Wake for a message that may be visible only later (``_rearm`` asks the store then)."""
        self._timed.add(instance_id)
        self._wake(instance_id, at)

    # -- one orchestrator step ---------------------------------------------------------------------
    def _step(self, instance_id: str, handed: Handed | None = None) -> bool:
        """One step, with a result ``handed`` over by its pool thread (ADR 0052) last among its
        messages; True if it committed (False: nothing to do, or not for this process now)."""
        if not self._sharing.hold(instance_id):
            return False  # another live process steps it
        moment = utcnow()
        now, stamp = moment.timestamp(), format_time(moment)
        record: InstanceRecord | None = self._shims.take_header(instance_id)  # any step makes it stale
        messages: list[tuple[int, str | None, Event]] = []
        if handed is None or handed.woken or record is None:  # else no message of this process waits
            record, messages = self.store.step_input(instance_id, now)
        if record is None:
            return False
        if handed is not None:
            messages.append((HANDED, handed.item.execution_id, handed.event))
        if not messages:  # woken to store a pending custom status (which may hide a later wake-up)
            self._status.store_pending(record)
            self._rearm(instance_id, record.status)
            return False
        verdict = (
            Verdict.RUN if record.status in TERMINAL else self.versions.verdict(instance_id, record.version)
        )
        if verdict is Verdict.REJECT:
            return False  # abandoned, as DurableTask.Core does: nothing consumed or recorded (ADR 0020)
        write = StepWrite(instance_id, expected_len=record.history_len)
        found = deliver(record, messages)
        write.consumed.extend(found.consumed)
        if handed is not None:  # a version failure takes every message
            hand_in(write, handed, now, consumed=verdict is Verdict.FAIL or HANDED in found.consumed)
        status, terminate_reason, delivered = found.status, found.terminate_reason, found.events
        if record.status in TERMINAL:
            self.store.commit_step(write)
            return True
        started = new_event(EventType.ORCHESTRATOR_STARTED, stamp)
        if verdict is Verdict.FAIL:
            self._fail_version(record, write, messages, started, stamp, now)
        elif terminate_reason is not None:
            self._finish(
                record, write, [started, *delivered], stamp, now, "Terminated", output=terminate_reason
            )
        elif not any(e["EventType"] in _WORK_EVENTS for e in delivered):
            write.history = [started, *delivered]
            write.updates = {"status": status, "updated_at": stamp}
            self.store.commit_step(write)
            self._status.moved(instance_id, record.history_len + len(write.history))
        else:
            self._run_orchestrator(record, write, [started, *delivered], status, stamp, now)
        for target in {
            m.instance_id: m.visible_at for m in write.messages if m.instance_id != instance_id
        }.items():
            self._wake(*target)
        if any(m.instance_id == instance_id for m in write.messages):
            self._timed.add(instance_id)
        self._rearm(instance_id, write.updates.get("status", record.status))
        return True

    def _rearm(self, instance_id: str, status: str) -> None:
        """Wake the instance again for what is still in its inbox for later (timers; held events
        wait for a resume, which wakes it), and to store a custom status left pending.

        A wake-up at a timer's time is lost when an earlier one replaces it (one per instance),
        so after each step the store is asked again, for instances that have had timers.
        """
        if status in TERMINAL:
            self._timed.discard(instance_id)
            return
        if (store_status_at := self._status.wake_at(instance_id)) is not None:
            self._wake(instance_id, store_status_at)
        if status == "Suspended" or instance_id not in self._timed:
            return
        visible_at = self.store.next_visible(instance_id)
        if visible_at is None:
            self._timed.discard(instance_id)
        else:
            self._wake(instance_id, visible_at)

    def _run_orchestrator(
        self,
        record: InstanceRecord,
        write: StepWrite,
        events: list[Event],
        status: str,
        stamp: str,
        now: float,
    ) -> None:
        if not self._resumable(record):
            record = self.store.get(record.instance_id) or record  # a replay needs the input and shim
        shim = self._shims.take(record)
        instance = Instance(
            record.instance_id, record.name, record.execution_id, record.input, record.parent_instance_id
        )
        history = LazyHistory(self.store, record.instance_id, record.history_len)
        commands: list[Command] = []
        encoded: str | None = None
        try:
            result = self.executor.execute(instance, history, events, shim.seen)
            if result.custom_status is not None:  # the extension sets it first, even in a failing step
                encoded = stored_text(result.custom_status)  # as the extension stores it
                if refused := custom_status_error(encoded):  # as the extension refuses it: the step fails
                    result, encoded = StepResult(actions=[], done=False, error=refused), None
            if result.error is None:
                commands = shim.step(record.instance_id, stamp, result.actions, events, record.version)
        except (NonDeterminismError, ShimError, LookupError) as exc:
            result = StepResult(actions=[], done=False, error=str(exc))
        except Exception as exc:  # an SDK-internal failure must fail the instance, not stall it
            log.exception("orchestrator step crashed for instance %s", record.instance_id)
            self._evict(record.instance_id)
            result = StepResult(actions=[], done=False, error=f"{type(exc).__name__}: {exc}")
        scheduled = [c.event for c in commands if c.event is not None]
        events = [*events, *scheduled, new_event(EventType.ORCHESTRATOR_COMPLETED, stamp)]
        done = result.error is not None or result.done
        # None when cleared (stored now, nothing older left pending), refused, or left pending
        custom = self._status.to_store(
            record.instance_id, encoded, record.history_len + len(events), last=done
        )
        if result.error is not None:
            message = f"Orchestrator function '{record.name}' failed: {result.error}"
            self._finish(
                record, write, events, stamp, now, "Failed", output=json.dumps(message), custom_status=custom
            )
        elif result.done and shim.continue_as_new is not None:
            self._continue_as_new(record, write, shim.continue_as_new, stamp, now)
        elif result.done:
            output = result.output_json if result.output_json is not None else json.dumps(result.output)
            self._finish(record, write, events, stamp, now, "Completed", output=output, custom_status=custom)
        else:
            write.history = events
            write.updates = {
                "status": "Running" if status == "Pending" else status,
                "updated_at": stamp,
                "shim": stored_text(shim.to_state()),
            }
            if custom is not None or encoded is None:
                write.updates["custom_status"] = custom
            for command in commands:
                apply_command(self.store, record, write, command, stamp, now)
            write.owner, write.lease_until = self.owner, time.time() + self.config.lease_s
            write.claim = len(write.work)  # all leased here; worker processes run theirs under it
            local = self._local_share(len(write.work))
            created = self.store.commit_step(write)
            self.executor.confirm(record.instance_id, record.history_len + len(events))
            self._shims.keep(record, record.history_len + len(events), shim, write.updates["status"], stamp)
            self._runner.submit(created[:local])
            if len(created) > local:
                self.on_shared_work(created[local:])

    def _finish(
        self,
        record: InstanceRecord,
        write: StepWrite,
        events: list[Event],
        stamp: str,
        now: float,
        status: str,
        *,
        output: str | None,
        custom_status: str | None = None,
    ) -> None:
        """Complete, fail or terminate the instance and tell its parent, in one commit."""
        ending(record, write, events, stamp, now, status, output=output, custom_status=custom_status)
        self._commit_end(record, write)

    def _fail_version(
        self,
        record: InstanceRecord,
        write: StepWrite,
        messages: list[tuple[int, str | None, Event]],
        started: Event,
        stamp: str,
        now: float,
    ) -> None:
        version_failure(record, write, messages, started, stamp, now)
        self._commit_end(record, write)

    def _continue_as_new(
        self, record: InstanceRecord, write: StepWrite, new_input: str, stamp: str, now: float
    ) -> None:
        continued(record, write, new_input, stamp, now)
        self._commit_end(record, write, finished=False)

    def _commit_end(self, record: InstanceRecord, write: StepWrite, *, finished: bool = True) -> None:
        """Commit the step that ends the execution; forget its session; wake ``wait`` when the
        instance itself ``finished`` (a continue-as-new goes on in a new execution)."""
        self.store.commit_step(write)
        self._runner.finished.add(record.execution_id)
        self._evict(record.instance_id)
        if finished:
            with self._finished:
                self._finished.notify_all()

    def _resumable(self, record: InstanceRecord) -> bool:
        """Can this step run on the kept shim and session alone (no replay, so no input)?"""
        return (
            not self.config.verify_replay
            and self._shims.matches(record)
            and self.executor.has_session(record.instance_id, record.execution_id, record.history_len)
        )

    def _evict(self, instance_id: str) -> None:
        self.executor.evict(instance_id)
        self._shims.drop(instance_id)
        self._sharing.drop(instance_id)
        self._status.forget(instance_id)

    def _poke(self) -> None:
        self._runner.poke()

    def _busy(self, instance_id: str) -> bool:
        """Is another step of the instance due now (completions keep arriving)?"""
        return self._dispatch.due(instance_id)
