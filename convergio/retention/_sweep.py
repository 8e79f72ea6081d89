"""One tenant's retention pass, and the platform-wide backstop; bounded, resumable, idempotent.

A tenant's pass purges its finished runs older than ``finished_runs_days`` (durable history
and payloads, stream events, then the index entry, in that order, so a pass that stops half
way is finished by the next one) and drops the stream events of runs that started more than
``stream_events_days`` ago. Tenant records that say when they expire (``expires_at``; today
the ``Idempotency-Key`` records) are deleted ``EXPIRY_GRACE`` after that, each only if nobody
rewrote it since it was read. The usage ledger is never touched: costs outlive runs.

Time comes from the caller (the orchestration's clock), so a replayed activity decides the
same way, and tests can sweep "in the future".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, TypeVar

from convergio.streams import RunStream
from convergio.tenants import TenantStore

from ._policy import last_sweep, policy_of, record_sweep

__all__ = ["TERMINAL", "Instances", "backstop", "stamp", "sweep_tenant"]

TERMINAL: Final = frozenset({"Completed", "Failed", "Terminated"})
_PAGE: Final = 100
_SCAN: Final = 4
"""A pass looks at no more than ``_SCAN * batch`` old runs, however many it keeps (still running)."""
_T = TypeVar("_T")
EXPIRING_KINDS: Final = ("idempotency",)
"""Tenant record kinds whose bodies carry ``expires_at`` (ISO 8601)."""
EXPIRY_GRACE: Final = timedelta(days=1)
"""How long past ``expires_at`` a record is kept: well clear of a request renewing it right then."""


class Instances(Protocol):
    """What a sweep needs of the durable task hub (the durable client, or a fake in tests)."""

    async def state(self, run_id: str) -> tuple[str | None, datetime | None]:
        """The instance's runtime status and last update (None, None: no state in the hub)."""
        ...

    async def purge(self, run_id: str) -> None:
        """Delete a finished instance's history and payloads."""
        ...

    async def purge_finished_before(self, moment: datetime) -> int:
        """Delete every finished instance created before ``moment``; how many."""
        ...


def stamp(moment: datetime) -> str:
    """The run index's time format (fixed width, UTC), so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


async def _io(call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    # Store calls block (a Cosmos round trip each): off the event loop the host serves HTTP on.
    return await asyncio.to_thread(call, *args, **kwargs)


async def sweep_tenant(
    store: TenantStore, streams: RunStream, instances: Instances, tenant_id: str, now: datetime, *, batch: int
) -> dict[str, Any]:
    """Apply the tenant's policy once (at most ``batch`` runs purged), record and return what it did."""
    policy, _ = await _io(policy_of, store, tenant_id)
    previous = await _io(last_sweep, store, tenant_id) or {}
    counts = {
        "runs_examined": 0,
        "runs_purged": 0,
        "runs_kept": 0,
        "stream_runs": 0,
        "events_dropped": 0,
        "records_expired": 0,
    }
    cutoff = now - timedelta(days=policy.finished_runs_days)
    more = await _purge_finished(store, streams, instances, tenant_id, cutoff, batch, counts)
    more = await _io(_drop_expired, store, tenant_id, now - EXPIRY_GRACE, batch, counts) or more
    since = str(previous.get("streams_through", ""))
    before = stamp(now - timedelta(days=policy.stream_events_days))
    page = await _io(store.runs_between, tenant_id, since=since, before=before, limit=batch)
    for record in page:
        counts["stream_runs"] += 1
        counts["events_dropped"] += await _io(streams.forget, record.run_id)
    summary = {
        "at": stamp(now),
        "policy": policy.as_dict(),
        **counts,
        "more": more or len(page) == batch,
        # Stream events of runs started before this were dropped; the next pass starts here.
        "streams_through": page[-1].created_at if page else since,
    }
    await _io(record_sweep, store, tenant_id, summary)
    return summary


async def _purge_finished(
    store: TenantStore,
    streams: RunStream,
    instances: Instances,
    tenant_id: str,
    cutoff: datetime,
    batch: int,
    counts: dict[str, int],
) -> bool:
    """Purge finished runs that started and ended before ``cutoff``; True when some may be left."""
    offset, before = 0, stamp(cutoff)
    while True:
        page = await _io(store.runs_between, tenant_id, before=before, limit=_PAGE, offset=offset)
        for record in page:
            if counts["runs_purged"] >= batch or counts["runs_examined"] >= batch * _SCAN:
                return True
            counts["runs_examined"] += 1
            status, updated = await instances.state(record.run_id)
            if status is not None and (status not in TERMINAL or updated is None or updated > cutoff):
                offset += 1  # still going, or ended recently: kept, and skipped by the next page
                counts["runs_kept"] += 1
                continue
            # No state at all means purged already, or a start that never happened long ago.
            if status is not None:
                await instances.purge(record.run_id)
            counts["events_dropped"] += await _io(streams.forget, record.run_id)
            await _io(store.forget_run, record.run_id)
            counts["runs_purged"] += 1
        if len(page) < _PAGE:
            return False


def _drop_expired(
    store: TenantStore, tenant_id: str, before: datetime, batch: int, counts: dict[str, int]
) -> bool:
    """Delete up to ``batch`` records that expired before ``before``; True when some may be left."""
    for kind in EXPIRING_KINDS:
        records = store.records(kind)
        for name, body in records.items(tenant_id):
            if not _expired_before(body.get("expires_at"), before):
                continue  # not yet, or a record from before ``expires_at`` existed: kept
            if counts["records_expired"] >= batch:
                return True
            # Only as read: a request that renewed the record since then keeps it.
            counts["records_expired"] += records.delete_if(tenant_id, name, body)
    return False


def _expired_before(value: Any, before: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) < before


async def backstop(
    streams: RunStream,
    instances: Instances,
    now: datetime,
    *,
    finished_runs_days: int,
    stream_events_days: int,
) -> dict[str, Any]:
    """What no tenant keeps longer: finished instances and stream events past the longest policy.

    This catches what the index does not name: sub-graph instances, webhook deliveries, streams
    of sub-graphs, and anything a tenant pass has not reached yet.
    """
    instances_purged = await instances.purge_finished_before(now - timedelta(days=finished_runs_days))
    events = await _io(streams.prune, timedelta(days=stream_events_days).total_seconds())
    return {
        "at": stamp(now),
        "instances_purged": instances_purged,
        "events_dropped": events,
        "finished_runs_days": finished_runs_days,
        "stream_events_days": stream_events_days,
    }
