"""What one step does with an instance's visible inbox messages, and the shims steps keep.

``deliver`` decides, in inbox order, which messages a step consumes, which it gives the
orchestrator, which a suspension holds back until a resume, and whether one terminates the
instance. ``KeptShims`` keeps each running instance's action shim as its last committed step
left it, keyed by the history length it matches: the next step then skips decoding the snapshot.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._events import Event, EventType
from ._shim import ActionShim
from ._store import TERMINAL, InstanceRecord

__all__ = ["Delivery", "KeptShims", "deliver"]


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


class KeptShims:
    """Up to ``keep`` instances' shims, the least recently stepped forgotten first."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._shims: OrderedDict[str, tuple[int, ActionShim]] = OrderedDict()

    def matches(self, record: InstanceRecord) -> bool:
        """Is the kept shim the one of the record's history?"""
        kept = self._shims.get(record.instance_id)
        return kept is not None and kept[0] == record.history_len

    def take(self, record: InstanceRecord) -> ActionShim:
        """The kept shim when it matches, else the record's snapshot decoded."""
        kept = self._shims.pop(record.instance_id, None)
        if kept is not None and kept[0] == record.history_len:
            return kept[1]
        return ActionShim.from_state(json.loads(record.shim) if record.shim else None)

    def keep(self, instance_id: str, history_len: int, shim: ActionShim) -> None:
        if self._keep:
            self._shims[instance_id] = (history_len, shim)
            while len(self._shims) > self._keep:
                self._shims.popitem(last=False)

    def drop(self, instance_id: str) -> None:
        self._shims.pop(instance_id, None)
