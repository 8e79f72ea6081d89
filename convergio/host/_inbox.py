"""What one step does with an instance's visible inbox messages, and the shims steps keep.

``deliver`` decides, in inbox order, which messages a step consumes, which it gives the
orchestrator, which a suspension holds back until a resume, and whether one terminates the
instance. A result handed to the step by the thread that ran its activity (ADR 0052) comes
last, as if just queued, under the id ``HANDED``; ``hand_in`` makes the step's commit record
it. ``KeptShims`` keeps each running instance's action shim as its last committed step
left it, keyed by the history length it matches: the next step then skips decoding the snapshot.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._events import Event, EventType
from ._shim import ActionShim
from ._store import TERMINAL, InstanceRecord, Message, StepWrite, WorkItem
from ._stored_json import stored_value

__all__ = ["HANDED", "Delivery", "Handed", "KeptShims", "deliver", "hand_in"]

HANDED = 0
"""The message id of a handed result: the inbox's ids (``AUTOINCREMENT``) start at 1."""


@dataclass(slots=True)
class Delivery:
    """``consumed``: message ids the step removes; ``events``: what the orchestrator gets;
    ``status``: the instance's status after them; ``terminate_reason``: set when one terminates."""

    status: str
    consumed: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    terminate_reason: str | None = None


def deliver(record: InstanceRecord, messages: Sequence[tuple[int, str | None, Event]]) -> Delivery:
    """Sort a step's messages: a terminated or stale execution's are consumed unseen, a
    termination ends the sorting, a suspended instance holds all but a resume (which releases
    what it held, in order)."""
    found = Delivery(record.status)
    held: list[tuple[int, Event]] = []
    for message_id, execution_id, event in messages:
        kind = event["EventType"]
        stale = execution_id is not None and execution_id != record.execution_id
        if found.status in TERMINAL or stale:
            found.consumed.append(message_id)
        elif kind == EventType.EXECUTION_TERMINATED:
            found.consumed.append(message_id)
            found.terminate_reason = event.get("Input")
            break
        elif found.status == "Suspended" and kind != EventType.EXECUTION_RESUMED:
            held.append((message_id, event))
        else:
            found.consumed.append(message_id)
            found.events.append(event)
            if kind == EventType.EXECUTION_SUSPENDED:
                found.status = "Suspended"
            elif kind == EventType.EXECUTION_RESUMED:
                found.status = "Running"
                found.consumed.extend(i for i, _ in held)
                found.events.extend(e for _, e in held)
                held.clear()
    return found


@dataclass(frozen=True, slots=True)
class Handed:
    """A result handed to its instance's step by the pool thread that ran its item (ADR 0052);
    ``woken``: the instance also had a wake-up due (a message may wait in its inbox)."""

    item: WorkItem
    event: Event
    woken: bool


def hand_in(write: StepWrite, handed: Handed, now: float, *, consumed: bool) -> None:
    """Make ``write`` record a handed result as ``complete_many`` would have, in the step's
    own transaction: its work row deleted (the commit fails if it is gone) and, unless the
    step ``consumed`` it, the result queued in the inbox (held by a suspension, or behind a
    termination), where the next step finds it."""
    item = handed.item
    write.completed.append(item.id)
    if HANDED in write.consumed:
        write.consumed.remove(HANDED)
    if not consumed:
        write.messages.append(Message(item.instance_id, item.execution_id, now, handed.event))


@dataclass(slots=True)
class _Kept:
    history_len: int
    shim: ActionShim
    header: InstanceRecord | None


class KeptShims:
    """Up to ``keep`` instances' shims, the least recently stepped forgotten first, each with
    the instance's header as its last step committed it (until the next step takes it)."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._shims: OrderedDict[str, _Kept] = OrderedDict()

    def matches(self, record: InstanceRecord) -> bool:
        """Is the kept shim the one of the record's history?"""
        kept = self._shims.get(record.instance_id)
        return kept is not None and kept.history_len == record.history_len

    def take(self, record: InstanceRecord) -> ActionShim:
        """The kept shim when it matches, else the record's snapshot decoded."""
        kept = self._shims.pop(record.instance_id, None)
        if kept is not None and kept.history_len == record.history_len:
            return kept.shim
        return ActionShim.from_state(stored_value(record.shim) if record.shim else None)

    def take_header(self, instance_id: str) -> InstanceRecord | None:
        """The header the instance's last step committed, once: every step takes it, so one
        that commits anything else leaves none (only an orchestrator step's commit keeps one)."""
        kept = self._shims.get(instance_id)
        if kept is None:
            return None
        header, kept.header = kept.header, None
        return header

    def keep(
        self, record: InstanceRecord, history_len: int, shim: ActionShim, status: str, updated_at: str
    ) -> None:
        """Keep the shim of a committed step of ``record``'s instance, and its header (as
        ``Store.get(header=True)`` would read it) as that commit left it."""
        if self._keep:
            header = InstanceRecord(
                record.instance_id,
                record.name,
                record.execution_id,
                status,
                None,
                None,
                None,
                record.parent_instance_id,
                record.parent_execution_id,
                record.parent_task_id,
                record.created_at,
                updated_at,
                history_len,
                None,
                record.version,
            )
            self._shims[record.instance_id] = _Kept(history_len, shim, header)
            while len(self._shims) > self._keep:
                self._shims.popitem(last=False)

    def drop(self, instance_id: str) -> None:
        self._shims.pop(instance_id, None)
