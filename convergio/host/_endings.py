"""How an execution ends, as the step that ends it writes it (the engine commits it).

Completed, failed or terminated: the closing history events, the instance's final fields, and
the completion message to a parent, all in the step's one transaction. A version mismatch
under ``versionFailureStrategy: Fail`` fails the instance without running its code (ADR 0020).
A continue-as-new starts a new execution of the instance with a new input and no history.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ._events import Event, EventType, new_event
from ._payloads import stored_sdk_value
from ._records import record_fields, started_event
from ._store import InstanceRecord, Message, StepWrite
from ._versioning import MISMATCH, MISMATCH_OUTPUT

__all__ = ["continued", "ending", "version_failure"]


def ending(
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
    """Make ``write`` complete, fail or terminate the instance and tell its parent.

    ``failure``: DurableTask.Core's own ``FailureDetails`` (a version mismatch), with no result.
    """
    if status == "Terminated":
        events = [*events, new_event(EventType.EXECUTION_TERMINATED, stamp, Input=output)]
    details: dict[str, Any] = {"FailureDetails": failure} if failure else {}
    result = None if failure else output
    events = [
        *events,
        new_event(EventType.EXECUTION_COMPLETED, stamp, OrchestrationStatus=status, Result=result, **details),
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


def version_failure(
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
    ending(record, write, events, stamp, now, "Failed", output=output, failure=MISMATCH)


def continued(record: InstanceRecord, write: StepWrite, new_input: str, stamp: str, now: float) -> None:
    """Make ``write`` continue the instance as new: a new execution, its history reset."""
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
