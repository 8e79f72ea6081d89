"""A session's ``task_any`` built from the previous one (the graph's loop: the open tasks of the
last wait, minus those that ended, plus new ones) must leave exactly what the SDK's leaves:
each compound's fields and answers, every task's parent, id and flag, the open tasks, and the
actions, after building, after the yield's bookkeeping and after each completion."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.RetryOptions import RetryOptions
from azure.durable_functions.models.Task import TaskState
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from convergio.host._session import SessionContext, SessionExecutor, _known_prefix

from .test_session_walks import _any_state, _fresh

AT = datetime(2026, 1, 2)


def _new(rng: random.Random, context: Any, n: int) -> Any:
    roll = rng.random()
    if roll < 0.75:
        return context.call_activity("f", n)
    if roll < 0.93:
        timer = context.create_timer(AT + timedelta(seconds=n))
        if rng.random() < 0.5:
            timer.cancel()  # the graph's flush timer
        return timer
    return context.call_activity_with_retry("r", RetryOptions(1000, 2), n)


def _world(seed: int, context: Any, executor: Any) -> tuple[list[Any], int]:
    """Rounds of the graph's loop with random departures from it (reordered, repeated, ended or
    foreign children; a wait built and dropped; a ``task_all`` over open tasks; tasks ended
    before their wait). Returns what was seen, and how many waits the session built from the
    last one."""
    rng = random.Random(seed)
    executor.context = context
    every: list[Any] = []  # every task and compound, for naming
    open_: list[Any] = []
    seen: list[Any] = []
    reused = 0

    def look(wait: Any) -> list[Any]:
        index = {id(t): n for n, t in enumerate(every)}
        return [
            _any_state(wait, index),
            [(index.get(id(t.parent), -1), t.id, t._is_scheduled, t.state) for t in every],
            sorted(map(str, context.open_tasks)),
            len(context._action_payload_v2),
        ]

    for n in range(rng.randint(1, 40)):
        fresh = [_new(rng, context, n * 10 + k) for k in range(rng.choice([0, 1, 1, 1, 2, 3, 8]))]
        every += fresh
        if fresh and rng.random() < 0.05:
            fresh[0].set_value(is_error=False, value="early")
        waiting = [*open_, *fresh]
        roll = rng.random()
        if roll < 0.05 and len(waiting) > 1:
            rng.shuffle(waiting)
        elif roll < 0.1 and open_:
            waiting.insert(rng.randrange(len(waiting)), rng.choice(open_))  # a child twice
        elif roll < 0.15 and every:
            waiting.insert(rng.randrange(len(waiting) + 1), rng.choice(every))  # any task, maybe ended
        elif roll < 0.2 and open_:
            every.append(context.task_all(rng.sample(open_, k=rng.randint(1, len(open_)))))
        if rng.random() < 0.1:  # a wait built and never yielded
            try:
                every.append(context.task_any(list(waiting)))
            except Exception as exc:
                seen.append(repr(exc))
        if type(context) is SessionContext:
            reused += _known_prefix(waiting, context.last_any) > 0
        try:
            wait = context.task_any(waiting)
        except Exception as exc:  # a child that ended, listed twice: the SDK refuses it
            seen.append(repr(exc))
            continue
        every.append(wait)
        seen.append(look(wait))
        if not wait._is_scheduled:  # as resume_user_code handles a yielded task
            context._add_to_open_tasks(wait)
            context._add_to_actions(wait.action_repr)
            executor._mark_as_scheduled(wait)
        seen.append(look(wait))
        open_ += fresh
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            running = [t for t in open_ if t.state is TaskState.RUNNING]
            if not running:
                break
            task = rng.choice(running)
            failed = rng.random() < 0.2
            try:
                task.set_value(is_error=failed, value=Exception("x") if failed else n)
            except Exception as exc:
                seen.append(repr(exc))
            seen.append(look(wait))
        kept: list[Any] = []
        running = [t for t in open_ if t.state is TaskState.RUNNING]
        if running and rng.random() < 0.15:  # open tasks claimed by a task_all, one ends there
            claimed = rng.sample(running, k=rng.randint(1, len(running)))
            every.append(context.task_all(claimed))
            kept.append(rng.choice(claimed))
            kept[0].set_value(is_error=False, value="elsewhere")
            seen.append(look(wait))
        open_ = [t for t in open_ if t.state is TaskState.RUNNING or t in kept or rng.random() < 0.05]
    return seen, reused


def test_a_wait_built_from_the_last_is_the_sdks() -> None:
    reused = 0
    for seed in range(300):
        stock, _ = _world(seed, _fresh(DurableOrchestrationContext), TaskOrchestrationExecutor())
        session, hits = _world(seed, _fresh(SessionContext), SessionExecutor())
        assert session == stock, seed
        reused += hits
    assert reused > 1000  # the short path ran (not only the full pass)
