"""The ledger interface every usage store implements (SQLite embedded, Cosmos DB on Azure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ._record import UsageRecord, canonical_time

__all__ = ["Ledger", "time_bounds"]


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
