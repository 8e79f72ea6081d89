"""A session's one-pass bookkeeping of a yielded compound task must leave exactly what the
SDK's own recursive walks leave: every task's id and scheduled flag, the open tasks, the next id."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.RetryOptions import RetryOptions
from azure.durable_functions.models.Task import TaskBase, TaskState
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


def _any_state(task: Any, index: dict[int, int]) -> Any:
    """A compound's fields, with tasks named by their place in the world (``index``)."""
    name = lambda t: index.get(id(t), -1)  # noqa: E731

    def shown(value: Any) -> Any:
        if isinstance(value, TaskBase):
            return ("task", name(value))
        if isinstance(value, list):
            return [shown(v) for v in value]
        return repr(value)

    return (
        task.id,
        task.state,
        task._api_name,
        task._is_scheduled,
        task.is_played,
        [name(t) for t in task.children],
        sorted(name(t) for t in task.pending_tasks),
        [name(t) for t in task.completed_tasks],
        shown(task.result),
        task.action_repr.to_json(),
    )


def _any_world(seed: int, context: Any) -> list[Any]:
    """Random calls and timers, some done (ok or failed) or scheduled, then ``task_any`` over
    random picks (repeats, nested compounds); then more children complete. Every compound's
    state and every task's parent, after building and after each completion."""
    rng = random.Random(seed)
    tasks: list[Any] = []
    for n in range(rng.randint(0, 12)):
        task = (
            context.call_activity("f", n)
            if rng.random() < 0.6
            else context.create_timer(datetime(2026, 1, 1))
        )
        if rng.random() < 0.3:
            task._set_is_scheduled(True)
        tasks.append(task)
    for task in rng.sample(tasks, k=len(tasks) // 4):
        failed = rng.random() < 0.3
        task.set_value(is_error=failed, value=Exception("x") if failed else 1)
    compounds: list[Any] = []
    refused: list[str] = []
    for _ in range(rng.randint(1, 4)):
        children = rng.choices(tasks + compounds, k=rng.randint(0, 10)) if tasks else []
        try:  # a done child listed twice: the SDK refuses it (it completes twice)
            compounds.append(context.task_any(children) if rng.random() < 0.8 else context.task_all(children))
        except Exception as exc:
            refused.append(repr(exc))
    index = {id(t): n for n, t in enumerate(tasks + compounds)}
    parents = lambda: [index.get(id(t.parent), -1) for t in tasks + compounds]  # noqa: E731
    seen = [[_any_state(c, index) for c in compounds], parents(), refused]
    for task in tasks:
        if task.state is TaskState.RUNNING and rng.random() < 0.5:
            try:
                task.set_value(is_error=False, value=2)
            except Exception as exc:
                seen.append(repr(exc))
            seen.append([_any_state(c, index) for c in compounds])
    return seen


def test_a_sessions_task_any_is_the_sdks_on_random_children() -> None:
    for seed in range(400):
        stock = _any_world(seed, _fresh(DurableOrchestrationContext))
        session = _any_world(seed, _fresh(SessionContext))
        assert session == stock
