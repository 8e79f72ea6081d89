"""Quota reservations in group-commit batches: a few statements per batch, a cache that follows
other connections' commits (``data_version``) and rollbacks, redeliveries inside one batch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from convergio.quotas import Decision, SqliteQuotaStore, TenantBudget
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
    tmp_path: Path,
) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3")
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("1000")))
    store.reserve("t", "byok", Decimal(1), now=NOW)  # the month is read once, then cached
    with statements(store._db) as seen:
        decisions = [
            f.result() for f in in_one_batch(store._db, [_reserve(store, "2", f"c{n}") for n in range(64)])
        ]
    assert all(d.allowed for d in decisions) and len({d.reservation_id for d in decisions}) == 64
    assert len(seen) == 2 + 5  # the holder's BEGIN, COMMIT; BEGIN, SELECT, 2 x INSERT, COMMIT
    settle = [lambda d=d: store.settle(d.reservation_id or "", Decimal("0.5")) for d in decisions]
    with statements(store._db) as seen:
        in_one_batch(store._db, settle)
    assert len(seen) == 2 + 5
    assert store.spent("t", now=NOW) == 1 + 32


def test_free_running_threads_cost_a_bounded_number_of_statements_per_batch(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3")
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
    mine, other = SqliteQuotaStore(path), SqliteQuotaStore(path)
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
    granted, settled = (sum(column) for column in zip(*outcomes, strict=True))
    spent = SqliteQuotaStore(path).spent("t", now=NOW)
    assert spent == granted - Decimal("0.5") * settled  # every move counted once, by either store
    assert 49 - Decimal("0.5") * settled < spent <= 50 < granted  # refused only when full, never past


def test_a_failed_operation_in_a_batch_leaves_the_cache_as_the_file(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3")
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(10)))
    first = store.reserve("t", "byok", Decimal(1), now=NOW)
    bad = lambda: store.settle(first.reservation_id or "", 0.5)  # type: ignore[arg-type]  # noqa: E731
    futures = in_one_batch(store._db, [_reserve(store, "4", "a"), bad, _reserve(store, "4", "b")])
    assert isinstance(futures[1].exception(), TypeError)  # a float: its caller's error alone
    assert futures[0].result().allowed and futures[2].result().allowed
    assert store.spent("t", now=NOW) == 9  # the batch ran again without it: each counted once
    assert store.reserve("t", "byok", Decimal(1), now=NOW).allowed
    assert not store.reserve("t", "byok", Decimal("0.01"), now=NOW).allowed


def test_redeliveries_and_settlements_inside_one_batch(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite3")
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(10)))
    x = _reservation_id(tmp_path, "t", "x")
    futures = in_one_batch(
        store._db,
        [
            _reserve(store, "6", "x"),
            _reserve(store, "6", "x"),  # delivered twice: one reservation
            lambda: store.settle(x, Decimal(2)),  # settles what this batch reserved
            lambda: store.settle(x, Decimal(99)),  # once
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
