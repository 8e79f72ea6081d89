"""``GET /api/v1/runs``: a page of the tenant's runs from the run index, not from the durable backend.

The index entry of a run carries what the list shows (status, graph, times, tokens), written
where the run's state changes (``start_graph_run``, the run's end activity, cancel), so a page
is one indexed query plus one ledger query for its costs, whatever the tenant's number of runs
or the status filter. It used to be one durable status call per run, and a status filter read
runs until the page filled: seconds at a few hundred runs.

Two kinds of entry still ask the durable backend, a few at a time: entries of an older release,
whose status the index does not know yet, and ``Pending`` ones. A start writes the index once,
before the orchestration exists (ADR 0017's claim), and not again after it (ADR 0025): the
first list that finds such a run started writes its status back (``Running``, or its end),
so each run costs at most one durable call here. A run recorded longer than ``START_GRACE_S``
ago with no orchestration (a start cut short by a crash) shows Failed, "never started"; that
is not written back, as a retried start may still run it. A status filter that can match
going runs settles the ``Pending`` entries first, so a run started a moment ago is found.

Paging: ``cursor`` (opaque; ``next_cursor`` of the previous page) is stable while new runs
arrive; ``offset`` still works and is deprecated.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Sequence

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.tenants import FINISHED, RUN_STATUSES, RunRecord, split_position

from . import _models as m
from ._http import int_param, off_loop
from ._lifecycle import stateless_view
from ._service import Service
from ._times import ended_at
from ._views import run_summary, summaries_with_costs

__all__ = ["SETTLE_BATCH", "decode_cursor", "encode_cursor", "run_list"]

SETTLE_BATCH = 100
"""Entries settled before a filtered list (one durable call each, then written back), per status."""
_UNCONFIRMED = ("", "Pending")
"""Index statuses the durable backend settles: an older release's entry, a start not yet seen."""
_SETTLE_AT_ONCE = 16
_GOING = frozenset({"Pending", "Running"})
_CURSOR_PREFIX = "c1."


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


def _settle_first(wanted: str | None) -> tuple[str, ...]:
    """The index statuses whose entries a list filtered by ``wanted`` settles before its query.

    An entry must know its status to be found by it: an older release's never does; a Pending
    one may be Running by now, which only a filter that can match a going run needs to know.
    """
    if wanted is None:
        return ()
    return _UNCONFIRMED if wanted in _GOING else ("",)


def _unsettled(record: RunRecord) -> bool:
    """The index cannot answer for this entry alone: an older release's, or a start not confirmed."""
    return record.status in _UNCONFIRMED


async def _settle(svc: Service, client: df.DurableOrchestrationClient, record: RunRecord) -> m.RunSummary:
    """The summary from the durable backend; written back into the index when the run has state.

    A run with no state is written back only for an older release's entry (so it is not asked
    about again); a Pending one may still be started by a retried request with its key.
    """
    status = await client.get_status(record.run_id)
    if status.runtime_status is None:  # starting, or never started (ADR 0017)
        view = stateless_view(record, cancelled=await off_loop(svc.streams.cancelled, record.run_id))
        if record.status == "" and view.status in FINISHED:
            await off_loop(svc.store.update_run, record.run_id, status=view.status)
        return m.RunSummary(**view.model_dump(include=set(m.RunSummary.model_fields)))
    summary = run_summary(record, status)
    ended = ended_at(summary.last_updated_at or "", record.created_at) if summary.status in FINISHED else None
    usage = summary.usage.model_dump()
    await off_loop(svc.store.update_run, record.run_id, status=summary.status, finished_at=ended, usage=usage)
    shown = {"finished_at": ended, "last_updated_at": ended or summary.last_updated_at}
    return summary.model_copy(update=shown)


async def _settled(
    svc: Service, client: df.DurableOrchestrationClient, records: Sequence[RunRecord]
) -> list[m.RunSummary]:
    gate = asyncio.Semaphore(_SETTLE_AT_ONCE)

    async def settle(record: RunRecord) -> m.RunSummary:
        async with gate:
            return await _settle(svc, client, record)

    found = await asyncio.gather(*(settle(r) for r in records if _unsettled(r)))
    settled = {s.id: s for s in found}
    return [_with_index(settled.get(r.run_id) or _summary(r), r) for r in records]


def _with_index(summary: m.RunSummary, record: RunRecord) -> m.RunSummary:
    """What only the index knows: whether the run waits for human input, who cancelled it, why."""
    return summary.model_copy(
        update={
            "awaiting_input": record.awaiting_input and summary.status not in FINISHED,
            "cancelled_by": record.cancelled_by or None,
            "cancel_reason": record.cancel_reason or None,
        }
    )


def _waiting(req: func.HttpRequest) -> bool | None:
    """``?waiting=true`` (runs that wait for human input) or ``false`` (the others); absent: all."""
    raw = req.params.get("waiting")
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise _bad("waiting", "must be true or false")
    return bool(raw == "true")


async def run_list(
    svc: Service,
    client: df.DurableOrchestrationClient,
    tenant_id: str,
    req: func.HttpRequest,
    *,
    started_by: str | None = None,
) -> m.RunList:
    """A page of ``tenant_id``'s runs for ``req``'s ``limit``, ``status``, ``waiting``, ``cursor``,
    ``offset``.

    ``started_by`` limits the page to the runs one subject started (a role that sees only its own).

    Raises:
        InvalidRequest: a bad parameter (400; details name it).
    """
    limit = int_param(req, "limit", 50, 1, 200)
    offset = int_param(req, "offset", 0, 0, 1 << 31)
    wanted = req.params.get("status")
    if wanted is not None and wanted not in RUN_STATUSES:
        raise _bad("status", f"must be one of {', '.join(RUN_STATUSES)}")
    waiting = _waiting(req)
    raw_cursor = req.params.get("cursor")
    before = None if raw_cursor is None else decode_cursor(raw_cursor)
    if before is not None and offset:
        raise _bad("cursor", "give cursor or offset, not both")
    for unsure in _settle_first(wanted):
        old = await off_loop(
            svc.store.list_runs, tenant_id, limit=SETTLE_BATCH, status=unsure, started_by=started_by
        )
        await _settled(svc, client, old)
    records = await off_loop(
        svc.store.list_runs,
        tenant_id,
        limit=limit + 1,
        offset=offset,
        status=wanted,
        started_by=started_by,
        before=before,
        awaiting_input=waiting,
    )
    more = len(records) > limit
    records = records[:limit]
    runs = [
        s
        for s in await _settled(svc, client, records)
        if (wanted is None or s.status == wanted) and (waiting is None or s.awaiting_input == waiting)
    ]
    runs = summaries_with_costs(runs, await off_loop(svc.ledger.run_costs, tenant_id, [r.id for r in runs]))
    return m.RunList(
        runs=runs,
        next_cursor=encode_cursor(records[-1].cursor) if more else None,
        next_offset=offset + limit if more and before is None else None,
    )
