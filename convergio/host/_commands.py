"""What a step writes for the commands the action shim turned its new actions into.

An activity is a work row; a timer is its ``TimerFired`` message, visible at its time; a
sub-orchestration is a new instance with its start message, or, when a running instance
already has that id, a ``SubOrchestrationInstanceFailed`` for the caller, as DTFx answers it.
A ``record`` command is history only (its event is in the step's history already).
"""

from __future__ import annotations

from ._events import EventType, new_event, parse_time
from ._payloads import stored_sdk_value
from ._records import new_record, started_event
from ._shim import Command
from ._store import TERMINAL, InstanceRecord, Message, StepWrite, Store

__all__ = ["apply_command"]


def apply_command(
    store: Store, record: InstanceRecord, write: StepWrite, command: Command, stamp: str, now: float
) -> None:
    """Add ``command`` of a step of ``record`` to the step's ``write`` (``store`` is read only)."""
    if command.kind == "activity":
        write.work.append((record.execution_id, command.task_id, command.name, command.input))
    elif command.kind == "timer" and command.fire_at is not None:
        fired = new_event(EventType.TIMER_FIRED, stamp, TimerId=command.task_id, FireAt=command.fire_at)
        visible_at = parse_time(command.fire_at).timestamp()
        write.messages.append(Message(record.instance_id, record.execution_id, visible_at, fired))
    elif command.kind == "suborchestration" and command.instance_id is not None:
        existing = store.get(command.instance_id)
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
