"""The executor's direct action serialiser must give exactly what the SDK's ``to_json`` gives."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from azure.durable_functions.models.actions.Action import Action
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import CallActivityWithRetryAction
from azure.durable_functions.models.actions.CallSubOrchestratorAction import CallSubOrchestratorAction
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.WaitForExternalEventAction import WaitForExternalEventAction
from azure.durable_functions.models.actions.WhenAllAction import WhenAllAction
from azure.durable_functions.models.actions.WhenAnyAction import WhenAnyAction
from azure.durable_functions.models.RetryOptions import RetryOptions
from dateutil.tz import tzutc

from convergio.host._session_json import action_json


def _leaf(rng: random.Random) -> Action:
    name = rng.choice(["run_agent", "record_progress", "x" * rng.randint(1, 9)])
    value: Any = rng.choice([None, 0, "text", {"a": [1, 2.5, None]}, [True, "é"]])
    moment = datetime(rng.choice([1, 999, 1000, 2026, 9998]), 1, 1) + timedelta(
        microseconds=rng.randint(0, 10**13)
    )
    zone = rng.choice([None, UTC, tzutc(), timezone(timedelta(hours=-5))])
    return rng.choice(
        [
            lambda: CallActivityAction(name, value),
            lambda: CreateTimerAction(moment.replace(tzinfo=zone), is_cancelled=rng.random() < 0.5),
            lambda: CreateTimerAction(moment.replace(microsecond=0)),
            lambda: CreateTimerAction(date(moment.year, moment.month, moment.day)),
            lambda: WaitForExternalEventAction(name),
            lambda: CallActivityWithRetryAction(name, RetryOptions(1000, 3), value),
            lambda: CallSubOrchestratorAction(name, value, rng.choice([None, "child-1"])),
        ]
    )()


def _action(rng: random.Random, depth: int = 0) -> Action:
    if depth < 3 and rng.random() < 0.4:
        children = [_action(rng, depth + 1) for _ in range(rng.randint(0, 6))]
        return (WhenAnyAction if rng.random() < 0.5 else WhenAllAction)(children)
    return _leaf(rng)


def _typed(value: Any) -> Any:
    """The value with every container's key order and every scalar's exact type made visible."""
    if isinstance(value, dict):
        return [(key, _typed(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value), value)


def test_direct_serialiser_equals_the_sdks_to_json_on_random_action_trees() -> None:
    rng = random.Random(2212)
    for _ in range(2000):
        action = _action(rng)
        assert _typed(action_json(action)) == _typed(action.to_json())


def test_a_subclass_takes_the_sdks_own_path() -> None:
    class Renamed(CallActivityAction):
        def to_json(self) -> dict[str, Any]:
            return {**super().to_json(), "extra": 1}

    assert action_json(Renamed("f", 1))["extra"] == 1
