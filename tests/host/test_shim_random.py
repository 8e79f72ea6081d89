"""Randomised: the shim's shortcut for a timer cancelled at birth (the graph's flush timer, one
per batch) must leave exactly what the general timer path leaves: commands, ids, snapshot."""

from __future__ import annotations

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
