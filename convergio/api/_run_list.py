"""``GET /api/v1/runs``: a page of the tenant's runs from the run index, not from the durable backend.

The index entry of a run carries what the list shows (status, graph, times, tokens), written
where the run's state changes (``start_graph_run``, the run's end activity, cancel), so a page
is one indexed query plus one ledger query for its costs, whatever the tenant's number of runs
or the status filter. It used to be one durable status call per run, and a status filter read
runs until the page filled: seconds at a few hundred runs.

Two kinds of entry still ask the durable backend, a few at a time: entries of an older release,
whose status the index does not know yet (settled once, then written back), and runs recorded
longer than ``START_GRACE_S`` ago that never reported a start (a start cut short by a crash
shows Failed, "never started"; those are not written back, as a retried start may still run
them).

Paging: ``cursor`` (opaque; ``next_cursor`` of the previous page) is stable while new runs
arrive; ``offset`` still works and is deprecated.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Sequence

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.tenants import FINISHED, RUN_STATUSES, RunRecord, split_position

from . import _models as m
from ._http import int_param
from ._lifecycle import START_GRACE_S, age_s, stateless_view
from ._service import Service
from ._views import run_summary, summaries_with_costs

__all__ = ["SETTLE_BATCH", "decode_cursor", "encode_cursor", "mark_running", "run_list"]

SETTLE_BATCH = 100
"""Entries of an older release settled (one durable call each, then written back) per filtered list."""
_SETTLE_AT_ONCE = 16
_CURSOR_PREFIX = "c1."
_log = logging.getLogger("convergio.api")


def _bad(name: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{name}: {message}", details=[{"path": name, "message": message}])


def encode_cursor(position: str) -> str:
    """The opaque ``next_cursor`` of an index position (URL-safe, no padding)."""
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The index position in a cursor this API gave out.

    Raises:
        InvalidRequest: anything else (400, details name ``cursor``).
    """
    if not cursor.startswith(_CURSOR_PREFIX) or len(cursor) > 200:
        raise _bad("cursor", "not a cursor from next_cursor")
    body = cursor[len(_CURSOR_PREFIX) :]
    try:
        position = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        split_position(position)
    except (ValueError, binascii.Error):
        raise _bad("cursor", "not a cursor from next_cursor") from None
    return position


def mark_running(svc: Service, run_id: str) -> None:
    """Its instance is started: the index lists the run Running (never over an end already written).

    Best effort: the run is started whatever the index says, and an entry left Pending is
    settled from the durable backend by the list once it is older than ``START_GRACE_S``.
    """
    try:
        svc.store.update_run(run_id, status="Running")
    except Exception:  # a store outage must not turn a started run into an error answer
        _log.warning("run index: %s not marked running", run_id, exc_info=True)


def _summary(record: RunRecord) -> m.RunSummary:
    return m.RunSummary(
        id=record.run_id,
        graph=record.graph_name,
        status=record.status,  # type: ignore[arg-type]  # one of RUN_STATUSES (settled first)
        created_at=record.created_at,
        last_updated_at=record.finished_at or record.updated_at or record.created_at,
        finished_at=record.finished_at,
        usage=m.Usage(**record.usage),
    )


def _unsettled(record: RunRecord) -> bool:
    """The index cannot answer for this entry alone: an older release's, or a start never confirmed."""
    return record.status == "" or (record.status == "Pending" and age_s(record.created_at) >= START_GRACE_S)


async def _settle(svc: Service, client: df.DurableOrchestrationClient, record: RunRecord) -> m.RunSummary:
    """The summary from the durable backend; written back into the index when the run has state.

    A run with no state is written back only for an older release's entry (so it is not asked
    about again); a Pending one may still be started by a retried request with its key.
    """
    status = await client.get_status(record.run_id)
    if status.runtime_status is None:  # starting, or never started (ADR 0017)
        view = stateless_view(record, cancelled=svc.streams.cancelled(record.run_id))
        if record.status == "" and view.status in FINISHED:
            svc.store.update_run(record.run_id, status=view.status)
        return m.RunSummary(**view.model_dump(include=set(m.RunSummary.model_fields)))
    summary = run_summary(record, status)
    ended = summary.last_updated_at if summary.status in FINISHED else None
    usage = summary.usage.model_dump()
    svc.store.update_run(record.run_id, status=summary.status, finished_at=ended, usage=usage)
    return summary.model_copy(update={"finished_at": ended})


async def _settled(
    svc: Service, client: df.DurableOrchestrationClient, records: Sequence[RunRecord]
) -> list[m.RunSummary]:
    gate = asyncio.Semaphore(_SETTLE_AT_ONCE)

    async def settle(record: RunRecord) -> m.RunSummary:
        async with gate:
            return await _settle(svc, client, record)

    found = await asyncio.gather(*(settle(r) for r in records if _unsettled(r)))
    settled = {s.id: s for s in found}
    return [settled.get(r.run_id) or _summary(r) for r in records]


async def run_list(
    svc: Service,
    client: df.DurableOrchestrationClient,
    tenant_id: str,
    req: func.HttpRequest,
    *,
    started_by: str | None = None,
) -> m.RunList:
    """A page of ``tenant_id``'s runs for ``req``'s ``limit``, ``status``, ``cursor``, ``offset``.

    ``started_by`` limits the page to the runs one subject started (a role that sees only its own).

    Raises:
        InvalidRequest: a bad parameter (400; details name it).
    """
    limit = int_param(req, "limit", 50, 1, 200)
    offset = int_param(req, "offset", 0, 0, 1 << 31)
    wanted = req.params.get("status")
    if wanted is not None and wanted not in RUN_STATUSES:
        raise _bad("status", f"must be one of {', '.join(RUN_STATUSES)}")
    raw_cursor = req.params.get("cursor")
    before = None if raw_cursor is None else decode_cursor(raw_cursor)
    if before is not None and offset:
        raise _bad("cursor", "give cursor or offset, not both")
    if wanted is not None:  # entries of an older release must know their status to be found
        old = svc.store.list_runs(tenant_id, limit=SETTLE_BATCH, status="", started_by=started_by)
        await _settled(svc, client, old)
    records = svc.store.list_runs(
        tenant_id, limit=limit + 1, offset=offset, status=wanted, started_by=started_by, before=before
    )
    more = len(records) > limit
    records = records[:limit]
    runs = [s for s in await _settled(svc, client, records) if wanted is None or s.status == wanted]
    runs = summaries_with_costs(runs, svc.ledger.run_costs(tenant_id, [r.id for r in runs]))
    return m.RunList(
        runs=runs,
        next_cursor=encode_cursor(records[-1].cursor) if more else None,
        next_offset=offset + limit if more and before is None else None,
    )
