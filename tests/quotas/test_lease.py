"""Budget leases of the SQLite quota store (ADR 0037): calls admitted in memory, never past a
limit across processes, a killed holder's lease counted and not waited for, a re-sent call
settled once, a lowered limit binding the next admission, the managed-key downgrade threshold,
and running totals that always equal the rows they sum."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from convergio.metering import PriceTable, cost_of
from convergio.providers import Usage
from convergio.quotas import SpendGuard, SqliteQuotaStore, TenantBudget
from convergio.quotas import _lease as lease_module
from convergio.quotas._lease_step import LEASE_SHARE, Lease
from tests._helpers import ROOT
from tests.metering._batching import statements

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ONE = Decimal(1)


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "q.sqlite3"


def _rows_sum(path: Path) -> dict[tuple[str, str, str], Decimal]:
    """The month totals recomputed from every ``spending`` row (leases' rows included)."""
    db = sqlite3.connect(path)
    try:
        sums: dict[tuple[str, str, str], Decimal] = {}
        for tenant_id, month, key_mode, value in db.execute(
            "SELECT tenant_id, month, key_mode, COALESCE(spent, reserved) FROM spending"
        ):
            key = (tenant_id, month, key_mode)
            sums[key] = sums.get(key, Decimal(0)) + Decimal(value)
        totals = {(t, m, k): Decimal(v) for t, m, k, v in db.execute("SELECT * FROM totals")}
    finally:
        db.close()
    assert {k: v for k, v in totals.items() if v} == {k: v for k, v in sums.items() if v}
    return totals


def _core(lease: Lease) -> tuple[object, ...]:
    """What a rolled-back transaction must leave as it was (not whether it drew since a write)."""
    return (lease.hold, lease.free, lease.open, lease.pending, lease.live)


def _write(store: SqliteQuotaStore) -> None:
    """Write the settlements its leases keep in memory now."""
    assert store._leases is not None
    store._leases.write()


def _leases_taken(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM leases").fetchone()[0])
    finally:
        db.close()


def test_calls_far_from_the_limits_are_admitted_in_memory(path: Path) -> None:
    store = SqliteQuotaStore(path)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(1000)))
    first = store.reserve("t", "byok", ONE, now=NOW, call="c0")  # the step: one transaction
    with statements(store._db) as seen:
        decisions = [store.reserve("t", "byok", ONE, now=NOW, call=f"c{n}") for n in range(1, 8)]
        for decision in [first, *decisions]:
            store.settle(decision.reservation_id or "", Decimal("0.25"))
    assert all(d.allowed and d.reserved == ONE for d in decisions)
    # no transaction; one read by the writer's connection, the first since the step's commit: the
    # others learn that nothing was committed since without a statement (ADR 0063)
    assert seen == ["PRAGMA data_version"]
    assert store.spent("t", now=NOW) == 2  # its own view: exact
    _write(store)  # (its lease writer would, within LEASE_WRITE_S)
    other = SqliteQuotaStore(path, leases=False)
    assert other.spent("t", now=NOW) == 2 + 16 - 7  # another's: the undrawn step counts in full
    store.close()  # a normal close gives it back
    assert other.spent("t", now=NOW) == 2
    _rows_sum(path)


def _race(path: str, calls: int, cost: str, worker: int) -> tuple[int, str]:
    """One process: ``calls`` reservations of 1 EUR settled at ``cost``; what it was granted."""
    store = SqliteQuotaStore(Path(path))
    granted = 0
    settled = Decimal(0)
    for n in range(calls):
        decision = store.reserve("t", "byok", ONE, now=NOW, call=f"{worker}/{n}")
        if decision.allowed:
            granted += 1
            settled += Decimal(cost)
            store.settle(decision.reservation_id or "", Decimal(cost))
    store.close()
    return granted, str(settled)


def test_leases_of_several_processes_never_pass_the_cap(path: Path) -> None:
    cap = Decimal(300)
    watcher = SqliteQuotaStore(path, leases=False)
    watcher.set_budget(TenantBudget("t", monthly_eur=cap))
    seen: list[Decimal] = []
    stop = threading.Event()

    def watch() -> None:  # what other processes see, all along: never past the cap
        while not stop.is_set():
            seen.append(watcher.spent("t", now=NOW))

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        with multiprocessing.get_context("spawn").Pool(3) as processes:
            outcomes = processes.starmap(_race, [(str(path), 150, "1", n) for n in range(3)])
    finally:
        stop.set()
        thread.join()
    granted = sum(g for g, _ in outcomes)
    assert _leases_taken(path) >= 2  # steps in more than one process, at once or one after the other
    assert max(seen) <= cap and watcher.spent("t", now=NOW) == granted <= cap
    # A step takes at most 1/LEASE_SHARE of the headroom: what each process may have left
    # undrawn when its calls ran out, while the others' calls were refused for it.
    assert granted >= cap * (1 - Decimal(3) / LEASE_SHARE), outcomes
    _rows_sum(path)


def test_settled_below_their_estimates_the_calls_use_the_cap_and_count_exactly(path: Path) -> None:
    SqliteQuotaStore(path, leases=False).set_budget(TenantBudget("t", monthly_eur=Decimal(40)))
    with multiprocessing.get_context("spawn").Pool(3) as processes:
        outcomes = processes.starmap(_race, [(str(path), 60, "0.5", n) for n in range(3)])
    settled = sum(Decimal(s) for _, s in outcomes)
    spent = SqliteQuotaStore(path, leases=False).spent("t", now=NOW)
    assert spent == settled <= 40  # every call counted once, at what it cost
    _rows_sum(path)


def test_threads_of_two_stores_never_pass_the_cap(path: Path) -> None:
    stores = [SqliteQuotaStore(path), SqliteQuotaStore(path)]
    stores[0].set_budget(TenantBudget("t", monthly_eur=Decimal(200)))
    barrier = threading.Barrier(8)

    def work(thread: int) -> Decimal:
        rng = random.Random(thread)
        store, spent = stores[thread % 2], Decimal(0)
        barrier.wait()
        for n in range(60):
            estimate = Decimal(rng.choice(["0.5", "1", "2"]))
            decision = store.reserve("t", "byok", estimate, now=NOW, call=f"{thread}/{n}")
            if decision.allowed:
                cost = estimate * Decimal(rng.choice(["0", "0.5", "1"]))
                store.settle(decision.reservation_id or "", cost)
                spent += cost
        return spent

    with ThreadPoolExecutor(8) as pool:
        spent = sum(pool.map(work, range(8)), Decimal(0))
    for store in stores:
        store.close()
    assert SqliteQuotaStore(path, leases=False).spent("t", now=NOW) == spent <= 200
    _rows_sum(path)


_KILLED = """
import os, signal, sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from convergio import _sqlite; _sqlite.DEFER_S = 60.0
from convergio.quotas import _lease; _lease.LEASE_S = 0.5
from convergio.quotas import SqliteQuotaStore
store = SqliteQuotaStore(Path(sys.argv[1]))
now = datetime(2026, 11, 24, 12, tzinfo=UTC)
calls = [store.reserve("t", "byok", Decimal(1), now=now, call=f"k{n}") for n in range(10)]
for decision in calls[:5]:
    store.settle(decision.reservation_id, Decimal("0.5"))
store._leases.write()  # its settlements written
for decision in calls[5:7]:
    store.settle(decision.reservation_id, Decimal("0.5"))  # not written: lost with the process
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_holders_lease_stays_counted_and_is_not_waited_for(path: Path) -> None:
    SqliteQuotaStore(path, leases=False).set_budget(TenantBudget("t", monthly_eur=Decimal(1000)))
    done = subprocess.run([sys.executable, "-c", _KILLED, str(path)], timeout=60, check=False)
    assert done.returncode == -9
    other = SqliteQuotaStore(path, leases=False)
    written = Decimal("2.5")  # five calls settled at 0.5 and written
    drawn = 5  # the other five: two settled in memory, three in flight
    spent = other.spent("t", now=NOW)
    assert spent >= written + drawn  # never below what may have been spent
    assert spent == written + drawn + 16 - 9  # and the undrawn part of its step more (16, 9 drawn)
    time.sleep(0.6)  # its lease expires (LEASE_S = 0.5 in that process)
    assert other.room("t", "byok", now=NOW).held == 0  # no refused call waits for it
    assert other.spent("t", now=NOW) == spent  # still counted
    _rows_sum(path)


def test_a_call_re_sent_to_another_process_is_settled_once(path: Path) -> None:
    first, second = SqliteQuotaStore(path), SqliteQuotaStore(path)
    for store in (first, second):  # each holds a lease
        store.reserve("t", "byok", ONE, now=NOW, call=f"warm/{id(store)}")
    a = first.reserve("t", "byok", ONE, now=NOW, call="x")
    b = second.reserve("t", "byok", ONE, now=NOW, call="x")  # not written anywhere yet: admitted again
    assert a.reservation_id == b.reservation_id and a.allowed and b.allowed
    second.settle(b.reservation_id or "", Decimal("0.25"))
    _write(second)  # written: the first settlement
    first.settle(a.reservation_id or "", Decimal("0.25"))  # the same call: goes back to its lease
    first.close()
    second.close()
    store = SqliteQuotaStore(path, leases=False)
    assert store.spent("t", now=NOW) == Decimal(2) + Decimal("0.25")  # the warm-ups still open
    _rows_sum(path)


def test_a_redelivered_call_in_the_same_process_is_admitted_once(path: Path) -> None:
    store = SqliteQuotaStore(path)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(100)))
    first = store.reserve("t", "byok", Decimal(2), now=NOW, call="x")
    again = store.reserve("t", "byok", Decimal(5), now=NOW, call="x")
    assert again.reservation_id == first.reservation_id and again.reserved == 2
    store.settle(first.reservation_id or "", ONE)
    store.settle(first.reservation_id or "", Decimal(2))  # once
    assert store.spent("t", now=NOW) == 1
    store.close()
    assert SqliteQuotaStore(path, leases=False).spent("t", now=NOW) == 1


LOWER = """
import sys
from decimal import Decimal
from pathlib import Path
from convergio.quotas import SqliteQuotaStore, TenantBudget
SqliteQuotaStore(Path(sys.argv[1]), leases=False).set_budget(TenantBudget("t", monthly_eur=Decimal(5)))
"""


@pytest.mark.parametrize("where", ["another process", "another store", "this store"])
def test_a_lowered_limit_binds_the_next_admission(path: Path, where: str) -> None:
    """Whoever lowers it, another OS process included, the next admission sees the commit."""
    store = SqliteQuotaStore(path)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(1000)))
    for n in range(3):
        assert store.reserve("t", "byok", ONE, now=NOW, call=f"a{n}").allowed  # 14 EUR free in the step
    if where == "another process":
        subprocess.run([sys.executable, "-c", LOWER, str(path)], cwd=ROOT, check=True, timeout=120)
    else:
        setter = SqliteQuotaStore(path, leases=False) if where == "another store" else store
        setter.set_budget(TenantBudget("t", monthly_eur=Decimal(5)))
    granted = [store.reserve("t", "byok", ONE, now=NOW, call=f"b{n}").allowed for n in range(4)]
    assert granted == [True, True, False, False]  # 3 + 2 of 5: as reservations of their own
    assert SqliteQuotaStore(path, leases=False).spent("t", now=NOW) == 5
    store.close()
    _rows_sum(path)


def _first_downgrade(store: SqliteQuotaStore, calls: int) -> int:
    for n in range(calls):
        decision = store.reserve("t", "managed", Decimal("0.1"), now=NOW, call=f"m{n}")
        assert decision.allowed
        store.settle(decision.reservation_id or "", Decimal("0.1"))
        if decision.downgrade:
            return n
    raise AssertionError("never downgraded")


def test_the_managed_downgrade_comes_where_it_comes_without_leases(tmp_path: Path) -> None:
    firsts = []
    for leases in (False, True):
        store = SqliteQuotaStore(tmp_path / f"{leases}.sqlite3", leases=leases)
        store.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal(10)))
        firsts.append(_first_downgrade(store, 100))
        assert store.spent("t", now=NOW) == Decimal("0.1") * (firsts[-1] + 1)
        store.close()
    assert firsts == [80, 80]  # at 8 EUR used: 80 % of the cap


def test_another_processes_lease_brings_the_downgrade_early_never_late(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_module, "LEASE_WRITE_S", 60.0)  # it keeps its step while the test runs
    other = SqliteQuotaStore(path)
    other.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal(10)))
    assert other.reserve("t", "managed", Decimal("0.1"), now=NOW, call="o").allowed  # it holds a step
    held = SqliteQuotaStore(path, leases=False).spent("t", now=NOW)
    assert held > Decimal("0.1")
    first = _first_downgrade(SqliteQuotaStore(path), 100)
    assert Decimal("0.1") * first + held >= 8 > Decimal("0.1") * (first - 1) + held  # counted in full
    other.close()


def test_a_failed_operation_in_a_lease_step_leaves_memory_as_the_file(path: Path) -> None:
    store = SqliteQuotaStore(path)
    leases = store._leases
    assert leases is not None
    a = store.reserve("t", "byok", ONE, now=NOW, call="a").reservation_id or ""
    before = leases._by_month["t", "2026-11", "byok"].state()

    def step_then_fail(batch: object) -> None:
        leases.reserve(batch, "z", "t", "byok", Decimal(50), NOW)  # type: ignore[arg-type]  # a new step
        raise RuntimeError("fails after the step")

    with pytest.raises(RuntimeError):
        store._db.batch_write(step_then_fail)
    assert leases._index.keys() == {a} and _core(leases._by_month["t", "2026-11", "byok"]) == _core(before)
    store.settle(a, Decimal("0.5"))
    assert store.spent("t", now=NOW) == Decimal("0.5")
    store.close()
    assert SqliteQuotaStore(path, leases=False).spent("t", now=NOW) == Decimal("0.5")
    _rows_sum(path)


def test_an_idle_lease_is_given_back(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lease_module, "LEASE_WRITE_S", 0.01)
    monkeypatch.setattr(lease_module, "LEASE_IDLE_S", 0.05)
    store = SqliteQuotaStore(path)
    decision = store.reserve("t", "byok", ONE, now=NOW, call="a")
    store.settle(decision.reservation_id or "", Decimal("0.5"))
    other = SqliteQuotaStore(path, leases=False)
    deadline = threading.Event()
    for _ in range(500):
        if other.spent("t", now=NOW) == Decimal("0.5"):
            break
        deadline.wait(0.01)
    assert other.spent("t", now=NOW) == Decimal("0.5")
    assert other.room("t", "byok", now=NOW).held == 0
    store.close()


def test_a_lease_outlives_a_pause_shorter_than_its_idle_time(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work comes in bursts: a lease that drew within ``LEASE_IDLE_S`` is kept across the pause
    (the next burst draws from it, no transaction) and the writer's ticks meanwhile make none;
    past ``LEASE_IDLE_S`` without a draw it is given back (ADR 0064)."""
    monkeypatch.setattr(lease_module, "LEASE_WRITE_S", 0.01)
    monkeypatch.setattr(lease_module, "LEASE_IDLE_S", 0.5)
    store = SqliteQuotaStore(path)
    first = store.reserve("t", "byok", ONE, now=NOW, call="c0")
    store.settle(first.reservation_id or "", ONE)
    time.sleep(0.1)  # the writer has written the settlement by now
    with statements(store._db) as seen:
        time.sleep(0.15)  # idle ticks: nothing to write
        assert seen == []
        after_pause = store.reserve("t", "byok", ONE, now=NOW, call="c1")  # from the kept lease
    assert after_pause.allowed and seen in ([], ["PRAGMA data_version"])
    assert not any(statement.startswith(("BEGIN", "INSERT", "UPDATE")) for statement in seen)
    store.settle(after_pause.reservation_id or "", ONE)
    other = SqliteQuotaStore(path, leases=False)
    deadline = time.monotonic() + 10
    while other.room("t", "byok", now=NOW).held and time.monotonic() < deadline:
        time.sleep(0.02)
    assert other.room("t", "byok", now=NOW).held == 0  # given back once idle
    assert other.spent("t", now=NOW) == 2
    store.close()
    _rows_sum(path)


def test_allowances_of_three_stores_racing_to_a_cap_with_leases(path: Path) -> None:
    """The allowance's race (``test_allowance.py``) with calls small enough for steps: a refused
    call waits for the others' leases as for open reservations, and the cap holds exactly."""
    prices = PriceTable.load()
    cap = Decimal("0.30")
    stores = [SqliteQuotaStore(path) for _ in range(3)]
    stores[0].set_budget(TenantBudget("t", monthly_eur=cap))
    start = threading.Barrier(24)

    def call(thread: int) -> Decimal:
        billed = Decimal(0)
        start.wait()
        for n in range(10):
            allowance = SpendGuard(stores[thread % 3], prices).allowance(
                "t", call=f"{thread}/{n}", key_mode="byok", provider="openai", wait_s=2.0
            )
            allowed = allowance.allow(model="gpt-4o", prompt_tokens=100, want=200, used=Usage())
            cost = cost_of(100, prices.price("openai", "gpt-4o", "input_tokens")) + cost_of(
                allowed.max_tokens, prices.price("openai", "gpt-4o", "output_tokens")
            )
            billed += allowance.settle(cost if allowed.max_tokens else Decimal(0))
        return billed

    with ThreadPoolExecutor(24) as pool:
        billed = sum(pool.map(call, range(24)), Decimal(0))
    leased = _leases_taken(path)
    for store in stores:
        store.close()
    spent = SqliteQuotaStore(path, leases=False).spent("t", now=datetime.now(UTC))
    assert leased >= 1 and spent == billed <= cap  # 240 calls of 0.00225 EUR asked for 0.54
    assert billed >= cap * Decimal("0.9")
    _rows_sum(path)


def test_a_settlement_above_its_estimate_counts_before_the_next_admission(path: Path) -> None:
    """A settlement is queued without a lock; one that raises the total (a provider that passed
    ``max_tokens``, settled raw) is taken in at once, so the next draw in memory sees it."""
    store = SqliteQuotaStore(path)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(100)))
    first = store.reserve("t", "byok", ONE, now=NOW, call="a")  # a step of 16 EUR
    store.settle(first.reservation_id or "", Decimal(90))
    granted = [
        store.reserve("t", "byok", amount, now=NOW).allowed for amount in (ONE, Decimal(9), Decimal("0.01"))
    ]
    assert granted == [True, True, False]  # 90 + 1 + 9 of 100: as reservations of their own
    store.close()
    assert SqliteQuotaStore(path, leases=False).spent("t", now=NOW) == 100
    _rows_sum(path)


def test_a_lease_settles_another_deliverys_row_in_full_above_its_reservation(path: Path) -> None:
    """A call drawn from this process's lease and reserved again on its own by another process
    (a redelivery) is settled by the first settlement, an overrun in full (ADR 0051), recorded."""
    store, other = SqliteQuotaStore(path), SqliteQuotaStore(path, leases=False)
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(100)))
    drawn = store.reserve("t", "byok", ONE, now=NOW, call="x")  # a step of 16 EUR, in memory
    again = other.reserve("t", "byok", Decimal(2), now=NOW, call="x")  # its row: 2 EUR reserved
    assert drawn.reservation_id == again.reservation_id and again.reserved == 2
    store.settle(drawn.reservation_id or "", Decimal(5), called="connection 'gpt' (openai), model gpt-4o")
    _write(store)
    other.settle(again.reservation_id or "", Decimal(1))  # settled already: changes nothing
    store.close()
    assert other.spent("t", now=NOW) == 5
    (event,) = other.events("t")
    assert event["kind"] == "overrun" and "billed 5 EUR, over the 2 EUR it reserved" in event["detail"]
    _rows_sum(path)
