"""The ``record_run`` activity: what happens once at the end of a root run (its telemetry root span)."""

from decimal import Decimal
from typing import Any

from convergio.telemetry import flush_telemetry, record_run_span
from convergio.tenants import index_run_end
from convergio.wiring import components


def record_run_activity(summary: dict[str, Any]) -> None:
    """Write the run's end into the run index, emit its root span (node spans, emitted by each call,
    are its children) and flush."""
    index_run_end(components().tenants, summary)
    records = components().ledger.query(summary["tenant"], run_id=summary["run_id"])
    record_run_span(
        summary["run_id"],
        tenant=summary["tenant"],
        graph=summary["graph"],
        started_at=summary["started_at"],
        finished_at=summary["finished_at"],
        status=summary["status"],
        usage=summary["usage"],
        cost_eur=sum((r.cost for r in records), Decimal(0)),
    )
    flush_telemetry()
