"""A run's life outside the orchestration: cancel, runs with no durable state, usage after cancel.

ADR 0017. Three things the orchestration alone cannot answer:

- **Cancel** terminates the instance *and* marks the run cancelled in the run stream
  (``RunStream.cancel``), which every ``run_agent`` activity checks before and during its
  provider call: the extension does not stop running activities, and queued ones still run.
  The terminate goes first, so a call aborted by the mark reports after the terminate and the
  run ends ``Terminated``, not ``Failed``.
- **Runs with no durable state.** A run is recorded in the index before its orchestration
  starts (the claim comes first, so no run ever runs unlisted). A crash between the two leaves
  an indexed run without an instance; within ``START_GRACE_S`` of its creation it is still
  starting (Pending), after that it shows Failed ("never started"), or Terminated once
  cancelled, and DELETE removes it.
- **Usage after cancel.** A terminated run's custom status stops at the terminate, while the
  calls aborted then still bill what they used; the view of a cancelled run takes its usage
  from the ledger, so the run page and the bill agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import azure.durable_functions as df

from convergio.errors import Conflict
from convergio.metering import UsageRecord
from convergio.tenants import RunRecord

from . import _models as m
from ._http import off_loop
from ._service import Service
from ._views import run_view

__all__ = [
    "CANCELLED_BEFORE_START",
    "NEVER_STARTED",
    "START_GRACE_S",
    "age_s",
    "cancel_graph_run",
    "stateless_view",
    "usage_from_ledger",
]

START_GRACE_S = 30.0
"""How long an indexed run without an instance counts as still starting (a start takes ms)."""
NEVER_STARTED = (
    "the run was never started: the service stopped while creating it; delete it "
    "(DELETE /api/v1/runs/{id}) and start it again, with the same Idempotency-Key if you sent one"
)
CANCELLED_BEFORE_START = "cancelled before it started"
_CANCELLED = "cancelled through the API"
_UNITS = {"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens", "tool_calls": "tool_calls"}


def age_s(created_at: str, now: datetime | None = None) -> float:
    """Seconds since ``created_at`` (infinite for a time that does not parse)."""
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return float("inf")
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - created).total_seconds()


def stateless_view(record: RunRecord, *, cancelled: bool, now: datetime | None = None) -> m.RunView:
    """The view of an indexed run that has no orchestration state: starting, cancelled or a ghost."""
    if cancelled:
        status: m.RunStatus = "Terminated"
        error: str | None = CANCELLED_BEFORE_START
    elif age_s(record.created_at, now) < START_GRACE_S:
        status, error = "Pending", None
    else:
        status, error = "Failed", NEVER_STARTED.replace("{id}", record.run_id)
    return m.RunView(
        id=record.run_id, graph=record.graph_name, status=status, created_at=record.created_at, error=error
    )


async def cancel_graph_run(
    svc: Service, client: df.DurableOrchestrationClient, run_id: str, reason: str, *, by: str = ""
) -> m.RunStatus:
    """Cancel a run that is still going (the API and A2A both cancel here); the status it now has.

    The index keeps ``by`` (who) and ``reason`` (caller text, as ``cancel_note`` makes it) for
    the runs list and the run page: "Cancelled by <who>: <reason>".

    Raises:
        Conflict: the run already ended.
    """
    status = await client.get_status(run_id)
    if status.runtime_status is None:  # indexed, never started (or not yet): nothing to terminate
        record = await off_loop(svc.store.run, run_id)
        cancelled = record is not None and await off_loop(svc.streams.cancelled, run_id)
        view = None if record is None else stateless_view(record, cancelled=cancelled)
        if view is not None and view.status == "Terminated":
            raise Conflict("the run is already Terminated")
        await off_loop(svc.streams.cancel, run_id)  # a start still on its way finds it and stops at once
        if (await client.get_status(run_id)).runtime_status is not None:
            # Created since the read above: its start may have looked for the mark before it was
            # made. Terminating here too makes every order of the two end Terminated.
            await client.terminate(run_id, (reason or _CANCELLED)[:500])
        await _mark_cancelled(svc, run_id, by, reason)
        return "Terminated"
    state = run_view(run_id, status).status
    if state not in ("Pending", "Running"):
        raise Conflict(f"the run is already {state}")
    await client.terminate(run_id, (reason or _CANCELLED)[:500])
    # After the terminate: the calls the mark aborts then report to an ended run.
    await off_loop(svc.streams.cancel, run_id)
    await _mark_cancelled(svc, run_id, by, reason)  # the run index lists it so at once
    return "Terminated"


async def _mark_cancelled(svc: Service, run_id: str, by: str, reason: str) -> None:
    await off_loop(svc.store.update_run, run_id, status="Terminated", cancelled_by=by, cancel_reason=reason)


def usage_from_ledger(view: m.RunView, records: Sequence[UsageRecord]) -> m.RunView:
    """A cancelled run's usage, per node and in total, as the ledger billed it."""
    if view.status != "Terminated":
        return view
    per_node: dict[str, dict[str, int]] = {}
    for record in records:
        field = _UNITS.get(record.unit)
        if field is None:
            continue
        counts = per_node.setdefault(record.node_id.split("/", 1)[0], {})
        counts[field] = counts.get(field, 0) + int(record.quantity)
    total: dict[str, int] = {}
    nodes = dict(view.nodes)
    for node_id, counts in per_node.items():
        for field, value in counts.items():
            total[field] = total.get(field, 0) + value
        usage = _usage(counts)
        if node_id in nodes:
            nodes[node_id] = nodes[node_id].model_copy(update={"usage": usage})
    return view.model_copy(update={"nodes": nodes, "usage": _usage(total)})


def _usage(counts: dict[str, int]) -> m.Usage:
    prompt, completion = counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0)
    return m.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        tool_calls=counts.get("tool_calls", 0),
    )
