"""Run events for outbound callbacks, and the durable retry loop of one delivery.

The graph orchestrator announces ``run.waiting_for_input`` when an agent starts waiting for
human input and ``run.completed`` / ``run.failed`` when the run ends, by calling the
``emit_run_event`` activity; the activity records one delivery per subscribed callback and
starts a ``deliver_webhooks`` orchestration for each, so a slow receiver never holds the run.
Only runs whose tenant had callbacks when they started announce anything (``callbacks`` in the
run input), so runs without subscribers pay nothing.

The same activity keeps the run index told of the run's waits (``WaitIndex``, for every root
run, callbacks or not), so the runs list can say "Waiting for you". That call is new in
orchestration version 1.1 (host.json ``defaultVersion``, ADR 0020): an instance started before
(no version) replays exactly as before, without it.

Everything here is deterministic: ids from ``new_uuid``, times from the orchestration clock,
back-off on durable timers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

if TYPE_CHECKING:  # types only: the app's import stays light (issue 22)
    from convergio.graph import Command, GraphRun

__all__ = [
    "DELIVER_WEBHOOK",
    "DELIVER_WEBHOOKS",
    "EMIT_RUN_EVENT",
    "INDEX_WAITS",
    "WaitIndex",
    "announce_end",
    "announce_waits",
    "deliver",
]

EMIT_RUN_EVENT = "emit_run_event"
DELIVER_WEBHOOK = "deliver_webhook"
DELIVER_WEBHOOKS = "deliver_webhooks"
INDEX_WAITS = "run.waits"
"""An ``emit_run_event`` input that only updates the run index (no callback can subscribe to it)."""
_MAX_BACKOFF = timedelta(hours=1)


def _event(
    context: df.DurableOrchestrationContext, run: GraphRun, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": str(context.new_uuid()),
        "type": kind,
        "run_id": run.run_id,
        "tenant": run.tenant,
        "graph": run.spec.name,
        "occurred_at": context.current_utc_datetime.isoformat(),
        "data": data,
    }


def _announces(request: Mapping[str, Any]) -> bool:
    return bool(request.get("callbacks")) and not request.get("as_child")


def announce_waits(
    context: df.DurableOrchestrationContext,
    request: Mapping[str, Any],
    run: GraphRun,
    commands: Iterable[Command],
) -> dict[str, TaskBase]:
    """One ``emit_run_event`` task per new wait for human input, keyed by a token of its own."""
    if not _announces(request):
        return {}
    tasks = {}
    for command in commands:
        if command.kind != "event":
            continue
        nodes = [
            a.id
            for a in run.spec.agents
            if a.await_event
            and a.await_event.name == command.name
            and run.nodes[a.id].status == "awaiting_input"
        ]
        data = {"event": command.name, "nodes": nodes}
        tasks[f"announce:{command.token}"] = context.call_activity(
            EMIT_RUN_EVENT, _event(context, run, "run.waiting_for_input", data)
        )
    return tasks


class WaitIndex:
    """Tells the run index how many events the run's waits for human input have needed so far.

    Per event name: the events the run consumed plus its waits still open (``target``). The
    API counts the events it raises; the index compares the two (``convergio.tenants._runs``), so
    an answer racing the next announcement ends right in any order. A call is made only when
    the target changes: a new wait, or one that timed out; an answered wait changes nothing.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._consumed: Counter[str] = Counter()
        self._told: dict[str, int] = {}
        self._seq = 0

    @classmethod
    def of(cls, context: df.DurableOrchestrationContext, request: Mapping[str, Any]) -> WaitIndex | None:
        """One for a root run started with a version (1.1 on); None replays an older instance unchanged."""
        if not context.version or request.get("as_child"):
            return None
        return cls()

    def completed(self, token: str) -> None:
        """A task of the run completed: an event it waited for was consumed."""
        name = self._names.pop(token, None)
        if name is not None:
            self._consumed[name] += 1

    def announce(
        self, context: df.DurableOrchestrationContext, run: GraphRun, commands: Iterable[Command]
    ) -> dict[str, TaskBase]:
        """The ``emit_run_event`` task telling the index the new target, when it changed."""
        self._names.update({c.token: c.name for c in commands if c.kind == "event"})
        target = dict(self._consumed)
        for name in run.waits():  # only the nodes that can wait: none in most graphs
            target[name] = target.get(name, 0) + 1
        if run.finished or target == self._told:
            return {}
        self._told, self._seq = target, self._seq + 1
        event = {"type": INDEX_WAITS, "run_id": run.run_id, "tenant": run.tenant, "seq": self._seq}
        return {
            f"index-waits:{self._seq}": context.call_activity(EMIT_RUN_EVENT, {**event, "target": target})
        }


def announce_end(
    context: df.DurableOrchestrationContext,
    request: Mapping[str, Any],
    run: GraphRun,
    result: Mapping[str, Any],
) -> Generator[TaskBase, Any, None]:
    """Announce how the run ended (nothing for sub-graphs or runs without callbacks)."""
    if not _announces(request):
        return
    kind = "run.failed" if result["status"] == "failed" else "run.completed"
    data = {"status": result["status"], "error": result["error"], "usage": result["usage"]}
    yield context.call_activity(EMIT_RUN_EVENT, _event(context, run, kind, data))


def deliver(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict[str, Any]]:
    """Deliver one recorded event to one callback: attempts with doubling back-off on timers."""
    job = context.get_input()
    attempts, backoff = int(job["attempts"]), timedelta(milliseconds=int(job["backoff_ms"]))
    outcome: dict[str, Any] = {}
    for attempt in range(1, attempts + 1):
        call = {"delivery_id": job["delivery_id"], "attempt": attempt, "last": attempt == attempts}
        outcome = yield context.call_activity(DELIVER_WEBHOOK, call)
        if outcome["done"] or attempt == attempts:
            break
        yield context.create_timer(
            context.current_utc_datetime + min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF)
        )
    return outcome
