"""The run index in the control plane's ``tenants`` container (Cosmos DB), shared by every instance.

A mixin of :class:`~convergio.tenants.CosmosTenantStore`. Each run has two documents:

- ``~run:<run id>`` (global): the claim on the run id, its owner, and its state; ``run`` and
  ``owner_of`` read it without knowing the tenant.
- ``run:<run id>`` in the tenant's partition: the same state, what ``list_runs`` pages through.
  Its ``sort`` field (``created_at|seq``) is the order and the cursor: one field, so no
  composite index, and every query filters on the partition key (``c.tenant_id = @pk``), the
  emulator's rule and a single-partition query on the service.

A state change writes the listing first and the global document second: a crash in between
leaves the global one behind, so the next update (or the API's repair from the run's durable
state) still sees a difference and writes both again. Writes are rare (start, end, cancel, a
wait for human input and its answer).

The awaiting-input bookkeeping (``waits``: counts that grow) is changed on the global document
first and then copied onto the listing, so the two never count one answer differently; a crash
in between leaves the listing behind until the next change of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from convergio.controlplane import (
    cas_update,
    create_doc,
    delete_doc,
    global_partition,
    query_docs,
    read_doc,
    safe_id,
    unavailable,
)
from convergio.tenants._models import RunRecord, Tenant
from convergio.tenants._runs import (
    announced_waits,
    answered_waits,
    changed_entry,
    check_filters,
    position,
    record_of,
    usage_of,
    waits_change,
)
from convergio.tenants._store import _now, check_page

__all__ = ["CosmosRunIndex", "run_documents"]

_STORE: Final = "tenant"
_FIELDS: Final = (
    "c.run_id, c.graph_name, c.created_at, c.status, c.finished_at, c.updated_at, c.usage, c.started_by,"
    " c.sort, c.awaiting_input, c.cancelled_by, c.cancel_reason"
)


def run_documents(record: RunRecord, *, seq: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The global and the listing document of an entry (``seq``: its tie-breaker in the order)."""
    state = {
        "graph_name": record.graph_name,
        "created_at": record.created_at,
        "status": record.status,
        "finished_at": record.finished_at,
        "updated_at": record.updated_at or record.created_at,
        "usage": usage_of(record.usage),
        "started_by": record.started_by,
        "awaiting_input": record.awaiting_input,
    }
    claim = {"id": "run", "tenant_id": global_partition("run", record.run_id), "owner": record.tenant_id}
    listing = {
        "id": safe_id("run", record.run_id),
        "tenant_id": record.tenant_id,
        "type": "run",
        "run_id": record.run_id,
        # One sortable field (no composite index needed): the start, then the later recorded.
        "sort": position(record.created_at, seq),
    }
    return {**claim, **state, "seq": seq}, {**listing, **state}


def _eq(field: str, value: str) -> str:
    """A filter on ``field``; ``""`` also finds documents of older releases, which lack the field."""
    if value == "":
        return f" AND (NOT IS_DEFINED(c.{field}) OR c.{field} = '')"
    return f" AND c.{field} = @{field}"


class CosmosRunIndex:
    """``record_run`` … ``runs_between`` of the tenant store, over the ``tenants`` container."""

    if TYPE_CHECKING:
        container: Any

        def _tenant(self, tenant_id: str) -> Tenant: ...

    def record_run(
        self,
        tenant_id: str,
        run_id: str,
        graph_name: str,
        *,
        created_at: str | None = None,
        started_by: str = "",
    ) -> None:
        record = RunRecord(run_id, tenant_id, graph_name, created_at or _now(), started_by=started_by)
        wanted, listing = run_documents(record, seq=time.time_ns())

        def claim(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is None:
                return wanted
            # A retried start is fine; handing a run to another tenant never is.
            if doc["owner"] != tenant_id:
                raise ValueError(f"run {run_id!r} belongs to another tenant")
            return None

        with unavailable(_STORE):
            self._tenant(tenant_id)
            # The claim first (a create, or 409 and a fresh read): one owner whatever the race.
            owned = cas_update(self.container, "run", global_partition("run", run_id), claim)
            assert owned is not None  # claim() never leaves a missing document missing
            # Then the tenant's listing, as the claim says; a retried start finds it (409) or
            # repairs a lost one.
            kept = record_of({**owned, "run_id": run_id}, tenant_id, "")
            _, listing = run_documents(kept, seq=int(owned.get("seq") or time.time_ns()))
            create_doc(self.container, listing)

    def update_run(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: str | None = None,
        usage: Mapping[str, int] | None = None,
        cancelled_by: str | None = None,
        cancel_reason: str | None = None,
    ) -> bool:
        partition = global_partition("run", run_id)
        note = {"cancelled_by": cancelled_by, "cancel_reason": cancel_reason}
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", partition)
            if doc is None:
                return False
            fresh = changed_entry(
                doc, status=status, finished_at=finished_at, usage=usage, now=_now(), **note
            )
            if fresh is None:
                return False

            def apply(current: dict[str, Any] | None) -> dict[str, Any] | None:
                if current is None:
                    return None
                change = changed_entry(
                    current,
                    status=status,
                    finished_at=fresh["finished_at"],
                    usage=fresh["usage"],
                    now=fresh["updated_at"],
                    **note,
                )
                return None if change is None else {**current, **change}

            cas_update(self.container, safe_id("run", run_id), doc["owner"], apply)
            cas_update(self.container, "run", partition, apply)
        return True

    def note_waits(self, run_id: str, *, seq: int, target: Mapping[str, int]) -> bool:
        return self._change_waits(run_id, lambda waits: announced_waits(waits, seq=seq, target=target))

    def note_answer(self, run_id: str, name: str) -> bool:
        return self._change_waits(run_id, lambda waits: answered_waits(waits, name))

    def _change_waits(self, run_id: str, change: Callable[[Any], dict[str, Any] | None]) -> bool:
        """``change`` (old ``waits`` -> new, or None) on the global document, then copied to the listing."""
        partition = global_partition("run", run_id)
        changed: list[bool] = []

        def apply(current: dict[str, Any] | None) -> dict[str, Any] | None:
            changed.clear()
            fresh = (
                None if current is None else waits_change(current, change(current.get("waits")), now=_now())
            )
            changed.append(fresh is not None)
            return None if current is None or fresh is None else {**current, **fresh}

        with unavailable(_STORE):
            doc = cas_update(self.container, "run", partition, apply)
            if doc is None:
                return False

            def copy(current: dict[str, Any] | None) -> dict[str, Any] | None:
                # The global document as it is now, read after the listing's ETag: a writer
                # that copied its own (older) state after a later writer's copy would leave the
                # listing stale; read here, a later change either shows or fails the If-Match.
                if current is None:
                    return None
                latest = read_doc(self.container, "run", partition) or doc
                fresh = waits_change(current, latest.get("waits"), now=_now())
                return None if fresh is None else {**current, **fresh}

            cas_update(self.container, safe_id("run", run_id), doc["owner"], copy)
        return changed == [True]

    def forget_run(self, run_id: str) -> None:
        partition = global_partition("run", run_id)
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", partition)
            if doc is None:
                return
            # Listing first, so a run is never listed without an owner.
            delete_doc(self.container, safe_id("run", run_id), doc["owner"])
            delete_doc(self.container, "run", partition)

    def owner_of(self, run_id: str) -> str | None:
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", global_partition("run", run_id))
        return None if doc is None else str(doc["owner"])

    def run(self, run_id: str) -> RunRecord | None:
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", global_partition("run", run_id))
        if doc is None:
            return None
        cursor = position(doc["created_at"], int(doc["seq"])) if doc.get("seq") else ""
        return record_of({**doc, "run_id": run_id}, str(doc["owner"]), cursor)

    def list_runs(
        self,
        tenant_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        status: str | None = None,
        started_by: str | None = None,
        before: str | None = None,
        awaiting_input: bool | None = None,
    ) -> list[RunRecord]:
        check_page(limit, offset)
        check_filters(status, before)
        # TOP, not OFFSET/LIMIT: the emulator parses only TOP, and pages here are shallow.
        sql = f"SELECT TOP @n {_FIELDS} FROM c WHERE c.tenant_id = @pk AND c.type = 'run'"  # noqa: S608
        params: dict[str, Any] = {"n": offset + limit}
        if awaiting_input is True:
            sql += " AND c.awaiting_input = true"
        elif awaiting_input is False:  # documents of older releases lack the field: not awaiting
            sql += " AND (NOT IS_DEFINED(c.awaiting_input) OR c.awaiting_input = false)"
        for field, value in (("status", status), ("started_by", started_by)):
            if value is not None:
                sql += _eq(field, value)
                params.update({field: value} if value else {})
        if before is not None:
            sql += " AND c.sort < @before"
            params["before"] = before
        sql += " ORDER BY c.sort DESC"
        with unavailable(_STORE):
            docs = query_docs(self.container, tenant_id, sql, **params)
        return [record_of(d, tenant_id, str(d["sort"])) for d in docs[offset:]]

    def count_runs(self, tenant_id: str) -> int:
        sql = "SELECT VALUE COUNT(1) FROM c WHERE c.tenant_id = @pk AND c.type = 'run'"
        with unavailable(_STORE):
            counts = query_docs(self.container, tenant_id, sql)
        return int(counts[0]) if counts else 0

    def runs_between(
        self, tenant_id: str, *, since: str = "", before: str, limit: int, offset: int = 0
    ) -> list[RunRecord]:
        check_page(limit, offset)
        sql = (
            f"SELECT TOP @n {_FIELDS} FROM c WHERE c.tenant_id = @pk"  # noqa: S608 - constant columns
            " AND c.type = 'run' AND c.created_at >= @since AND c.created_at < @before ORDER BY c.sort"
        )
        with unavailable(_STORE):
            docs = query_docs(self.container, tenant_id, sql, n=offset + limit, since=since, before=before)
        return [record_of(d, tenant_id, str(d["sort"])) for d in docs[offset:]]
