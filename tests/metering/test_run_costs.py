"""Per-run cost totals: SQLite answers many runs in chunks (both adapters' totals are in the
contract, ``test_ledger_contract.py``; the Cosmos query's wire form in ``test_cosmos.py``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from convergio.metering import SqliteLedger
from tests.metering._samples import record


def test_sqlite_answers_many_runs_in_chunks(tmp_path: Path) -> None:
    with SqliteLedger(tmp_path / "usage.sqlite3") as sqlite:
        sqlite.record([record(run_id=f"r{i}", cost=Decimal(i)) for i in range(1200)])
        totals = sqlite.run_costs("tenant-a", [f"r{i}" for i in range(1200)])
    assert len(totals) == 1200 and totals["r1199"] == 1199 and sum(totals.values()) == sum(range(1200))
