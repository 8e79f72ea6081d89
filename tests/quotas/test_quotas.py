"""The SQLite quota store alone: several processes on one file, and a file from before running
totals (the contract both adapters keep is in ``test_contract.py``)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from convergio.quotas import SqliteQuotaStore, TenantBudget, cheaper_model, open_quota_store

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_without_a_control_plane_the_factory_opens_the_homes_file(tmp_path: Path) -> None:
    store = open_quota_store(tmp_path)
    assert isinstance(store, SqliteQuotaStore) and store.path == tmp_path / "quotas.sqlite3"


def _reserve_many(path: str, count: int) -> int:
    store = SqliteQuotaStore(Path(path))
    return sum(store.reserve("t", "byok", Decimal("1"), now=NOW).allowed for _ in range(count))


def test_parallel_reservations_never_pass_the_monthly_budget(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    SqliteQuotaStore(path).set_budget(TenantBudget("t", monthly_eur=Decimal("37")))
    with ThreadPoolExecutor(16) as pool:
        threads = sum(pool.map(lambda _: _reserve_many(str(path), 5), range(8)))
    with multiprocessing.get_context("spawn").Pool(3) as processes:
        others = sum(processes.starmap(_reserve_many, [(str(path), 10)] * 3))
    assert threads + others == 37  # 70 asked for, exactly the budget granted
    assert SqliteQuotaStore(path).spent("t", now=NOW) == Decimal("37")
    events = SqliteQuotaStore(path).events("t", limit=100)
    assert {e["kind"] for e in events} == {"throttle"} and len(events) == 70 - 37


def test_downgrades_are_data() -> None:
    assert cheaper_model("anthropic", "claude-sonnet-4-0") == "claude-3-5-haiku-latest"
    assert cheaper_model("openai", "gpt-4o-mini") is None


def test_a_store_from_before_running_totals_is_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    store = SqliteQuotaStore(path)
    store.reserve("t", "byok", Decimal("4"), now=NOW)
    done = store.reserve("t", "byok", Decimal("3"), now=NOW)
    store.settle(done.reservation_id or "", Decimal("0.25"))
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE totals")  # as a store written before running totals existed
    db.commit()
    db.close()
    assert SqliteQuotaStore(path).spent("t", now=NOW, key_mode="byok") == Decimal("4.25")
