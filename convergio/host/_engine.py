"""The engine: one dispatcher thread runs orchestrator steps, a pool runs activities.

Flow of one step: read the instance's visible inbox messages, let the executor
run the orchestrator on them, let the action shim turn the new actions into
commands, then commit history, consumed messages, new work, timers and
sub-orchestrations in one transaction. Only after the commit is work handed to
the pool, so nothing runs that the history does not know about.

Several processes may share the store (ADR 0023): a step runs only under the
instance's lease, commits only if the history is still the one it read, and a
``watch`` thread wakes instances for messages other processes queued.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._activities import ActivityRunner, RunnerConfig
from ._events import Event, EventType, format_time, new_event, parse_time, utcnow
from ._executor import Instance, NonDeterminismError, OrchestrationExecutor, StepResult
from ._finished import FinishedExecutions
from ._functions import FunctionIndex
from ._lazy_history import LazyHistory
from ._leases import new_owner, release, release_dead
from ._payloads import stored_sdk_value
from ._records import new_record, record_fields, started_event
from ._sharing import WATCH_MAX_S, Sharing
from ._shim import ActionShim, Command, ShimError
from ._status_limit import CUSTOM_STATUS_LIMIT_KB, custom_status_error
from ._store import TERMINAL, InstanceRecord, Message, StepConflict, StepWrite, Store, WorkItem
from ._versioning import MISMATCH, MISMATCH_OUTPUT, Verdict, VersionGate, Versioning

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

STATUS_INTERVAL_S = 0.25
"""A busy instance's custom status is stored at most this often, and at most this late (see _status_due)."""
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


class NotFound(LookupError):
    """No such instance (HTTP 404)."""


class Gone(Exception):
    """The instance already finished (HTTP 410)."""


class Conflict(Exception):
    """A running instance already has this id (HTTP 409)."""


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


class Engine:
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
                shared=shared,
                claim_after_s=HOST_CLAIM_AFTER_S if shared else 0.0,
            ),
            on_recorded=self._wake_all,
            on_beat=lambda until: self._sharing.beat(until),
            run=lambda item: self._run_activity(item),  # looked up per call: profilers wrap it
        )
        self._sharing = Sharing(store, self.owner, self.config.lease_s, self._wake_timed)
        # Work leased here that worker processes run (ADR 0029); without them, this process's pool.
        self.on_shared_work: Callable[[Sequence[WorkItem]], None] = self.run_here
        # The action shim of each running instance as its last committed step left it, keyed by
        # the history length it matches: a step then skips decoding the snapshot from the store.
        self._shims: OrderedDict[str, tuple[int, ActionShim]] = OrderedDict()
        self._status_written: dict[str, float] = {}  # instance -> when its custom status was stored
        # instance -> its newer custom status JSON, not stored, and the history length it was made at
        self._status_pending: dict[str, tuple[str, int]] = {}
        # Instances that may have inbox messages visible later (timers): only these make _rearm
        # ask the store. Touched by the dispatcher and, adding, by start and the watch thread.
        self._timed: set[str] = set()
        self._finished = threading.Condition()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, str]] = []
        self._next_wake: dict[str, float] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._dispatch_loop, name="orchestrations", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Recover: free the leases of this machine's dead processes (the work they had in
        flight runs again), wake instances with messages, then watch for other processes'."""
        release_dead(self.store)
        self._sharing.start()
        for instance_id, visible_at in self.store.due():
            self._wake_timed(instance_id, visible_at)
        self._runner.start()
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sharing.stop()
        self._runner.stop()

    # -- scheduling -----------------------------------------------------------------------------
    def _wake(self, instance_id: str, at: float = 0.0) -> None:
        with self._cond:
            earliest = self._next_wake.get(instance_id)
            if earliest is not None and earliest <= at:
                return
            self._next_wake[instance_id] = at
            heapq.heappush(self._heap, (at, instance_id))
            self._cond.notify()

    def _dispatch_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    delay = self._heap[0][0] - time.time() if self._heap else None
                    if delay is not None and delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._stopping:
                    return
                at, instance_id = heapq.heappop(self._heap)
                if self._next_wake.get(instance_id) != at:
                    continue  # superseded by an earlier wake-up
                del self._next_wake[instance_id]
            try:
                self._step(instance_id)
            except StepConflict as exc:  # another process (or a rewind) stepped it meanwhile
                log.info("step of %s not committed: %s", instance_id, exc)
                self._evict(instance_id)
                self._wake(instance_id)
            except Exception:
                log.exception("orchestration step failed for instance %s", instance_id)

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
        over their pipes, or back to this process's pool when the machine is idle and a round
        trip through a worker would only add latency (a chain; ``_workers.py``, ADR 0029).
        """
        return created if self.config.workers == 1 else 0

    def _wake_all(self, instance_ids: Iterable[str]) -> None:
        for instance_id in instance_ids:
            self._wake(instance_id)

    def _wake_timed(self, instance_id: str, at: float) -> None:
        """Wake for a message that may be visible only later (``_rearm`` asks the store then)."""
        self._timed.add(instance_id)
        self._wake(instance_id, at)

    # -- one orchestrator step ---------------------------------------------------------------------
    def _step(self, instance_id: str) -> None:
        if not self._sharing.hold(instance_id):
            return  # another live process steps it
        moment = utcnow()
        now, stamp = moment.timestamp(), format_time(moment)
        record, messages = self.store.step_input(instance_id, now)
        if record is None:
            return
        if not messages:  # woken to store a pending custom status (which may hide a later wake-up)
            self._store_pending_status(record)
            self._rearm(instance_id, record.status)
            return
        verdict = (
            Verdict.RUN if record.status in TERMINAL else self.versions.verdict(instance_id, record.version)
        )
        if verdict is Verdict.REJECT:
            return  # abandoned, as DurableTask.Core does: nothing consumed or recorded (ADR 0020)
        write = StepWrite(instance_id, expected_len=record.history_len)
        delivered: list[Event] = []
        held: list[tuple[int, Event]] = []
        status, terminate_reason = record.status, None
        for message_id, execution_id, event in messages:
            kind = event["EventType"]
            stale = execution_id is not None and execution_id != record.execution_id
            if status in TERMINAL or stale:
                write.consumed.append(message_id)
            elif kind == EventType.EXECUTION_TERMINATED:
                write.consumed.append(message_id)
                terminate_reason = event.get("Input")
                break
            elif status == "Suspended" and kind != EventType.EXECUTION_RESUMED:
                held.append((message_id, event))
            else:
                write.consumed.append(message_id)
                delivered.append(event)
                if kind == EventType.EXECUTION_SUSPENDED:
                    status = "Suspended"
                elif kind == EventType.EXECUTION_RESUMED:
                    status = "Running"
                    write.consumed.extend(i for i, _ in held)
                    delivered.extend(e for _, e in held)
                    held.clear()
        if record.status in TERMINAL:
            self.store.commit_step(write)
            return
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
            if (pending := self._status_pending.get(instance_id)) is not None:  # still the newest
                self._status_pending[instance_id] = (pending[0], record.history_len + len(write.history))
        else:
            self._run_orchestrator(record, write, [started, *delivered], status, stamp, now)
        for target in {
            m.instance_id: m.visible_at for m in write.messages if m.instance_id != instance_id
        }.items():
            self._wake(*target)
        if any(m.instance_id == instance_id for m in write.messages):
            self._timed.add(instance_id)
        self._rearm(instance_id, write.updates.get("status", record.status))

    def _rearm(self, instance_id: str, status: str) -> None:
        """Wake the instance again for what is still in its inbox for later (timers; held events
        wait for a resume, which wakes it), and to store a custom status left pending.

        A wake-up at a timer's time is lost when an earlier one replaces it (one per instance),
        so after each step the store is asked again, for instances that have had timers.
        """
        if status in TERMINAL:
            self._timed.discard(instance_id)
            return
        if instance_id in self._status_pending:
            written = self._status_written.get(instance_id, 0.0)
            self._wake(instance_id, time.time() + max(0.0, written + STATUS_INTERVAL_S - time.monotonic()))
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
        shim = self._shim(record)
        instance = Instance(
            record.instance_id, record.name, record.execution_id, record.input, record.parent_instance_id
        )
        history = LazyHistory(self.store, record.instance_id, record.history_len)
        commands: list[Command] = []
        encoded: str | None = None
        try:
            result = self.executor.execute(instance, history, events, shim.seen)
            if result.custom_status is not None:  # the extension sets it first, even in a failing step
                encoded = json.dumps(result.custom_status)
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
        custom: str | None = None
        if encoded is None:  # cleared (stored now, nothing older left pending), or refused
            self._status_pending.pop(record.instance_id, None)
        elif done or self._status_due(record.instance_id):
            custom = encoded
        else:
            self._status_pending[record.instance_id] = (encoded, record.history_len + len(events))
        if result.error is not None:
            message = f"Orchestrator function '{record.name}' failed: {result.error}"
            self._finish(
                record, write, events, stamp, now, "Failed", output=json.dumps(message), custom_status=custom
            )
        elif result.done and shim.continue_as_new is not None:
            self._continue_as_new(record, write, shim.continue_as_new, stamp, now)
        elif result.done:
            output = json.dumps(result.output)
            self._finish(record, write, events, stamp, now, "Completed", output=output, custom_status=custom)
        else:
            write.history = events
            write.updates = {
                "status": "Running" if status == "Pending" else status,
                "updated_at": stamp,
                "shim": json.dumps(shim.to_state()),
            }
            if custom is not None or encoded is None:
                write.updates["custom_status"] = custom
            for command in commands:
                self._apply(record, write, command, stamp, now)
            write.owner, write.lease_until = self.owner, time.time() + self.config.lease_s
            write.claim = len(write.work)  # all leased here; worker processes run theirs under it
            local = self._local_share(len(write.work))
            created = self.store.commit_step(write)
            self.executor.confirm(record.instance_id, record.history_len + len(events))
            self._keep_shim(record.instance_id, record.history_len + len(events), shim)
            self._runner.submit(created[:local])
            if len(created) > local:
                self.on_shared_work(created[local:])

    def _apply(
        self, record: InstanceRecord, write: StepWrite, command: Command, stamp: str, now: float
    ) -> None:
        if command.kind == "activity":
            write.work.append((record.execution_id, command.task_id, command.name, command.input))
        elif command.kind == "timer" and command.fire_at is not None:
            fired = new_event(EventType.TIMER_FIRED, stamp, TimerId=command.task_id, FireAt=command.fire_at)
            write.messages.append(
                Message(
                    record.instance_id, record.execution_id, parse_time(command.fire_at).timestamp(), fired
                )
            )
        elif command.kind == "suborchestration" and command.instance_id is not None:
            existing = self.store.get(command.instance_id)
            if existing is not None and existing.status not in TERMINAL:
                failed = new_event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    stamp,
                    TaskScheduledId=command.task_id,
                    Reason=f"An instance with ID '{command.instance_id}' already exists.",
                    Details=None,
                )
                write.messages.append(Message(record.instance_id, record.execution_id, now, failed))
                return
            child = new_record(  # the SDK serialised the input: a .NET string to Azure
                command.instance_id,
                command.name,
                stored_sdk_value(command.input),
                stamp,
                parent=(record, command.task_id),
                version=command.version,  # what the call asked for, else the parent's (the shim)
            )
            write.new_instances.append(child)
            write.messages.append(
                Message(child.instance_id, child.execution_id, now, started_event(child, stamp))
            )

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
        failure: dict[str, Any] | None = None,
    ) -> None:
        """Complete, fail or terminate the instance and tell its parent, in one commit.

        ``failure``: DurableTask.Core's own ``FailureDetails`` (a version mismatch), with no result.
        """
        if status == "Terminated":
            events = [*events, new_event(EventType.EXECUTION_TERMINATED, stamp, Input=output)]
        details: dict[str, Any] = {"FailureDetails": failure} if failure else {}
        result = None if failure else output
        events = [
            *events,
            new_event(
                EventType.EXECUTION_COMPLETED, stamp, OrchestrationStatus=status, Result=result, **details
            ),
        ]
        write.history, write.drop_pending, write.now = events, True, now
        write.updates = {"status": status, "output": output, "updated_at": stamp, "shim": None}
        if custom_status is not None:
            write.updates["custom_status"] = custom_status
        if record.parent_instance_id and record.parent_task_id is not None:
            if status == "Completed":
                note = new_event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                    stamp,
                    TaskScheduledId=record.parent_task_id,
                    Result=output,
                )
            else:
                reason = json.loads(output) if output else f"Sub-orchestration {status.lower()}"
                note = new_event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    stamp,
                    TaskScheduledId=record.parent_task_id,
                    Reason=None if failure else str(reason),
                    Details=None,
                    **details,
                )
            write.messages.append(Message(record.parent_instance_id, record.parent_execution_id, now, note))
        self.store.commit_step(write)
        self._runner.finished.add(record.execution_id)
        self._evict(record.instance_id)
        with self._finished:
            self._finished.notify_all()

    def _fail_version(
        self,
        record: InstanceRecord,
        write: StepWrite,
        messages: list[tuple[int, str | None, Event]],
        started: Event,
        stamp: str,
        now: float,
    ) -> None:
        """``versionFailureStrategy: Fail``: the whole work item is taken and the instance fails
        with DurableTask.Core's ``VersionMismatch``, its code never run (ADR 0020)."""
        write.consumed = [message_id for message_id, _, _ in messages]
        current = [e for _, execution, e in messages if execution in (None, record.execution_id)]
        events = [started, *current, new_event(EventType.ORCHESTRATOR_COMPLETED, stamp)]
        output = json.dumps(MISMATCH_OUTPUT)
        self._finish(record, write, events, stamp, now, "Failed", output=output, failure=MISMATCH)

    def _continue_as_new(
        self, record: InstanceRecord, write: StepWrite, new_input: str, stamp: str, now: float
    ) -> None:
        execution_id = uuid.uuid4().hex
        stored = stored_sdk_value(new_input)  # the SDK serialised it: a .NET string to Azure
        fresh = InstanceRecord(**{**record_fields(record), "execution_id": execution_id, "input": stored})
        write.reset_history, write.drop_pending, write.history, write.now = True, True, [], now
        write.updates = {
            "execution_id": execution_id,
            "input": stored,
            "status": "Running",
            "updated_at": stamp,
            "shim": None,
            "custom_status": None,
        }
        write.messages.append(Message(record.instance_id, execution_id, now, started_event(fresh, stamp)))
        self.store.commit_step(write)
        self._runner.finished.add(record.execution_id)
        self._evict(record.instance_id)

    def _resumable(self, record: InstanceRecord) -> bool:
        """Can this step run on the kept shim and session alone (no replay, so no input)?"""
        kept = self._shims.get(record.instance_id)
        return (
            not self.config.verify_replay
            and kept is not None
            and kept[0] == record.history_len
            and self.executor.has_session(record.instance_id, record.execution_id, record.history_len)
        )

    def _shim(self, record: InstanceRecord) -> ActionShim:
        kept = self._shims.pop(record.instance_id, None)
        if kept is not None and kept[0] == record.history_len:
            return kept[1]
        return ActionShim.from_state(json.loads(record.shim) if record.shim else None)

    def _keep_shim(self, instance_id: str, history_len: int, shim: ActionShim) -> None:
        if self.config.keep_alive:
            self._shims[instance_id] = (history_len, shim)
            while len(self._shims) > self.config.keep_alive:
                self._shims.popitem(last=False)

    def _evict(self, instance_id: str) -> None:
        self.executor.evict(instance_id)
        self._shims.pop(instance_id, None)
        self._sharing.drop(instance_id)
        self._status_written.pop(instance_id, None)
        self._status_pending.pop(instance_id, None)

    def _status_due(self, instance_id: str) -> bool:
        """Should this step store the custom status, or keep it pending for a little while?

        An orchestrator may set it after every completion, and encoding and writing it is
        O(its size) per step. While completions keep arriving (another step of the instance is
        due now), it is stored at most every ``STATUS_INTERVAL_S``, and a step that leaves it
        pending makes sure (``_rearm``) the instance wakes to store it by then. The last step of
        a burst stores it at once, so a watcher sees every state a quiet instance settles in.
        """
        with self._cond:
            next_step = self._next_wake.get(instance_id)
        moment = time.monotonic()
        last = self._status_written.get(instance_id)
        busy = next_step is not None and next_step <= time.time()
        if busy and last is not None and moment - last < STATUS_INTERVAL_S:
            return False
        self._status_written[instance_id] = moment
        self._status_pending.pop(instance_id, None)
        return True

    def _store_pending_status(self, record: InstanceRecord) -> None:
        """A wake-up with nothing in the inbox: store the custom status left pending, if due."""
        pending = self._status_pending.get(record.instance_id)
        if pending is None or record.status in TERMINAL:
            return
        if self._status_due(record.instance_id):  # not over a newer one (ADR 0023)
            self.store.set_custom_status(record.instance_id, pending[0], history_len=pending[1])

    # -- management operations (the Durable HTTP API calls these) -----------------------------------
    def start_new(
        self, name: str, instance_id: str | None, input_json: str | None, version: str | None = None
    ) -> str:
        """Start ``name``; ``version`` None takes host.json's ``defaultVersion`` (ADR 0020)."""
        self.index.orchestrator(name)  # LookupError names the missing function
        instance_id = instance_id or uuid.uuid4().hex
        existing = self.store.get(instance_id)
        if existing is not None and existing.status not in TERMINAL:
            raise Conflict(f"An instance with ID '{instance_id}' already exists.")
        stamp = format_time(utcnow())
        version = self.config.versioning.for_new_instance(version)
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
        self._runner.poke()  # its rows are unleased: whoever has a thread free claims them

    def purge(self, instance_ids: Sequence[str]) -> int:
        finished = [i for i in instance_ids if (r := self.store.get(i)) is not None and r.status in TERMINAL]
        for instance_id in finished:
            self._evict(instance_id)
        return self.store.purge(finished)

    def _live(self, instance_id: str) -> InstanceRecord:
        record = self.store.get(instance_id)
        if record is None:
            raise NotFound(f"No instance with ID '{instance_id}' found.")
        if record.status in TERMINAL:
            raise Gone(f"Instance '{instance_id}' is {record.status.lower()}.")
        return record

    def _send(self, instance_id: str, event: Event) -> None:
        self.store.send(Message(instance_id, None, time.time(), event))
        self._wake(instance_id)
