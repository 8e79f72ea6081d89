"""The ``record_run`` activity: the run's root span carries the ledger's cost of that run, and with
telemetry off the ledger is not read at all (nothing would carry what it reads)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import activities.runs
from convergio.metering import PriceTable, SqliteLedger, meter_call
from tests.telemetry.conftest import Otel

TENANT = "rome-primary"
SUMMARY = {
    "run_id": "run-42",
    "tenant": TENANT,
    "graph": "lesson-plan",
    "started_at": "2026-11-03T09:00:00+00:00",
    "finished_at": "2026-11-03T09:00:42+00:00",
    "status": "Completed",
    "usage": {"prompt_tokens": 300, "completion_tokens": 120, "total_tokens": 420, "tool_calls": 0},
}


class _Unread:
    """A ledger that must not be read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ledger was used ({name}) with telemetry off")


def _parts(monkeypatch: pytest.MonkeyPatch, ledger: Any) -> list[dict[str, Any]]:
    indexed: list[dict[str, Any]] = []
    monkeypatch.setattr(activities.runs, "components", lambda: SimpleNamespace(tenants=None, ledger=ledger))
    monkeypatch.setattr(activities.runs, "index_run_end", lambda tenants, summary: indexed.append(summary))
    return indexed


def test_the_root_span_carries_the_runs_cost_from_the_ledger(
    otel: Otel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = PriceTable(
        {
            "version": "test",
            "currency": "EUR",
            "models": {"offline:*": {"input_tokens": "0.000001", "output_tokens": "0.000003"}},
        }
    )
    with SqliteLedger(tmp_path / "usage.sqlite3") as ledger:
        costs = [
            meter_call(
                ledger,
                prices,
                tenant_id=TENANT,
                run_id=run_id,
                node_id=node,
                step=1,
                provider="offline",
                model="offline-1",
                usage={"prompt_tokens": 100 + n, "completion_tokens": 40 + n},
            )
            for n, (run_id, node) in enumerate(
                [("run-42", "a"), ("run-42", "b"), ("run-42/sub", "c"), ("run-7", "a")]
            )
        ]
        indexed = _parts(monkeypatch, ledger)
        activities.runs.record_run_activity(dict(SUMMARY))
    assert indexed == [SUMMARY]
    (root,) = otel.named("run ")
    assert root.attributes is not None
    # the run's own nodes and its sub-graph's (billed to the root run), not another run's
    assert root.attributes["convergio.cost_eur"] == float(sum(costs[:3], Decimal(0)))
    assert costs[3] > 0


def test_with_telemetry_off_the_ledger_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    indexed = _parts(monkeypatch, _Unread())
    activities.runs.record_run_activity(dict(SUMMARY))
    assert indexed == [SUMMARY]
