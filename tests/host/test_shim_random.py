"""Randomised: the shim's shortcut for a timer cancelled at birth (the graph's flush timer, one
per batch) must leave exactly what the general timer path leaves: commands, ids, snapshot."""

from __future__ import annotations

import json
import random
from typing import Any

from convergio.host._events import EventType, new_event
from convergio.host._shim import ActionShim, Command

NOW = "2026-01-01T00:00:00.000000Z"


class _GeneralPath(ActionShim):
    """The oracle: a cancelled timer created as any timer, then recorded and finished."""

    def _start(self, action: dict[str, Any], parent: str | None) -> str:
        if action.get("actionType") != 5 or not action.get("isCanceled"):
            return super()._start(action, parent)
        key = self._new_node("timer", parent)
        self._schedule_timer(key, action["fireAt"], retry_timer=False)
        created = self._out.pop()
        self.pending.pop(str(created.task_id), None)
        self._out.append(Command("record", created.task_id, event=created.event))
        self._finish(key)
        return key


def _action(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth < 3 and roll < 0.35:
        children = [_action(rng, depth + 1) for _ in range(rng.randint(0, 5))]
        if rng.random() < 0.7:  # as the graph builds it: new calls, then a cancelled timer
            children.append({"actionType": 5, "fireAt": NOW, "isCanceled": True})
        return {"actionType": rng.choice([11, 12]), "compoundActions": children}
    if roll < 0.55:
        return {"actionType": 5, "fireAt": NOW, "isCanceled": rng.random() < 0.6}
    if roll < 0.65:
        return {"actionType": 6, "externalEventName": rng.choice("ab")}
    if roll < 0.75:
        retry = {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": rng.randint(1, 3)}
        return {"actionType": 1, "functionName": "f", "input": "1", "retryOptions": retry}
    return {"actionType": 0, "functionName": rng.choice("fg"), "input": "null"}


def _events(rng: random.Random, pending: list[str]) -> list[dict[str, Any]]:
    chosen = rng.sample(pending, k=min(len(pending), rng.randint(0, 3)))
    events = []
    for task_id in chosen:
        kind = rng.choice([EventType.TASK_COMPLETED, EventType.TASK_FAILED, EventType.TIMER_FIRED])
        field = "TimerId" if kind == EventType.TIMER_FIRED else "TaskScheduledId"
        events.append(new_event(kind, NOW, **{field: int(task_id)}))
    if rng.random() < 0.3:
        events.append(new_event(EventType.EVENT_RAISED, NOW, Name=rng.choice("ab"), Input="null"))
    return events


def test_a_cancelled_timer_leaves_what_the_general_path_leaves() -> None:
    rng = random.Random(22)
    for _ in range(300):
        fast, oracle = ActionShim(), _GeneralPath()
        for _ in range(rng.randint(1, 12)):
            actions = [_action(rng) for _ in range(rng.randint(0, 3))]
            events = _events(rng, sorted(oracle.pending))
            got = fast.step("i", NOW, [dict(a) for a in actions], events)
            want = oracle.step("i", NOW, [dict(a) for a in actions], events)
            assert got == want
            assert fast.to_state() == oracle.to_state()


class _FullNodes(ActionShim):
    """The oracle: a call's node keeps the whole call, as snapshots did before ADR 0041."""

    def _start(self, action: dict[str, Any], parent: str | None) -> str:
        kind = action.get("actionType")
        if kind not in (0, 1, 2, 3):
            return super()._start(action, parent)
        retry = action.get("retryOptions") if kind in (1, 3) else None
        key = self._new_node(
            "activity" if kind in (0, 1) else "sub",
            parent,
            name=action.get("functionName", ""),
            input=action.get("input"),
            instanceId=action.get("instanceId"),
            version=action.get("version"),
            retry=retry,
            attempts=1,
        )
        self._schedule_call(key, self.nodes[key], retry_attempt=False)
        if retry is None:
            del self.nodes[key]["input"]
        return key


def _call_or_action(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.2:
        retry = {"firstRetryIntervalInMilliseconds": 500, "maxNumberOfAttempts": rng.randint(1, 3)}
        sub: dict[str, Any] = {"actionType": rng.choice([2, 3]), "functionName": "s", "input": "2"}
        sub.update(instanceId=rng.choice([None, "child"]), version=rng.choice([None, "2.0"]))
        return {**sub, "retryOptions": retry} if sub["actionType"] == 3 else sub
    return _action(rng)


def test_call_nodes_without_a_retry_keep_only_their_parent_and_snapshots_resume_alike() -> None:
    """Commands are the same as with whole call nodes, after a snapshot round trip every step (a
    restart) and after resuming from a snapshot the older shape wrote; only the snapshot is smaller."""
    rng = random.Random(41)
    for _ in range(300):
        trimmed, oracle = ActionShim(), _FullNodes()
        switch = rng.randint(0, 12)  # from here on, resume from the oracle's (older) snapshot too
        older: ActionShim | None = None
        for n in range(rng.randint(1, 12)):
            if n == switch:
                older = ActionShim.from_state(json.loads(json.dumps(oracle.to_state())))
            actions = [_call_or_action(rng) for _ in range(rng.randint(0, 3))]
            events = _events(rng, sorted(oracle.pending))
            want = oracle.step("i", NOW, [dict(a) for a in actions], events, "1.0")
            assert trimmed.step("i", NOW, [dict(a) for a in actions], events, "1.0") == want
            if older is not None:
                assert older.step("i", NOW, [dict(a) for a in actions], events, "1.0") == want
            trimmed = ActionShim.from_state(json.loads(json.dumps(trimmed.to_state())))
            state, full = trimmed.to_state(), oracle.to_state()
            assert {k: v for k, v in state.items() if k != "nodes"} == {
                k: v for k, v in full.items() if k != "nodes"
            }
            assert state["nodes"] == {
                key: node
                if node.get("retry") or node["kind"] not in ("activity", "sub")
                else {"kind": node["kind"], "parent": node["parent"]}
                for key, node in full["nodes"].items()
            }
