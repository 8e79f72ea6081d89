"""What a kept-alive session does per step in O(new work), where the SDK walks everything.

The graph orchestrator waits with ``task_any`` over every open task (up to 64 calls and a
flush timer), so each of its yields hands the SDK a compound task of ~65 children of which one
or two are new. The SDK then walks all of them, method call by method call, to give the new
ones their ids (``_add_to_open_tasks``) and to mark them scheduled (``_mark_as_scheduled``):
about 30 µs of the dispatcher's CPU per node at 500 wide. A session's context and executor
(the host builds both, see ``_executor``) do the same in one flat pass over the leaves shared
by both (about 6 µs); a wait built from the last one reads only its new children (ADR 0047);
and the new actions are serialised without the SDK's ``hasattr``/``getattr`` helpers
(``_state_of`` 8.7 → 6.2 µs per node). A call's input and its result go through the SDK's
JSON codec without its custom-object hooks where those provably do nothing (ADR 0041):
``df_dumps`` builds an encoder per call and ``df_loads`` calls a hook per object.

Only these exact SDK classes take the short paths, which give the same ids, flags, order,
dicts and values as the SDK's own code (tests/host/test_action_json.py, test_session_walks.py,
test_session_any.py, test_session_results.py and test_session_input.py compare them); anything
else takes the SDK's path. A full replay (every restart, and every kept-alive step under
``CONVERGIO_REPLAY_VERIFY=1``) runs the stock SDK, which checks them.
"""

from __future__ import annotations

from typing import Any

from azure.durable_functions.models.actions.Action import Action
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.WhenAnyAction import WhenAnyAction
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType
from azure.durable_functions.models.ReplaySchema import ReplaySchema
from azure.durable_functions.models.Task import (
    AtomicTask,
    CompoundTask,
    TaskBase,
    TaskState,
    TimerTask,
    WhenAnyTask,
)
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from ._session_json import NOT_PLAIN, plain_dumps, plain_result

__all__ = [
    "SessionContext",
    "SessionExecutor",
    "SessionWhenAny",
    "unscheduled_leaves",
]


def unscheduled_leaves(task: CompoundTask) -> list[AtomicTask] | None:
    """The atomic tasks under ``task`` not yet scheduled, in the SDK's depth-first order (a
    task met twice is listed twice, as the SDK visits it twice); None if the tree holds a task
    that is neither atomic nor compound (the SDK's own walk then decides)."""
    leaves: list[AtomicTask] = []
    return leaves if _collect(task, leaves) else None


_KEPT_ENDED = 256
"""How many more tasks than it kept last time a session holds before it forgets its ended ones."""
_BACK_LINKS = ("context", "_orchestration_context")
"""A task's attributes that point back at its context (``RetryAbleTask``, the SDK's long timers)."""

# Exact classes whose ``_is_scheduled`` is their flag: read it without the property call.
_PLAIN_ATOMIC = frozenset({AtomicTask, TimerTask})


def _collect(task: CompoundTask, leaves: list[AtomicTask]) -> bool:
    fresh = task.fresh if type(task) is SessionWhenAny else None
    if fresh is not None:  # its other children were scheduled when it was built
        leaves.extend([child for child in fresh if not child._is_scheduled_flag])
        return True
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
    last_any: SessionWhenAny | None = None  # the newest task_any of exact atomic tasks

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.made: list[TaskBase] = []  # the session's tasks that ``release`` must reach
        self._live = 0  # how many ``made`` kept when it last forgot its ended tasks

    def _generate_task(self, *args: Any, **kwargs: Any) -> TaskBase:
        task: TaskBase = super()._generate_task(*args, **kwargs)
        self._keep(task)
        return task

    def task_all(self, activities: list[TaskBase]) -> TaskBase:
        task: TaskBase = super().task_all(activities)
        self._keep(task)
        return task

    def _keep(self, task: TaskBase) -> None:
        """Keep ``task`` for ``release``; forget the ended ones once they outnumber the others.

        A session lives as long as its run (hours, waiting for a human), and each wait of the
        graph's loop holds its children and their set (about 4 KB a completion), so ``made``
        keeps only what ``release`` must reach: the open tasks and waits and the newest wait.
        An ended task (or a cancelled timer) it forgets lets go of the ended wait it belonged to
        (its ``parent``: it reports nothing again), which held it among its children or as its
        ``result``: the two are then freed at once instead of left to the collector (ADR 0067).
        """
        self.made.append(task)
        if len(self.made) <= _KEPT_ENDED + 2 * self._live:
            return
        last, kept = self.last_any, []
        for made in self.made:
            parent = made.parent
            unheld = parent is None or parent.state is not TaskState.RUNNING  # no open wait holds it
            if made is last or (made.state is TaskState.RUNNING and not (unheld and _cancelled(made))):
                kept.append(made)
            elif parent is not None and unheld:
                made.parent = None
        self.made, self._live = kept, len(kept)

    def release(self) -> None:
        """Break the session's reference cycles: it is dropped (its run ended, or it was evicted).

        A task and the compound task waiting on it point at each other, and a retried call or a
        long timer at this context, so a finished run's tasks (about 8,000 objects at 500 wide)
        were garbage only the cycle collector could free; its full collections walked them, 16
        ms each, about once per such run (ADR 0067). With the links cut, dropping the session
        frees them at once. The session is never stepped again (a later step replays).
        """
        for task in self.made:
            task.parent = None
            for child in getattr(task, "children", ()):  # a retried call's own (it is not made here)
                child.parent = None
            for name in _BACK_LINKS:
                if name in vars(task):
                    setattr(task, name, None)
        self.made = []
        self.open_tasks.clear()
        self.last_any = self.walked = None

    def call_activity(self, name: Any, input_: Any = None, expected_type: type | None = None) -> TaskBase:
        """The SDK's ``call_activity`` for a call by name whose input ``plain_dumps`` encodes (a
        third of the SDK's ``df_dumps`` time on a graph's agent call); anything else, the SDK's."""
        text = plain_dumps(input_) if type(name) is str and name and expected_type is None else NOT_PLAIN
        if text is NOT_PLAIN:
            return super().call_activity(name, input_, expected_type)
        action = CallActivityAction.__new__(CallActivityAction)  # its __init__ only encodes the input
        action.function_name, action.input_ = name, text
        task: TaskBase = self._generate_task(action)
        task._expected_output_type = None  # the SDK's ``activity_output_type`` of a name
        return task

    def get_input(self, expected_type: type | None = None) -> Any:
        """The SDK's ``get_input``; an input with no expected type that ``plain_result`` decodes
        skips the hook ``df_loads`` calls per object (the graph's input: 500 agents' dicts)."""
        if expected_type is None and getattr(self, "_input_expected_type", None) is None:
            value = plain_result(self._input)
            if value is not NOT_PLAIN:
                return value
        return super().get_input(expected_type)

    def task_any(self, activities: list[TaskBase]) -> TaskBase:
        task = SessionWhenAny(activities, self._replay_schema, self.last_any)
        self.last_any = task if task.fresh is not None else None
        self._keep(task)
        return task

    def _add_to_open_tasks(self, task: TaskBase) -> None:
        self.walked = None
        leaves = unscheduled_leaves(task) if isinstance(task, CompoundTask) else None
        if leaves is None:
            super()._add_to_open_tasks(task)
            return
        for leaf in leaves:  # the SDK visits the scheduled ones too, and returns at once
            super()._add_to_open_tasks(leaf)
        self.walked = (task, leaves)


class SessionWhenAny(WhenAnyTask):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's ``WhenAnyTask`` (the graph waits on one over every open task after each
    completion), built in one pass over the children it has not met before: the same fields,
    the same answers (tests/host/test_session_walks.py and test_session_any.py compare them
    with the SDK's).

    The graph's next ``task_any`` holds the open tasks of the last one, minus those that ended,
    plus the new ones at the end. Those it shares with ``last`` (the context's previous one)
    are its leading children that ``last`` still has pending and that still have ``last`` as
    their parent; ``last`` was built of exact atomic tasks with one action each and all of them
    are scheduled now. Such a child cannot have ended (an end would have reached ``last``, its
    parent all along), is scheduled (flags only go from unscheduled to scheduled) and adds no
    action: it only needs its parent set. Showing that takes a set inclusion and a loop reading
    one attribute per child (about 2 µs at 65 open tasks) instead of a pass reading five (about
    17 µs, on every completion). Anything else takes the full pass.
    """

    fresh: list[TaskBase] | None = None
    """The children not scheduled when it was built, if all are exact atomic tasks with one
    action each (None otherwise): the only ones ``_is_scheduled`` and the leaves need to read."""

    def __init__(
        self, tasks: list[TaskBase], replay_schema: ReplaySchema, last: SessionWhenAny | None = None
    ) -> None:
        if replay_schema.value < ReplaySchema.V2.value:  # lists of actions: the SDK's own
            super().__init__(tasks, replay_schema)
            return
        TaskBase.__init__(self, -1, [])  # as CompoundTask.__init__ starts
        known = _known_prefix(tasks, last) if type(tasks) is list else 0
        rest = tasks[known:] if known else tasks
        for task in tasks[:known]:
            task.parent = self
        actions: list[Action] = []
        fresh: list[TaskBase] | None = []
        for task in rest:
            task.parent = self
            action = task.action_repr
            plain = type(task) in _PLAIN_ATOMIC
            if isinstance(action, list):
                actions.extend(action)
                fresh = None
            elif not (task._is_scheduled_flag if plain else task._is_scheduled):
                actions.append(action)
                if fresh is not None and plain:
                    fresh.append(task)
                else:
                    fresh = None
            elif not plain:
                fresh = None
        self.action_repr = WhenAnyAction(actions)
        self._first_error = None
        self.pending_tasks = set(tasks)
        self.completed_tasks: list[TaskBase] = []
        self.children = tasks
        self.fresh = fresh
        if not tasks:
            self.state = TaskState.SUCCEEDED
        for child in rest:  # children done already complete it now, as the SDK's does
            if child.state is not TaskState.RUNNING:
                self.handle_completion(child)

    @property
    def _is_scheduled(self) -> bool:
        """All children scheduled? The graph's newest children come last: asked first."""
        if self.fresh is not None:
            return all(child._is_scheduled_flag for child in self.fresh)
        return all(
            child._is_scheduled_flag if type(child) in _PLAIN_ATOMIC else child._is_scheduled
            for child in reversed(self.children)
        )


def _cancelled(task: TaskBase) -> bool:
    """A cancelled timer (the graph's flush timer is cancelled at birth): it never ends, and the
    SDK keeps it among the open tasks for the session's life."""
    return type(task) is TimerTask and bool(task.is_cancelled)


def _known_prefix(tasks: list[TaskBase], last: SessionWhenAny | None) -> int:
    """How many leading ``tasks`` are children ``last`` still waits for (see SessionWhenAny);
    0 when that does not hold for all of them."""
    if last is None or last.fresh is None or not all(t._is_scheduled_flag for t in last.fresh):
        return 0
    pending = last.pending_tasks
    end = len(tasks)
    while end and tasks[end - 1] not in pending:  # the new ones, at the end
        end -= 1
    shared = tasks[:end]
    if not pending.issuperset(shared):
        return 0
    for task in shared:  # a plain loop: cheaper than map/attrgetter on 3.11's specialised reads
        if task.parent is not last:
            return 0
    return end


class SessionExecutor(TaskOrchestrationExecutor):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's executor; a compound task's new leaves are marked scheduled in one pass, and a
    completed call's result is decoded without the SDK's per-dict hook where it does nothing."""

    def set_task_value(self, event: HistoryEvent, is_success: bool, id_key: str) -> None:
        """The SDK's ``set_task_value`` for a completed activity or sub-orchestration whose result
        ``plain_result`` decodes (a third of the SDK's ``df_loads`` time); anything else, the SDK's."""
        key = getattr(event, id_key, None)
        task: Any = self.context.open_tasks.get(key) if is_success and event.event_type in _RESULTS else None
        value = NOT_PLAIN
        if (
            isinstance(task, TaskBase)  # not a list of tasks sharing an id, nor missing
            and task._api_name != "CallEntityAction"
            and getattr(task, "_expected_output_type", None) is None
        ):
            value = plain_result(getattr(event, "Result", None))
        if value is NOT_PLAIN:
            super().set_task_value(event, is_success, id_key)
            return
        del self.context.open_tasks[key]
        task.set_is_played(event._is_played or not self._is_processing_new_events)
        task.set_value(is_error=False, value=value)

    def get_orchestrator_state_str(self) -> str:
        """Nothing: a session's state is read from the executor and its context, the new
        actions only (``_executor._state_of``, which also makes the SDK's check that the output
        serialises). The SDK's version, run once at the end of ``execute``, encoded every
        action of the first step again (a sixth of a 50-agent run's first step) and raised
        what it had recorded, for the caller to read back from ``exception`` (ADR 0064)."""
        return ""

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


_RESULTS = frozenset({HistoryEventType.TASK_COMPLETED, HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED})
