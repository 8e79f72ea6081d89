"""A new instance's record and the ``ExecutionStarted`` event that starts it.

The event is what the SDK reads an instance's identity from on every replay: its name, input,
parent and version (``context.version``, ADR 0020).
"""

from __future__ import annotations

import uuid
from typing import Any

from ._events import Event, EventType, new_event
from ._store import InstanceRecord

__all__ = ["new_record", "record_fields", "started_event"]


def new_record(
    instance_id: str,
    name: str,
    input_json: str | None,
    stamp: str,
    parent: tuple[InstanceRecord, int] | None,
    version: str | None,
) -> InstanceRecord:
    """A ``Pending`` instance; ``parent`` is the calling instance and its task id, for a sub-orchestration."""
    return InstanceRecord(
        instance_id=instance_id,
        name=name,
        execution_id=uuid.uuid4().hex,
        status="Pending",
        input=input_json,
        output=None,
        custom_status=None,
        parent_instance_id=parent[0].instance_id if parent else None,
        parent_execution_id=parent[0].execution_id if parent else None,
        parent_task_id=parent[1] if parent else None,
        created_at=stamp,
        updated_at=stamp,
        history_len=0,
        shim=None,
        version=version,
    )


def started_event(record: InstanceRecord, stamp: str) -> Event:
    parent: dict[str, Any] | None = None
    if record.parent_instance_id:
        parent = {
            "TaskScheduleId": record.parent_task_id,
            "OrchestrationInstance": {
                "InstanceId": record.parent_instance_id,
                "ExecutionId": record.parent_execution_id,
            },
        }
    return new_event(
        EventType.EXECUTION_STARTED,
        stamp,
        Name=record.name,
        Version=record.version,  # the SDK's context.version: None when the instance has none
        Input=record.input,
        ParentInstance=parent,
        OrchestrationInstance={"InstanceId": record.instance_id, "ExecutionId": record.execution_id},
    )


def record_fields(record: InstanceRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}
