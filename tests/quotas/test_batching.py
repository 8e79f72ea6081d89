"""Quota reservations in group-commit batches: a few statements per batch, a cache that follows
other connections' commits (``data_version``) and rollbacks, redeliveries inside one batch.
The tests that count a batch's statements or hold a batch open reserve call by call
(``leases=False``): a lease admits in memory, without a batch (``test_lease.py``)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from convergio import _sqlite
from convergio.quotas import Decision, SqliteQuotaStore, TenantBudget
from convergio.quotas._store import _settle
from tests.metering._batching import in_one_batch, statements

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _reservation_id(tmp_path: Path, tenant_id: str, call: str) -> str:
    """The id ``reserve(call=...)`` gives (the same in any store)."""
    ids = SqliteQuotaStore(tmp_path / "ids.sqlite3")
    return ids.reserve(tenant_id, "byok", Decimal(0), now=NOW, call=call).reservation_id or ""


def _reserve(
    store: SqliteQuotaStore, amount: str, call: str, key_mode: str = "byok"
) -> Callable[[], Decision]:
    return lambda: store.reserve("t", key_mode, Decimal(amount), now=NOW, call=call)  # type: ignore[arg-type]


def test_sixty_four_reservations_then_their_settlements_cost_five_statements_each_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "DEFER_S", 60.0)  # no flusher's transaction in the middle
    store = SqliteQuotaStore(tmp_path / "q.sqlite3", leases=False)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("1000")))
    store.reserve("t", "byok", Decimal(1), now=NOW)  # the month is read once, then cached
    with statements(store._db) as seen:
        decisions = [
            f.result() for f in in_one_batch(store._db, [_reserve(store, "2", f"c{n}") for n in range(64)])
        ]
    assert all(d.allowed for d in decisions) and len({d.reservation_id for d in decisions}) == 64
    assert len(seen) == 2 + 5  # the holder's BEGIN, COMMIT; BEGIN, SELECT, 2 x INSERT, COMMIT
    with statements(store._db) as seen:  # deferred (ADR 0027): all of them in the next transaction
        for d in decisions:
            store.settle(d.reservation_id or "", Decimal("0.5"))
        store._db.flush()
    assert len(seen) == 5  # BEGIN, the version, 2 x INSERT, COMMIT
    assert store.spent("t", now=NOW) == 1 + 32


def test_free_running_threads_cost_a_bounded_number_of_statements_per_batch(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3", leases=False)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("100")))
    barrier = threading.Barrier(16)

    def work(thread: int) -> int:
        barrier.wait()
        granted = 0
        for n in range(10):
            decision = store.reserve("t", "byok", Decimal(1), now=NOW, call=f"{thread}/{n}")
            if decision.allowed:
                granted += 1
                store.settle(decision.reservation_id or "", Decimal("0.5"))
        return granted

    with statements(store._db) as seen, ThreadPoolExecutor(16) as pool:
        granted = sum(pool.map(work, range(16)))
    batches = seen.count("BEGIN IMMEDIATE")
    assert len(seen) <= 6 * batches + 4  # + reading the month once, and again after a throttle's batch
    assert granted == 160 and store.spent("t", now=NOW) == 80


def test_commits_of_another_store_on_the_file_are_heard_by_the_next_reservation(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    mine, other = SqliteQuotaStore(path, leases=False), SqliteQuotaStore(path, leases=False)
    assert mine.reserve("t", "byok", Decimal(3), now=NOW).allowed  # no limit yet; now cached
    other.set_budget(TenantBudget("t", monthly_eur=Decimal(5)))
    assert not mine.reserve("t", "byok", Decimal(3), now=NOW).allowed
    assert other.reserve("t", "byok", Decimal(2), now=NOW).allowed
    assert not mine.reserve("t", "byok", Decimal("0.01"), now=NOW).allowed  # 3 + 2 of 5

    other.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal(1)))
    assert mine.reserve("t", "managed", Decimal(1), now=NOW).allowed
    assert not mine.reserve("t", "managed", Decimal("0.5"), now=NOW).allowed
    other.consent("t", Decimal("0.5"), now=NOW)
    assert mine.reserve("t", "managed", Decimal("0.5"), now=NOW).allowed

    open_ = mine.reserve("t", "byok", Decimal(4), now=NOW, call="x")
    again = other.reserve("t", "byok", Decimal(4), now=NOW, call="x")  # a redelivery, elsewhere
    assert again.reservation_id == open_.reservation_id
    other.settle(open_.reservation_id or "", Decimal(0))  # settled by the other process
    other._db.flush()  # (deferred: stored at its next transaction)
    mine.settle(open_.reservation_id or "", Decimal(4))  # ... so this changes nothing
    assert mine.spent("t", now=NOW, key_mode="byok") == 5 and other.spent("t", now=NOW) == Decimal("6.5")


def test_two_stores_reserving_from_threads_never_pass_the_limit_together(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    stores = [SqliteQuotaStore(path), SqliteQuotaStore(path)]
    stores[0].set_budget(TenantBudget("t", monthly_eur=Decimal(50)))
    barrier = threading.Barrier(16)

    def work(thread: int) -> tuple[int, int]:
        store = stores[thread % 2]
        barrier.wait()
        granted = settled = 0
        for n in range(10):
            decision = store.reserve("t", "byok", Decimal(1), now=NOW, call=f"{thread}/{n}")
            granted += decision.allowed
            if decision.allowed and n % 3 == 0:
                store.settle(decision.reservation_id or "", Decimal("0.5"))  # room for more
                settled += 1
        return granted, settled

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(work, range(16)))
    for store in stores:
        store.close()  # their deferred settlements stored
    granted, settled = (sum(column) for column in zip(*outcomes, strict=True))
    spent = SqliteQuotaStore(path).spent("t", now=NOW)
    assert spent == granted - Decimal("0.5") * settled  # every move counted once, by either store
    assert 49 - Decimal("0.5") * settled < spent <= 50 < granted  # refused only when full, never past


def test_a_failed_operation_in_a_batch_leaves_the_cache_as_the_file(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3", leases=False)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(10)))
    first = store.reserve("t", "byok", Decimal(1), now=NOW)
    bad = lambda: store._db.batch_write(  # noqa: E731  # a settlement that fails halfway
        lambda batch: _settle(batch, first.reservation_id or "", 0.5),  # type: ignore[arg-type]
        (first.reservation_id or "",),
    )
    futures = in_one_batch(store._db, [_reserve(store, "4", "a"), bad, _reserve(store, "4", "b")])
    assert isinstance(futures[1].exception(), TypeError)  # a float: its caller's error alone
    before, after = futures[0].result(), futures[2].result()
    assert before is not None and before.allowed and after is not None and after.allowed
    assert store.spent("t", now=NOW) == 9  # the batch ran again without it: each counted once
    assert store.reserve("t", "byok", Decimal(1), now=NOW).allowed
    assert not store.reserve("t", "byok", Decimal("0.01"), now=NOW).allowed


def test_redeliveries_and_settlements_inside_one_batch(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3", leases=False)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(10)))
    x = _reservation_id(tmp_path, "t", "x")
    futures = in_one_batch(
        store._db,
        [
            _reserve(store, "6", "x"),
            _reserve(store, "6", "x"),  # delivered twice: one reservation
        ],
    )
    store.settle(x, Decimal(2))  # deferred: first in the next batch, settling what was reserved
    store.settle(x, Decimal(99))  # once
    futures += in_one_batch(
        store._db,
        [
            _reserve(store, "6", "x"),  # a late delivery: still admitted, not counted again
            _reserve(store, "9", "y"),  # 2 + 9 > 10
            _reserve(store, "8", "z"),
        ],
    )
    results = [f.result() for f in futures]
    assert [r.reservation_id for r in results if isinstance(r, Decision)][:3] == [x, x, x]
    assert [r.allowed for r in results if isinstance(r, Decision)] == [True, True, True, False, True]
    assert store.spent("t", now=NOW) == 10
    assert [e["kind"] for e in store.events("t")] == ["throttle"]
    with pytest.raises(ValueError, match="amount_eur"):
        store.consent("t", Decimal(-1), now=NOW)


def test_settling_this_process_reservations_reads_the_version_alone_not_a_scan(tmp_path: Path) -> None:
    """A settlement of a reservation the cache holds fetches no row: it asks for the file's
    ``data_version`` alone (``LEFT JOIN ... IN ()`` made SQLite scan every spending row, so a
    settlement cost grew with the month's calls)."""
    store = SqliteQuotaStore(tmp_path / "q.sqlite3", leases=False)
    decisions = [store.reserve("t", "byok", Decimal(1), now=NOW, call=f"c{n}") for n in range(3)]
    with statements(store._db) as seen:
        store.settle(decisions[0].reservation_id or "", Decimal("0.25"))
        store._db.flush()
    reads = [s for s in seen if s.lstrip().startswith("SELECT")]
    assert reads == ["SELECT data_version, NULL, NULL, NULL, NULL, NULL, NULL FROM pragma_data_version()"]
    with store._db.read() as db:  # what that statement is planned as: no table at all
        plan = db.execute(f"EXPLAIN QUERY PLAN {reads[0]}").fetchall()
    assert all("spending" not in str(step) for step in plan)
    assert store.spent("t", now=NOW) == Decimal("2.25")
    store.settle(decisions[0].reservation_id or "", Decimal(1))  # settled once: a redelivery changes nothing
    assert store.spent("t", now=NOW) == Decimal("2.25")


def test_a_settlement_is_deferred_and_until_stored_the_reservation_counts_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADR 0027: ``settle`` returns before its commit. Its own store's reads see it at once; another
    instance sees the whole reservation until it is stored (a crash before then leaves it so: the
    budget counts more than was spent, never less), and the flusher stores it soon enough."""
    monkeypatch.setattr(_sqlite, "DEFER_S", 60.0)
    path = tmp_path / "q.sqlite3"
    mine, other = SqliteQuotaStore(path), SqliteQuotaStore(path)
    mine.set_budget(TenantBudget("t", monthly_eur=Decimal(10)))
    decision = mine.reserve("t", "byok", Decimal(6), now=NOW, call="c")
    mine.settle(decision.reservation_id or "", Decimal(1))
    assert other.spent("t", now=NOW) == 6  # not stored yet (as after a crash): counted in full
    assert not other.reserve("t", "byok", Decimal(5), now=NOW).allowed  # never past the cap
    assert mine.spent("t", now=NOW) == 1  # its own read stores it first
    assert other.spent("t", now=NOW) == 1 and other.reserve("t", "byok", Decimal(5), now=NOW).allowed

    monkeypatch.setattr(_sqlite, "DEFER_S", 0.01)
    fresh = SqliteQuotaStore(path)  # a new flusher, with the short wait
    decision = fresh.reserve("t", "byok", Decimal(3), now=NOW, call="d")
    fresh.settle(decision.reservation_id or "", Decimal(2))  # nothing else written: the flusher
    deadline = time.monotonic() + 5
    while other.spent("t", now=NOW) != 8:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    for store in (mine, other, fresh):
        store.close()


def test_a_process_that_exits_right_after_a_settlement_stores_it(tmp_path: Path) -> None:
    """The CLI runs a graph and exits: its last calls' deferred settlements are stored at exit."""
    path = tmp_path / "q.sqlite3"
    script = (
        "import sys\nfrom datetime import UTC, datetime\nfrom decimal import Decimal\n"
        "from pathlib import Path\n"
        "from convergio import _sqlite; _sqlite.DEFER_S = 60.0\n"
        "from convergio.quotas import SqliteQuotaStore\n"
        "store = SqliteQuotaStore(Path(sys.argv[1]))\n"
        "now = datetime(2026, 11, 24, 12, tzinfo=UTC)\n"
        "decision = store.reserve('t', 'byok', Decimal(6), now=now, call='c')\n"
        "store.settle(decision.reservation_id, Decimal(1))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    store = SqliteQuotaStore(path)
    assert store.spent("t", now=NOW) == 1
    store.close()
