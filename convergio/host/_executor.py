"""The pure orchestrator executor: ``execute(instance, old_events, new_events) -> StepResult``.

Two ways to run a step, with the same result:

* **full replay** calls the function the app registered, exactly as the Durable
  extension does on Azure: the whole history goes in as the context JSON and the
  SDK's orchestrator state JSON comes back (or an exception carrying it after
  ``$OutOfProcData$:``). Cost grows with the history, so a long orchestration
  costs O(n^2) in total.
* **kept-alive** keeps the SDK's executor and the suspended generator of each
  running instance in memory between steps (what Durable calls "extended
  sessions") and feeds them only the new events: O(new events) per step.

A cache miss (first step, restart, eviction) falls back to full replay. With
``verify`` on, every kept-alive step is checked against a full replay and any
difference fails the instance. Whenever a full replay runs on an existing
history, the actions it yields are checked against what the history recorded:
a different call at the same position is non-determinism.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from convergio._history_times import parse_history_time

from ._events import Event, EventType
from ._json_text import json_text
from ._payloads import context_input
from ._session import SessionContext, SessionExecutor
from ._session_json import action_json

__all__ = ["Instance", "Orchestrator", "OrchestrationExecutor", "StepResult", "NonDeterminismError"]

_OUT_OF_PROC_MARKER = "$OutOfProcData$:"
# Replay schema V3: flat action list with WhenAll/WhenAny compounds. No timer
# duration limits are sent, so long timers stay single timers (as on DTS/MSSQL).
_UPPER_SCHEMA_VERSION = 2


class NonDeterminismError(Exception):
    """The orchestrator's code no longer matches its recorded history."""


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    name: str
    execution_id: str
    input: str | None
    parent_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class Orchestrator:
    """A registered orchestrator: the app's handle, and its generator when visible."""

    handle: Callable[[Any], str]
    generator: Callable[..., Any] | None
    input_type: type | None = None


@dataclass(slots=True)
class StepResult:
    actions: list[dict[str, Any]]
    done: bool
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    output_json: str | None = None  # ``json.dumps(output)`` when the step already made it

    def same_as(self, other: StepResult) -> bool:
        return _canonical(self) == _canonical(other)


def _canonical(result: StepResult) -> str:
    return json.dumps(
        [result.actions, result.done, result.output, result.error, result.custom_status],
        sort_keys=True,
        default=str,
    )


@dataclass(slots=True)
class _Session:
    execution_id: str
    history_len: int
    executor: TaskOrchestrationExecutor
    context: DurableOrchestrationContext


class OrchestrationExecutor:
    """Runs orchestrator steps; owns the kept-alive sessions (LRU-bounded)."""

    def __init__(
        self,
        lookup: Callable[[str], Orchestrator],
        *,
        keep_alive: int = 1000,
        verify: bool = False,
    ) -> None:
        if keep_alive < 0:
            raise ValueError("keep_alive must be >= 0")
        self._lookup = lookup
        self._capacity = keep_alive
        self._verify = verify
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self.full_replays = 0

    def evict(self, instance_id: str) -> None:
        _release(self._sessions.pop(instance_id, None))

    def has_session(self, instance_id: str, execution_id: str, history_len: int) -> bool:
        """Would a step of this instance resume a kept-alive session (no replay, no input)?"""
        session = self._sessions.get(instance_id)
        return session is not None and (session.execution_id, session.history_len) == (
            execution_id,
            history_len,
        )

    def confirm(self, instance_id: str, history_len: int) -> None:
        """The step's history is committed: its session may serve the next step."""
        session = self._sessions.get(instance_id)
        if session is not None:
            session.history_len = history_len

    def execute(
        self, instance: Instance, old_events: Sequence[Event], new_events: list[Event], seen: int
    ) -> StepResult:
        """Run one step. ``seen`` is how many actions earlier steps already returned."""
        orchestrator = self._lookup(instance.name)
        usable = self.has_session(instance.instance_id, instance.execution_id, len(old_events))
        session = self._sessions.pop(instance.instance_id, None)
        if session is not None and not usable:  # stale: this step replays into a new one
            _release(session)
            session = None
        replayed: list[dict[str, Any]] | None = None
        if session is not None:
            result = self._resume(session, new_events, seen)
            if self._verify:
                replayed, check = self._full_replay(orchestrator, instance, old_events, new_events, seen)
                if not check.same_as(result):
                    raise NonDeterminismError(
                        f"Replay verification failed for orchestrator '{instance.name}': the "
                        "kept-alive step and a full replay of the same history disagree "
                        f"(kept-alive {_canonical(result)[:300]}, replay {_canonical(check)[:300]})."
                    )
        elif orchestrator.generator is not None and self._capacity:
            session, replayed, result = self._start_session(
                orchestrator, instance, old_events, new_events, seen
            )
        else:
            session = None
            replayed, result = self._full_replay(orchestrator, instance, old_events, new_events, seen)
        if old_events and replayed is not None and (replayed or result.error is None):
            _check_determinism(instance.name, old_events, replayed)
        if session is not None and not result.done and result.error is None:
            session.history_len = -1  # usable again once the engine confirms the commit
            self._sessions[instance.instance_id] = session
            while len(self._sessions) > self._capacity:
                _release(self._sessions.popitem(last=False)[1])
        else:
            _release(session)
        return result

    # -- full replay through the registered function -------------------------------------
    def _full_replay(
        self,
        orchestrator: Orchestrator,
        instance: Instance,
        old_events: Sequence[Event],
        new_events: list[Event],
        seen: int,
    ) -> tuple[list[dict[str, Any]], StepResult]:
        self.full_replays += 1
        context = func.OrchestrationContext(_context_json(instance, old_events, new_events))
        try:
            raw = orchestrator.handle(context)
        except Exception as exc:  # the SDK reports orchestrator failures this way
            message = str(exc)
            if _OUT_OF_PROC_MARKER not in message:
                return [], StepResult(actions=[], done=False, error=message or type(exc).__name__)
            raw = message.split(_OUT_OF_PROC_MARKER, 1)[1]
        state = json.loads(raw)
        actions = _flat_actions(state)
        return actions, StepResult(
            actions=actions[seen:],
            done=bool(state.get("isDone")),
            output=state.get("output"),
            error=state.get("error"),
            custom_status=state.get("customStatus"),
        )

    # -- kept-alive sessions -----------------------------------------------------------
    def _start_session(
        self,
        orchestrator: Orchestrator,
        instance: Instance,
        old_events: Sequence[Event],
        new_events: list[Event],
        seen: int,
    ) -> tuple[_Session, list[dict[str, Any]], StepResult]:
        if old_events:
            self.full_replays += 1
        history = [{k: _copied(v) for k, v in event.items()} for event in (*old_events, *new_events)]
        fields = _context(instance, history, replaying=bool(old_events), direct=True)
        context = SessionContext(**fields)
        context._input_expected_type = orchestrator.input_type  # as the SDK's handle does
        executor = SessionExecutor()
        # On an orchestrator error the SDK records it (``SessionExecutor`` skips the state text
        # whose making raised it); _state_of reads it back. A plain (non-generator) function
        # raises before the SDK sees it: record it the same way, as the extension fails an
        # orchestrator whose invocation throws.
        try:
            executor.execute(context, context.histories, orchestrator.generator)
        except Exception as exc:
            if executor.exception is None:
                executor.exception = exc
        session = _Session(instance.execution_id, 0, executor, context)
        replayed = [action_json(action) for action in _actions_of(context)] if old_events else []
        return session, replayed, _state_of(session, seen)

    @staticmethod
    def _resume(session: _Session, new_events: list[Event], seen: int) -> StepResult:
        executor = session.executor
        executor._is_processing_new_events = True
        for raw in new_events:
            executor.process_event(_history_event(raw))
            if executor.has_execution_completed:
                break
        return _state_of(session, seen)


def _release(session: _Session | None) -> None:
    """A dropped session's objects freed now, not by the cycle collector (``SessionContext.release``)."""
    if session is not None and isinstance(session.context, SessionContext):
        session.context.release()


_HEADER = frozenset({"EventType", "EventId", "IsPlayed", "Timestamp"})


def _history_event(raw: Event) -> HistoryEvent:
    """``HistoryEvent(**raw)``, its timestamp read by ``parse_history_time`` whatever parse the
    SDK module has (an app may not install it): the host builds every kept-alive step's events,
    and ``dateutil`` costs about 30 µs a timestamp (ADR 0069). The host writes its timestamps in
    the extension's shape (``_events.format_time``); anything else is ``dateutil``'s, as in the SDK.
    """
    stamp = raw.get("Timestamp")
    if not isinstance(stamp, str):
        return HistoryEvent(**raw)
    moment = parse_history_time(stamp)
    event = HistoryEvent.__new__(HistoryEvent)
    event._event_type, event._event_id = raw["EventType"], raw["EventId"]
    event._is_played, event._timestamp, event._is_processed = raw["IsPlayed"], moment, False
    event.Name = event.InstanceId = event.TaskScheduledId = None
    event.Reason = event.Details = event.Input = None
    for key, value in raw.items():
        if key not in _HEADER:
            setattr(event, key, value)
    return event


def _state_of(session: _Session, seen: int) -> StepResult:
    """The orchestrator state, as ``get_orchestrator_state_str`` would report it.

    Only the actions past ``seen`` are serialised, which keeps a step O(new work).
    """
    executor, context = session.executor, session.context
    output = executor.output
    error: str | None = None
    output_json: str | None = None
    if output is not None:  # the SDK's check that the output serialises; the engine stores this text
        try:
            output_json = json_text(output)
        except (TypeError, ValueError) as exc:
            output, executor.exception = None, exc
    if executor.exception is not None:
        error = str(executor.exception) or str(type(executor.exception))
    return StepResult(
        actions=[action_json(action) for action in _actions_of(context, seen)],
        done=bool(executor.orchestration_invocation_succeeded),
        output=output,
        error=error,
        custom_status=context.custom_status,
        output_json=output_json,
    )


def _actions_of(context: DurableOrchestrationContext, seen: int = 0) -> list[Any]:
    """The context's actions past the first ``seen`` (only those are copied: a step's new ones)."""
    grouped = context._actions
    return list(grouped[0][seen:]) if grouped else []


def _context(
    instance: Instance, history: list[Event], *, replaying: bool, direct: bool = False
) -> dict[str, Any]:
    """The orchestrator context the extension sends, as the SDK's ``from_json`` decodes it.

    A session builds its context from this directly (``direct``): encoding it and decoding it
    again (the graph input twice, in the started event and as ``input``) was a quarter of a
    run's first step. It passes the events ``_copied``, as a decode would give them, so the
    SDK's objects share nothing with the history the host writes.
    """
    return {
        "history": history,
        "instanceId": instance.instance_id,
        "isReplaying": replaying,
        "parentInstanceId": instance.parent_instance_id,
        "input": _direct_input(instance.input) if direct else context_input(instance.input),
        "upperSchemaVersion": _UPPER_SCHEMA_VERSION,
    }


def _direct_input(stored: str | None) -> Any:
    """The ``input`` a session hands the SDK's context: the stored input as a JSON value, as
    Azure sends it, except an object, which goes as its stored text.

    The SDK keeps an object input as JSON text (``json.dumps`` of the decoded object) for
    ``get_input`` to decode: decoding the stored text only for the SDK to encode it again cost
    two passes over the graph input (190 KB at 500 nodes) in every run's first step. The text
    decodes to the same value; a text that is not JSON stays the text, as ``context_input``
    leaves it.
    """
    if stored is not None:
        text = stored.strip()
        if text.startswith("{"):
            return text
    return context_input(stored)


def _copied(value: Any) -> Any:
    """A JSON value as ``json.loads(json.dumps(value))`` gives it: containers new, tuples lists."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copied(v) for v in value]
    return value


def _context_json(instance: Instance, old_events: Sequence[Event], new_events: list[Event]) -> str:
    return json.dumps(_context(instance, [*old_events, *new_events], replaying=bool(old_events)))


def _flat_actions(state: dict[str, Any]) -> list[dict[str, Any]]:
    actions = state.get("actions") or []
    if state.get("schemaVersion", 0) == 0:
        # Legacy schema: one list per yield. The host asks for V3, so only an
        # SDK that ignores upperSchemaVersion would produce it.
        return [action for group in actions for action in group]
    return list(actions[0]) if actions else []


# -- non-determinism ---------------------------------------------------------------------
_SCHEDULING = {
    EventType.TASK_SCHEDULED: "activity",
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "sub-orchestration",
    EventType.TIMER_CREATED: "timer",
}
_ACTION_KINDS = {0: "activity", 1: "activity", 2: "sub-orchestration", 3: "sub-orchestration", 5: "timer"}


def _leaves(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    leaves: list[tuple[str, str]] = []
    for action in actions:
        kind = action.get("actionType")
        if kind in (11, 12):
            leaves.extend(_leaves(action.get("compoundActions") or []))
        elif kind in _ACTION_KINDS:
            leaves.append((_ACTION_KINDS[kind], action.get("functionName") or ""))
    return leaves


def _check_determinism(name: str, history: Sequence[Event], replayed: list[dict[str, Any]]) -> None:
    """The n-th task the history scheduled must be the n-th task the code yields now.

    Retry timers and retry attempts are the host's own bookkeeping (marked
    ``Retry``), not actions of the code, so they are left out.
    """
    recorded = [
        (event["EventId"], _SCHEDULING[event["EventType"]], event.get("Name") or "")
        for event in history
        if event["EventType"] in _SCHEDULING and not event.get("Retry")
    ]
    leaves = _leaves(replayed)
    for index, (task_id, kind, fname) in enumerate(recorded):
        if index >= len(leaves):
            raise NonDeterminismError(
                f"Non-deterministic orchestrator '{name}': history says task {task_id} was "
                f"{kind} '{fname}', but the code no longer schedules it."
            )
        now_kind, now_name = leaves[index]
        if (kind, fname) != (now_kind, now_name):
            raise NonDeterminismError(
                f"Non-deterministic orchestrator '{name}': history says task {task_id} was "
                f"{kind} '{fname}', but the code now schedules {now_kind} '{now_name}'."
            )
