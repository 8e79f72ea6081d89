"""What the host's store reads and writes, as plain values: an instance's record, a message for
its inbox, a scheduled activity (a work item), and everything one orchestrator step changes.

Kept apart from ``_store`` (the SQL) so that the engine, the endings and the management API can
build and read them; ``_store`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._events import Event

__all__ = ["InstanceRecord", "Message", "StepConflict", "StepWrite", "TERMINAL", "WorkItem"]

TERMINAL = frozenset({"Completed", "Failed", "Terminated"})


@dataclass(slots=True)
class InstanceRecord:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    created_at: str
    updated_at: str
    history_len: int
    shim: str | None
    version: str | None = None  # the orchestration version (ADR 0020); None is no version, not ""


@dataclass(frozen=True, slots=True)
class Message:
    instance_id: str
    execution_id: str | None
    visible_at: float
    event: Event


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(slots=True)
class StepWrite:
    """Everything one orchestrator step changes, applied atomically."""

    instance_id: str
    history: list[Event] = field(default_factory=list)
    reset_history: bool = False
    consumed: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)  # work rows whose results it records (ADR 0052)
    work: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    new_instances: list[InstanceRecord] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    drop_pending: bool = False
    now: float = 0.0  # with drop_pending: inbox messages visible later than this are dropped
    expected_len: int | None = None  # the history length the step read: another step won if it moved
    owner: str | None = None  # the first ``claim`` work rows are leased to it until ``lease_until``
    claim: int = 0
    lease_until: float = 0.0


class StepConflict(Exception):
    """Another step of the instance (another process, a rewind) committed since this one read it."""
