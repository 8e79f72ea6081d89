"""What a kept-alive session does per step in O(new work), where the SDK walks everything.

The graph orchestrator waits with ``task_any`` over every open task (up to 64 calls and a
flush timer), so each of its yields hands the SDK a compound task of ~65 children of which one
or two are new. The SDK then walks all of them, method call by method call, to give the new
ones their ids (``_add_to_open_tasks``) and to mark them scheduled (``_mark_as_scheduled``):
about 30 µs of the dispatcher's CPU per node at 500 wide. A session's context and executor
(the host builds both, see ``_executor``) do the same in one flat pass over the leaves shared
by both (about 6 µs), and serialise the new actions without the SDK's ``hasattr``/``getattr``
helpers (``_state_of`` 8.7 → 6.2 µs per node).

Only these exact SDK classes take the short paths, which give the same ids, flags, order and
dicts as the SDK's own code (tests/host/test_action_json.py and test_session_walks.py compare
them on random trees); anything else takes the SDK's path. A full replay (every restart, and
every kept-alive step under ``CONVERGIO_REPLAY_VERIFY=1``) runs the stock SDK, which checks them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.durable_functions.constants import DATETIME_STRING_FORMAT
from azure.durable_functions.models.actions.Action import Action
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.WhenAllAction import WhenAllAction
from azure.durable_functions.models.actions.WhenAnyAction import WhenAnyAction
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.Task import AtomicTask, CompoundTask, TaskBase, TimerTask
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

__all__ = ["SessionContext", "SessionExecutor", "action_json", "unscheduled_leaves"]


def unscheduled_leaves(task: CompoundTask) -> list[AtomicTask] | None:
    """The atomic tasks under ``task`` not yet scheduled, in the SDK's depth-first order (a
    task met twice is listed twice, as the SDK visits it twice); None if the tree holds a task
    that is neither atomic nor compound (the SDK's own walk then decides)."""
    leaves: list[AtomicTask] = []
    return leaves if _collect(task, leaves) else None


# Exact classes whose ``_is_scheduled`` is their flag: read it without the property call.
_PLAIN_ATOMIC = frozenset({AtomicTask, TimerTask})


def _collect(task: CompoundTask, leaves: list[AtomicTask]) -> bool:
    for child in task.children:
        if type(child) in _PLAIN_ATOMIC:
            if not child._is_scheduled_flag:
                leaves.append(child)
        elif isinstance(child, CompoundTask):
            if not _collect(child, leaves):
                return False
        elif not isinstance(child, AtomicTask):
            return False
        elif not child._is_scheduled:
            leaves.append(child)
    return True


class SessionContext(DurableOrchestrationContext):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's context; a compound task's new leaves get their ids in one pass, which the
    executor's ``_mark_as_scheduled`` of the same task, right after, reuses."""

    walked: tuple[CompoundTask, list[AtomicTask]] | None = None

    def _add_to_open_tasks(self, task: TaskBase) -> None:
        self.walked = None
        leaves = unscheduled_leaves(task) if isinstance(task, CompoundTask) else None
        if leaves is None:
            super()._add_to_open_tasks(task)
            return
        for leaf in leaves:  # the SDK visits the scheduled ones too, and returns at once
            super()._add_to_open_tasks(leaf)
        self.walked = (task, leaves)


class SessionExecutor(TaskOrchestrationExecutor):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's executor; a compound task's new leaves are marked scheduled in one pass."""

    def _mark_as_scheduled(self, task: TaskBase) -> None:
        context: Any = getattr(self, "context", None)
        walked = getattr(context, "walked", None)
        if walked is not None:
            context.walked = None  # good for the one call that follows it (resume_user_code's)
        if walked is not None and walked[0] is task:
            # No user code ran since, and flags only ever go from unscheduled to scheduled:
            # the leaves unscheduled now are among those the context just listed.
            leaves: list[AtomicTask] | None = walked[1]
        else:
            leaves = unscheduled_leaves(task) if isinstance(task, CompoundTask) else None
        if leaves is None:
            super()._mark_as_scheduled(task)
            return
        for leaf in leaves:  # the SDK sets the flag again on the scheduled ones: no change
            leaf._set_is_scheduled(True)


def action_json(action: Action) -> dict[str, Any]:
    """``action.to_json()``: the same dict (keys, order, values), built directly for the actions
    a graph yields on every step (calls, the cancelled flush timer, a WhenAny/WhenAll of them).

    The SDK builds each key with ``hasattr``/``getattr`` helpers. Only these exact classes (they
    set every attribute in ``__init__``) take this path; any other action, a subclass included,
    takes the SDK's own.
    """
    kind = type(action)
    if kind is CallActivityAction:
        call: Any = action
        return {
            "actionType": ActionType.CALL_ACTIVITY,
            "functionName": call.function_name,
            "input": call.input_,
        }
    if kind is CreateTimerAction:
        timer: Any = action
        return {
            "actionType": ActionType.CREATE_TIMER,
            "fireAt": _fire_at(timer.fire_at),
            "isCanceled": timer.is_cancelled,
        }
    if kind is WhenAnyAction or kind is WhenAllAction:
        compound: Any = action
        return {
            "actionType": ActionType.WHEN_ANY if kind is WhenAnyAction else ActionType.WHEN_ALL,
            "compoundActions": [action_json(child) for child in compound.compound_tasks],
        }
    result: dict[str, Any] = action.to_json()
    return result


def _fire_at(moment: Any) -> str:
    """``moment.strftime(DATETIME_STRING_FORMAT)``, formatted directly for a plain ``datetime``
    of a four-digit year (``strftime`` asks an aware one's zone for its DST first)."""
    if type(moment) is not datetime or moment.year < 1000:
        text: str = moment.strftime(DATETIME_STRING_FORMAT)
        return text
    return (
        f"{moment.year}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )
