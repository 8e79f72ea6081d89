"""The one orchestrator that runs any graph of agents.

A thin loop around ``convergio.graph.GraphRun``: start the durable tasks the run
asks for, wait for the first to finish, feed it back, repeat. The run decides
everything else (ready-set scheduling, retries, timeouts, budgets).

One protocol detail shapes the loop. On Azure the extension replays the actions
of each ``task_any`` in order and starts the next batch only once an earlier
``WhenAny`` is done; a batch made only of new tasks would hold back every later
batch until one of *its* tasks finished, which would turn ready-set scheduling
back into waves. Adding a timer that is cancelled at once makes each new batch
complete immediately on the extension's side, so new work always starts now.
The embedded host reproduces the same replay rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState, TimerTask

from .webhooks import WaitIndex, announce_end, announce_waits

if TYPE_CHECKING:
    from convergio.graph import Command

Steps = Generator[TaskBase, Any, dict[str, Any]]


class RunFailed(Exception):
    """The graph run failed; the message says which agent ended how."""


def agent_graph(context: df.DurableOrchestrationContext) -> Steps:
    """Run the graph in the input; returns the run's output document."""
    # Imported at the first run, not when the worker loads the app: the graph package pulls
    # pydantic models, Jinja and jsonschema (issue 22: cold start).
    from convergio.graph import RECORD_PROGRESS, RECORD_RUN, RECORD_TASK, GraphRun

    request = context.get_input()
    run = GraphRun(request, context.current_utc_datetime)
    tasks: dict[str, TaskBase] = {}
    tokens: dict[TaskBase, str] = {}
    waits = WaitIndex.of(context, request)  # None: an instance of an older release (ADR 0020)
    while True:
        for token in run.take_dropped():
            task = tasks.pop(token, None)
            tokens.pop(task, None)  # type: ignore[arg-type]
            if isinstance(task, TimerTask) and not task.is_completed:
                task.cancel()
        commands = run.take_commands()
        fresh = {c.token: _start(context, c) for c in commands}
        fresh.update(announce_waits(context, request, run, commands))
        fresh.update(waits.announce(context, run, commands) if waits else {})
        context.set_custom_status(run.custom_status())
        fresh.update({token: context.call_activity(RECORD_PROGRESS, r) for token, r in run.take_records()})
        tokens.update({task: token for token, task in fresh.items()})
        waiting = [*tasks.values(), *fresh.values()]
        if run.finished:
            # A failed run's view folds these records: they must reach the history before the end.
            records = [t for token, t in tasks.items() if token.startswith(RECORD_TASK)]
            records += [t for token, t in fresh.items() if token.startswith(RECORD_TASK)]
            if records:
                with contextlib.suppress(Exception):  # a failed echo loses display, never the run
                    yield context.task_all(records)
            break
        if fresh and tasks:
            waiting.append(_flush(context))
        tasks.update(fresh)
        winner = yield context.task_any(waiting)
        token = tokens.pop(winner, None)
        if token is None:
            continue  # the flush timer
        del tasks[token]
        if waits:
            waits.completed(token)
        failed = winner.state is TaskState.FAILED
        value = str(winner.result) if failed else winner.result
        run.complete(token, ok=not failed, value=value, now=context.current_utc_datetime)
    result = run.result()
    if not request.get("as_child"):
        yield context.call_activity(RECORD_RUN, run.summary(context.current_utc_datetime))
        yield from announce_end(context, request, run, result)
        if result["status"] == "failed":
            raise RunFailed(result["error"])
    return result


def _start(context: df.DurableOrchestrationContext, command: Command) -> TaskBase:
    if command.kind == "activity":
        return context.call_activity(command.name, command.input)
    if command.kind == "subgraph":
        return context.call_sub_orchestrator(command.name, command.input)
    if command.kind == "event":
        return context.wait_for_external_event(command.name)
    assert command.fire_at is not None
    return context.create_timer(command.fire_at)


def _flush(context: df.DurableOrchestrationContext) -> TaskBase:
    """A timer cancelled at birth: completes the extension's WhenAny at once (see module doc)."""
    timer = context.create_timer(context.current_utc_datetime + timedelta(days=1))
    timer.cancel()
    return timer
