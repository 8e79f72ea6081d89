"""The action shim: turns the SDK's cumulative action list into scheduled work.

On Azure, the Durable extension replays the out-of-process action list with a
small C# shim that awaits each top-level action in turn (``await`` of an
activity, a timer, ``Task.WhenAll``/``Task.WhenAny`` of children). Task ids come
from that replay: every started activity, sub-orchestration or timer takes the
next sequence number, and a retrying call takes one more for its back-off timer
and one for each new attempt. The Python SDK numbers its tasks the same way, so
completions line up by ``TaskScheduledId``/``TimerId``.

This module reproduces those semantics as a pure, JSON-serialisable state
machine, so the engine can snapshot it in the same transaction as each step
and a restarted host resumes with identical numbering. Facts it encodes:

* actions start one top-level action at a time, in order; the next one starts
  only when the current one is done (a failure counts as done);
* ``WhenAll`` is done when *every* child is done, even after one failed;
  ``WhenAny`` when the first child is;
* a cancelled timer is created and then completes at once;
* an external event raised before anyone waits for it is buffered by name;
* a retry waits on a timer after every failure (also the last one) and only
  then decides between a new attempt and giving up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ._events import Event, EventType, format_time, parse_time

__all__ = ["ENTITIES_UNSUPPORTED", "HTTP_UNSUPPORTED", "ActionShim", "Command", "ShimError"]


class ShimError(Exception):
    """The orchestrator asked for something the embedded host cannot do."""


# Action types, as the SDK writes them (ActionType).
_CALL_ACTIVITY = 0
_CALL_ACTIVITY_RETRY = 1
_CALL_SUB = 2
_CALL_SUB_RETRY = 3
_CONTINUE_AS_NEW = 4
_CREATE_TIMER = 5
_WAIT_EVENT = 6
_WHEN_ANY = 11
_WHEN_ALL = 12
ENTITIES_UNSUPPORTED = "durable entities are not supported by the embedded host yet (ADR 0021)"
HTTP_UNSUPPORTED = "durable HTTP (call_http) is not supported by the embedded host yet (ADR 0021)"
_UNSUPPORTED = {
    7: f"call_entity: {ENTITIES_UNSUPPORTED}",
    8: f"call_http: {HTTP_UNSUPPORTED}",
    9: f"signal_entity: {ENTITIES_UNSUPPORTED}",
    10: f"signal_entity: {ENTITIES_UNSUPPORTED}",
}

_COMPLETIONS = {
    EventType.TASK_COMPLETED: ("TaskScheduledId", True),
    EventType.TASK_FAILED: ("TaskScheduledId", False),
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: ("TaskScheduledId", True),
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: ("TaskScheduledId", False),
    EventType.TIMER_FIRED: ("TimerId", True),
}


@dataclass(frozen=True, slots=True)
class Command:
    """Work the engine must carry out after the step commits.

    ``kind`` is ``activity``, ``suborchestration``, ``timer`` or ``record`` (history
    only: a timer cancelled before it was ever awaited). ``event`` is the history
    event that records the command. ``version``: a sub-orchestration's, as the call
    asked for it, else its parent's (ADR 0020).
    """

    kind: str
    task_id: int
    name: str = ""
    input: str | None = None
    instance_id: str | None = None
    fire_at: str | None = None
    event: Event | None = None
    version: str | None = None


@dataclass(slots=True)
class ActionShim:
    """Replays new actions and completion events; see the module docstring."""

    seen: int = 0
    next_id: int = 0
    next_node: int = 0
    current: str | None = None
    queue: list[dict[str, Any]] = field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    buffered: dict[str, int] = field(default_factory=dict)
    continue_as_new: str | None = None
    _instance_id: str = ""
    _version: str | None = None
    _now: str = ""
    _out: list[Command] = field(default_factory=list)

    # -- snapshot -------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "next_id": self.next_id,
            "next_node": self.next_node,
            "current": self.current,
            "queue": self.queue,
            "nodes": self.nodes,
            "pending": self.pending,
            "waiting": self.waiting,
            "buffered": self.buffered,
            "continue_as_new": self.continue_as_new,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ActionShim:
        return cls(**state) if state else cls()

    @property
    def started_actions(self) -> int:
        """How many top-level actions have been started (their leaves are in history)."""
        return self.seen - len(self.queue)

    # -- one orchestrator step ------------------------------------------------
    def step(
        self,
        instance_id: str,
        now: str,
        new_actions: list[dict[str, Any]],
        events: list[Event],
        version: str | None = None,
    ) -> list[Command]:
        """Apply one step: the actions the SDK added and the events it was given.

        ``version`` is the instance's: a sub-orchestration called without one inherits it.

        Events are applied in history order and queued actions start as soon as
        the action before them is done, which interleaves ids exactly as the
        SDK's own replay allocates them.
        """
        self._instance_id, self._version, self._now, self._out = instance_id, version, now, []
        self.seen += len(new_actions)
        self.queue.extend(new_actions)
        for event in events:
            self._apply(event)
            self._advance()
        self._advance()
        return self._out

    def _apply(self, event: Event) -> None:
        kind = event["EventType"]
        if kind == EventType.EVENT_RAISED:
            name = event.get("Name") or ""
            waiters = self.waiting.get(name)
            if waiters:
                key = waiters.pop(0)
                if not waiters:
                    del self.waiting[name]
                self._finish(key)
            else:
                self.buffered[name] = self.buffered.get(name, 0) + 1
            return
        completion = _COMPLETIONS.get(kind)
        if completion is None:
            return
        id_key, ok = completion
        task_key = str(event.get(id_key))
        found: str | None = self.pending.pop(task_key) if task_key in self.pending else None
        if found is None or found not in self.nodes:
            return
        key = found
        node = self.nodes[key]
        retry = node.get("retry")
        if retry is None or (ok and kind != EventType.TIMER_FIRED):
            self._finish(key)
        elif kind == EventType.TIMER_FIRED:
            if node["attempts"] >= retry["maxNumberOfAttempts"]:
                self._finish(key)
            else:
                node["attempts"] += 1
                self._schedule_call(key, node, retry_attempt=True)
        else:
            delay = timedelta(milliseconds=retry["firstRetryIntervalInMilliseconds"])
            fire_at = format_time(parse_time(self._now) + delay)
            self._schedule_timer(key, fire_at, retry_timer=True)

    def _advance(self) -> None:
        while self.current is None and self.queue:
            action = self.queue.pop(0)
            key = self._start(action, parent=None)
            if key in self.nodes:
                self.current = key

    # -- starting actions -------------------------------------------------------
    def _new_node(self, kind: str, parent: str | None, **extra: Any) -> str:
        key = str(self.next_node)
        self.next_node += 1
        self.nodes[key] = {"kind": kind, "parent": parent, **extra}
        return key

    def _take_id(self) -> int:
        task_id = self.next_id
        self.next_id += 1
        return task_id

    def _start(self, action: dict[str, Any], parent: str | None) -> str:
        kind = action.get("actionType")
        if kind in (_WHEN_ALL, _WHEN_ANY):
            children = action.get("compoundActions") or []
            key = self._new_node("all" if kind == _WHEN_ALL else "any", parent, remaining=len(children))
            for child in children:
                self._start(child, parent=key)
            if not children:
                self._finish(key)
            return key
        if kind in (_CALL_ACTIVITY, _CALL_ACTIVITY_RETRY, _CALL_SUB, _CALL_SUB_RETRY):
            node_kind = "activity" if kind in (_CALL_ACTIVITY, _CALL_ACTIVITY_RETRY) else "sub"
            retry = action.get("retryOptions") if kind in (_CALL_ACTIVITY_RETRY, _CALL_SUB_RETRY) else None
            call = {
                "name": action.get("functionName", ""),
                "input": action.get("input"),
                "instanceId": action.get("instanceId"),
                "version": action.get("version"),  # the SDK writes null when the call names none
                "retry": retry,
                "attempts": 1,
            }
            # Only a new attempt reads the call again: without a retry policy the node keeps its
            # kind and parent alone, which keeps the snapshot written every step small.
            key = self._new_node(node_kind, parent, **(call if retry is not None else {}))
            self._schedule_call(key, {"kind": node_kind, **call}, retry_attempt=False)
            return key
        if kind == _CREATE_TIMER:
            if action.get("isCanceled"):
                # Created (it takes a node number and an id) and cancelled at once: recorded,
                # never pending, done. The graph adds one to every batch: no node is kept for it.
                key = str(self.next_node)
                self.next_node += 1
                task_id = self._take_id()
                event = self._timer_event(task_id, action["fireAt"], retry_timer=False)
                self._out.append(Command("record", task_id, event=event))
                self._child_done(parent)
                return key
            key = self._new_node("timer", parent)
            self._schedule_timer(key, action["fireAt"], retry_timer=False)
            return key
        if kind == _WAIT_EVENT:
            name = action.get("externalEventName") or ""
            key = self._new_node("event", parent, name=name)
            if self.buffered.get(name):
                self.buffered[name] -= 1
                if not self.buffered[name]:
                    del self.buffered[name]
                self._finish(key)
            else:
                self.waiting.setdefault(name, []).append(key)
            return key
        if kind == _CONTINUE_AS_NEW:
            self.continue_as_new = action.get("input")
            key = self._new_node("continue", parent)
            self._finish(key)
            return key
        unsupported = _UNSUPPORTED.get(kind)  # type: ignore[arg-type]
        raise ShimError(unsupported or f"The embedded host does not support action type {kind!r} yet.")

    def _schedule_call(self, key: str, node: dict[str, Any], *, retry_attempt: bool) -> None:
        task_id = self._take_id()
        self.pending[str(task_id)] = key
        marks = {"Retry": True} if retry_attempt else {}
        if node["kind"] == "activity":
            event = {
                "EventType": int(EventType.TASK_SCHEDULED),
                "EventId": task_id,
                "IsPlayed": False,
                "Timestamp": self._now,
                "Name": node["name"],
                "Input": node["input"],
                **marks,
            }
            self._out.append(Command("activity", task_id, node["name"], node["input"], event=event))
            return
        child_id = node.get("instanceId") or f"{self._instance_id}:{task_id}"
        version = self._version if node.get("version") is None else node["version"]
        event = {
            "EventType": int(EventType.SUB_ORCHESTRATION_INSTANCE_CREATED),
            "EventId": task_id,
            "IsPlayed": False,
            "Timestamp": self._now,
            "Name": node["name"],
            "InstanceId": child_id,
            "Input": node["input"],
            "Version": version,
            **marks,
        }
        self._out.append(
            Command(
                "suborchestration",
                task_id,
                node["name"],
                node["input"],
                instance_id=child_id,
                event=event,
                version=version,
            )
        )

    def _schedule_timer(self, key: str, fire_at: str, *, retry_timer: bool) -> None:
        task_id = self._take_id()
        self.pending[str(task_id)] = key
        event = self._timer_event(task_id, fire_at, retry_timer=retry_timer)
        self._out.append(Command("timer", task_id, fire_at=fire_at, event=event))

    def _timer_event(self, task_id: int, fire_at: str, *, retry_timer: bool) -> Event:
        marks = {"Retry": True} if retry_timer else {}
        return {
            "EventType": int(EventType.TIMER_CREATED),
            "EventId": task_id,
            "IsPlayed": False,
            "Timestamp": self._now,
            "FireAt": fire_at,
            **marks,
        }

    # -- completion propagation ---------------------------------------------
    def _finish(self, key: str) -> None:
        node = self.nodes.pop(key, None)
        if node is None:
            return
        if key == self.current:
            self.current = None
        self._child_done(node["parent"])

    def _child_done(self, parent_key: str | None) -> None:
        """A child of ``parent_key`` (None: a top-level action) is done."""
        parent = self.nodes.get(parent_key) if parent_key is not None else None
        if parent is None or parent_key is None:
            return
        if parent["kind"] == "any":
            self._finish(parent_key)
            return
        parent["remaining"] -= 1
        if parent["remaining"] <= 0:
            self._finish(parent_key)
