"""The ledger interface every usage store implements (SQLite embedded, Cosmos DB on Azure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ._canonical import canonical_time
from ._record import UsageRecord

__all__ = ["Ledger", "run_totals", "time_bounds"]


@runtime_checkable
class Ledger(Protocol):
    """An append-only, idempotent store of usage records: billing data, never logs.

    Recording a record whose ``id`` is already stored changes nothing billable, so
    retries, redeliveries and crash-resume can record the same usage again safely.
    """

    def record(self, records: Sequence[UsageRecord]) -> int:
        """Store records, idempotently by ``id``.

        Args:
            records: The records; ids already stored (or repeated in the batch) are not added again.

        Returns:
            How many records were new.
        """
        ...

    def query(
        self,
        tenant_id: str,
        *,
        start: str | None = None,
        end: str | None = None,
        run_id: str | None = None,
    ) -> list[UsageRecord]:
        """A tenant's records, oldest first (by ``at``, then ``id``).

        Args:
            tenant_id: The tenant; a query never crosses tenants.
            start: Inclusive lower bound on ``at`` (ISO 8601 with offset, or a date = midnight UTC).
            end: Exclusive upper bound on ``at``, same forms.
            run_id: Only this run's records.

        Returns:
            The matching records.
        """
        ...

    def get(self, tenant_id: str, ids: Sequence[str], *, run_id: str | None = None) -> list[UsageRecord]:
        """The stored records with these ids (those stored; in no particular order).

        A re-sent call reads back what the ledger kept for its ids, so what the run shows and
        what the budget settles are the first delivery's numbers, not the re-sent call's.

        Args:
            tenant_id: The tenant; a read never crosses tenants.
            ids: Record ids (see :func:`~convergio.metering.usage_id`).
            run_id: The run of the ids, when the caller knows it (an id is made from its run, so
                it belongs to one): a store may find them by run. Only that run's records answer.

        Returns:
            The stored records among them.
        """
        ...

    def run_costs(self, tenant_id: str, run_ids: Sequence[str]) -> dict[str, Decimal]:
        """What each run cost in total (EUR), in one query: a list of runs needs no query per run.

        Args:
            tenant_id: The tenant; a query never crosses tenants.
            run_ids: The runs (root run ids; sub-graph usage is billed to its root run).

        Returns:
            Every asked run id mapped to its total cost (0 for a run with no records).
        """
        ...


def time_bounds(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """Canonical forms of a query's time bounds, comparable as strings with stored ``at`` values.

    Args:
        start: Inclusive lower bound, or None.
        end: Exclusive upper bound, or None.

    Returns:
        The canonical bounds.

    Raises:
        ValueError: If a bound is not ISO 8601 with an offset or a bare date.
    """
    low = None if start is None else canonical_time(start, name="start", allow_date=True)
    high = None if end is None else canonical_time(end, name="end", allow_date=True)
    return low, high


def run_totals(run_ids: Sequence[str], rows: Iterable[tuple[str, str | Decimal]]) -> dict[str, Decimal]:
    """Sum ``(run_id, cost)`` rows per run, exactly (costs are stored as decimal text).

    Args:
        run_ids: The runs asked for; each one is in the answer, 0 when it has no rows.
        rows: The matching records' run ids and costs.

    Returns:
        The total cost per asked run.
    """
    totals = dict.fromkeys(run_ids, Decimal(0))
    for run_id, cost in rows:
        if run_id in totals:
            totals[run_id] += Decimal(cost)
    return totals
