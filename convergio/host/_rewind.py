"""Rewind a failed orchestration: run its failed activities again, keep everything else.

On Azure (``RewindAsync``, a preview feature) a failed instance goes back to running: the failed
tasks are dropped from its history, the orchestrator replays, and the tasks it is then still
waiting for run again; activities that succeeded are not repeated. The embedded host does the
same, within these bounds (anything else is refused with 501 and a message saying why):

* only activity failures are rewound; a failed sub-orchestration would need its own rewind;
* an activity with a retry policy is not (its back-off timers are part of the failure);
* the history must replay as recorded up to the failure (it always does for a deterministic
  orchestrator). Steps recorded *after* the orchestrator saw a failure (it caught it and went
  on) are dropped and run again once the activity succeeds.

The shim state that the failure discarded is rebuilt by replaying each recorded step through a
fresh executor (no kept sessions) and a fresh :class:`ActionShim`, comparing what it schedules
with what the history recorded. The new history, the shim, the status and the activities to run
again are committed in one transaction, under a new execution ID so results of the failed
execution can never land in the rewound one.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._events import Event, EventType, format_time, new_event, utcnow
from ._executor import Instance, OrchestrationExecutor
from ._shim import ActionShim
from ._store import StepWrite

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["NotFailed", "RewindRefused", "rewind"]

_DELIVERED = {
    EventType.EXECUTION_STARTED,
    EventType.TASK_COMPLETED,
    EventType.TASK_FAILED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
    EventType.TIMER_FIRED,
    EventType.EVENT_RAISED,
    EventType.EXECUTION_SUSPENDED,
    EventType.EXECUTION_RESUMED,
}
_SCHEDULED = {
    EventType.TASK_SCHEDULED,
    EventType.TIMER_CREATED,
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
    EventType.EVENT_SENT,
}
_LOCK = threading.Lock()  # one rewind at a time: each reads, rebuilds and rewrites one instance


class RewindRefused(Exception):
    """This failed instance cannot be rewound by the embedded host; the message says why."""


class NotFailed(RewindRefused):
    """The instance is not (or no longer: a concurrent rewind) failed."""


@dataclass(slots=True)
class _Step:
    started: Event
    delivered: list[Event] = field(default_factory=list)
    scheduled: list[Event] = field(default_factory=list)


def _steps(history: list[Event]) -> list[_Step]:
    """The recorded steps: what each was given, and what it scheduled."""
    steps: list[_Step] = []
    for event in history:
        kind = EventType(event["EventType"])
        if kind == EventType.ORCHESTRATOR_STARTED:
            steps.append(_Step(event))
        elif not steps:
            continue
        elif kind in _DELIVERED:
            steps[-1].delivered.append(event)
        elif kind in _SCHEDULED:
            steps[-1].scheduled.append(event)
    return steps


def _ids(events: list[Event]) -> list[tuple[int, int]]:
    return [(int(e["EventType"]), int(e.get("EventId", -1))) for e in events]


def rewind(engine: Engine, instance_id: str, reason: str | None) -> None:
    """Rewind the failed instance ``instance_id``; :class:`RewindRefused` when it cannot be."""
    with _LOCK:
        record = engine.store.get(instance_id)
        if record is None or record.status != "Failed":
            raise NotFailed("The rewind operation is only supported on failed orchestration instances.")
        history = engine.store.history(instance_id)
        failed = {int(e["TaskScheduledId"]) for e in history if e["EventType"] == EventType.TASK_FAILED}
        if any(e["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_FAILED for e in history):
            raise RewindRefused("Rewinding a failed sub-orchestration is not supported by the embedded host.")
        if not failed:
            raise RewindRefused(
                "The instance failed without a failed activity: there is nothing to run again."
            )
        execution_id = uuid.uuid4().hex
        instance = Instance(instance_id, record.name, execution_id, record.input, record.parent_instance_id)
        executor = OrchestrationExecutor(engine.index.orchestrator, keep_alive=0)
        shim, rebuilt = ActionShim(), list[Event]()
        seen_failure = False
        for step in _steps(history):
            delivered = [e for e in step.delivered if e["EventType"] != EventType.TASK_FAILED]
            seen_failure = seen_failure or len(delivered) < len(step.delivered)
            if not delivered:
                continue
            before = json.dumps(shim.to_state())
            if _replays(executor, shim, instance, rebuilt, step, delivered, record.version):
                continue
            if not seen_failure:
                raise RewindRefused("The orchestrator no longer replays its recorded history.")
            # The orchestrator went on after seeing a failure: drop the rest of the history.
            shim = ActionShim.from_state(json.loads(before))
            break
        work = _work_again(shim, rebuilt, failed, execution_id)
        stamp = format_time(utcnow())
        write = StepWrite(instance_id, history=rebuilt, reset_history=True, work=work, drop_pending=True)
        write.updates = {
            "execution_id": execution_id,
            "status": "Running",
            "output": None,
            "updated_at": stamp,
            "shim": json.dumps(shim.to_state()),
        }
        engine.run_committed_work(instance_id, engine.store.commit_step(write), reason)


def _replays(
    executor: OrchestrationExecutor,
    shim: ActionShim,
    instance: Instance,
    rebuilt: list[Event],
    step: _Step,
    delivered: list[Event],
    version: str | None,
) -> bool:
    """Run one recorded step again; True (and ``rebuilt`` extended) when it did what it recorded.

    A completion of a task the rebuilt history never scheduled does not replay: delivered later
    to a task that reuses its ID, it would be taken for that task's result.
    """
    known = {int(e.get("EventId", -1)) for e in rebuilt if EventType(e["EventType"]) in _SCHEDULED}
    for event in delivered:
        target = event.get("TaskScheduledId", event.get("TimerId"))
        if target is not None and int(target) not in known:
            return False
    events = [step.started, *delivered]
    try:
        result = executor.execute(instance, rebuilt, events, shim.seen)
        if result.error is not None or result.done:
            return False
        commands = shim.step(instance.instance_id, step.started["Timestamp"], result.actions, events, version)
    except Exception:  # non-determinism, or an action the shim refuses: it does not replay
        return False
    produced = [c.event for c in commands if c.event is not None]
    if _ids(produced) != _ids(step.scheduled):
        return False
    completed = new_event(EventType.ORCHESTRATOR_COMPLETED, step.started["Timestamp"])
    rebuilt += [*events, *produced, completed]
    return True


def _work_again(
    shim: ActionShim, history: list[Event], failed: set[int], execution_id: str
) -> list[tuple[str, int, str, str | None]]:
    """Every activity the rebuilt orchestrator still waits for, as work rows: the failed ones,
    and any whose result was recorded only in the history dropped after the failure."""
    scheduled = {int(e["EventId"]): e for e in history if EventType(e["EventType"]) in _SCHEDULED}
    work = []
    for task_id, key in sorted((int(t), k) for t, k in shim.pending.items()):
        event = scheduled.get(task_id)
        if event is None or event["EventType"] != EventType.TASK_SCHEDULED:
            raise RewindRefused(
                "The orchestrator also awaits a timer or a sub-orchestration: not supported yet."
            )
        if shim.nodes.get(key, {}).get("retry"):
            raise RewindRefused("Rewinding an activity called with a retry policy is not supported yet.")
        work.append((execution_id, task_id, str(event["Name"]), event.get("Input")))
    if not any(task_id in failed for _, task_id, _, _ in work):
        raise RewindRefused("No failed activity is awaited after the replay: there is nothing to run again.")
    return work
