"""A session's one-pass bookkeeping of a yielded compound task must leave exactly what the
SDK's own recursive walks leave: every task's id and scheduled flag, the open tasks, the next id."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.RetryOptions import RetryOptions
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from convergio.host._events import EventType, new_event
from convergio.host._executor import Instance, _context
from convergio.host._session import SessionContext, SessionExecutor

NOW = "2026-01-01T00:00:00.000000Z"


def _fresh(context_type: type) -> Any:
    history = [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.EXECUTION_STARTED, NOW, Name="o", Version="", Input=None),
    ]
    return context_type(**_context(Instance("i", "o", "e", None), history, replaying=False, direct=True))


def _play(seed: int, context: Any, executor: Any) -> list[Any]:
    """Yield-like rounds: new calls and timers, then a compound over old and new tasks (some
    twice, some nested), registered and marked as ``resume_user_code`` does. Returns every
    task's (id, scheduled) after each round, and the context's counters."""
    rng = random.Random(seed)
    executor.context = context  # as ``execute`` sets it
    tasks: list[Any] = []
    seen: list[Any] = []
    at = datetime(2026, 1, 1)
    for _ in range(rng.randint(1, 8)):
        for _ in range(rng.randint(0, 4)):
            roll = rng.random()
            if roll < 0.5:
                tasks.append(context.call_activity(rng.choice("fg"), rng.randint(0, 9)))
            elif roll < 0.8:
                tasks.append(context.create_timer(at + timedelta(seconds=rng.randint(0, 99))))
            else:
                tasks.append(context.call_activity_with_retry("r", RetryOptions(1000, 2), 1))
        tree = _compound(rng, context, tasks, depth=0)
        if rng.random() < 0.2:  # a mark with no registration of the same task just before it
            executor._mark_as_scheduled(_compound(rng, context, tasks, depth=0))
        if not tree._is_scheduled:
            context._add_to_open_tasks(tree)
            executor._mark_as_scheduled(tree)
        seen.append(
            (
                [(task.id, task._is_scheduled) for task in tasks],
                context._sequence_number,
                sorted(context.open_tasks),
            )
        )
    return seen


def _compound(rng: random.Random, context: Any, tasks: list[Any], depth: int) -> Any:
    children = rng.choices(tasks, k=rng.randint(0, min(len(tasks) + 1, 70))) if tasks else []
    if depth < 2 and rng.random() < 0.3:
        children.append(_compound(rng, context, tasks, depth + 1))
    return context.task_any(children) if rng.random() < 0.6 else context.task_all(children)


def test_one_pass_bookkeeping_equals_the_sdks_walks_on_random_yields() -> None:
    for seed in range(400):
        stock = _play(seed, _fresh(DurableOrchestrationContext), TaskOrchestrationExecutor())
        session = _play(seed, _fresh(SessionContext), SessionExecutor())
        assert session == stock
