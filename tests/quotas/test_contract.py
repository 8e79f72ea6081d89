"""The quota store's contract, for both adapters (SQLite, and Cosmos DB on the emulator): limits,
settlements, redeliveries, managed-key guard rails, and parallel instances that never overspend."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from convergio.metering import PriceTable
from convergio.quotas import QuotaStore, Room, SpendGuard, TenantBudget
from tests.quotas.conftest import OpenStore

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
NEXT_MONTH = datetime(2026, 12, 1, tzinfo=UTC)


def test_it_is_a_quota_store(store: QuotaStore) -> None:
    assert isinstance(store, QuotaStore)


def test_new_tenants_are_byok_without_limit_and_managed_keys_are_off(store: QuotaStore) -> None:
    assert store.budget("t") == TenantBudget("t")
    assert store.reserve("t", "byok", Decimal("1000"), now=NOW).allowed
    refused = store.reserve("t", "managed", Decimal("0.01"), now=NOW)
    assert not refused.allowed and "not enabled" in refused.reason and refused.reservation_id is None
    assert store.events("t") == []  # a tenant without managed keys is not throttled, just refused


def test_budgets_round_trip_and_are_per_tenant(store: QuotaStore) -> None:
    limits = TenantBudget("t", Decimal("20.5"), True, Decimal("0.00000001"))
    store.set_budget(limits)
    assert store.budget("t") == limits and store.budget("u") == TenantBudget("u")
    store.set_budget(TenantBudget("t", None, False))  # replaced whole
    assert store.budget("t") == TenantBudget("t")


def test_settling_replaces_the_estimate_by_the_real_cost(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("10")))
    first = store.reserve("t", "byok", Decimal("8"), now=NOW)
    assert not store.reserve("t", "byok", Decimal("5"), now=NOW).allowed  # 8 reserved + 5 > 10
    store.settle(first.reservation_id or "", Decimal("1.5"))  # it really cost 1.5
    assert store.reserve("t", "byok", Decimal("5"), now=NOW).allowed
    assert store.spent("t", now=NOW) == Decimal("6.5")
    assert store.spent("t", now=NEXT_MONTH) == 0
    assert store.reserve("t", "byok", Decimal("9"), now=NEXT_MONTH).allowed


def test_a_settlement_moves_the_total_once(store: QuotaStore) -> None:
    refused = store.reserve("t", "managed", Decimal("2"), now=NOW)  # managed keys are off
    open_ = store.reserve("t", "byok", Decimal("4"), now=NOW)
    done = store.reserve("t", "byok", Decimal("3"), now=NOW)
    store.settle(done.reservation_id or "", Decimal("0.25"))
    store.settle(done.reservation_id or "", Decimal("99"))  # a redelivered settlement changes nothing
    store.settle("no-such-reservation", Decimal("5"))
    store.settle(f"2026-11:{'0' * 32}:t", Decimal("5"))  # well formed, never reserved
    assert not refused.allowed and open_.allowed
    assert store.spent("t", now=NOW) == Decimal("4.25") == store.spent("t", now=NOW, key_mode="byok")
    assert store.spent("t", now=NOW, key_mode="managed") == 0


def test_a_settlement_above_its_reservation_counts_in_full_once_and_is_recorded(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(10)))
    first = store.reserve("t", "byok", Decimal(2), now=NOW, call="run/a/1/1")
    store.settle(first.reservation_id or "", Decimal(9), called="connection 'gpt' (openai), model gpt-4o")
    store.settle(first.reservation_id or "", Decimal(12))  # a redelivered settlement changes nothing
    assert store.spent("t", now=NOW) == Decimal(9) == store.spent("t", now=NOW, key_mode="byok")
    assert store.room("t", "byok", now=NOW) == Room(Decimal(1), Decimal(0))
    assert not store.reserve("t", "byok", Decimal(2), now=NOW, call="run/b/1/1").allowed
    second = store.reserve("t", "byok", Decimal(1), now=NOW, call="run/c/1/1")
    store.settle(second.reservation_id or "", Decimal(3))  # past the cap: counted, not hidden
    assert store.spent("t", now=NOW) == Decimal(12)
    assert store.room("t", "byok", now=NOW) == Room(Decimal(0), Decimal(0))
    assert not store.reserve("t", "byok", Decimal("0.01"), now=NOW, call="run/d/1/1").allowed
    overruns = [e["detail"] for e in store.events("t", limit=10) if e["kind"] == "overrun"]
    assert overruns == [
        "a call billed 3 EUR, over the 1 EUR it reserved",
        "connection 'gpt' (openai), model gpt-4o billed 9 EUR, over the 2 EUR it reserved",
    ]


def test_a_call_settled_after_the_month_turned_settles_the_month_it_was_reserved_in(
    store: QuotaStore,
) -> None:
    late = store.reserve("t", "byok", Decimal("3"), now=NOW, call="run/a/1/1")
    store.reserve("t", "byok", Decimal("1"), now=NEXT_MONTH, call="run/b/1/1")
    store.settle(late.reservation_id or "", Decimal("2"))
    assert store.spent("t", now=NOW) == 2 and store.spent("t", now=NEXT_MONTH) == 1


def test_a_redelivered_call_reuses_its_reservation_and_settles_once(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("10")))
    first = store.reserve("t", "byok", Decimal("6"), now=NOW, call="run/a/1/1")
    again = store.reserve("t", "byok", Decimal("6"), now=NOW, call="run/a/1/1")  # after a crash
    assert first.allowed and again.allowed and again.reservation_id == first.reservation_id
    assert store.spent("t", now=NOW) == Decimal("6")  # one open reservation, not two
    assert not store.reserve("t", "byok", Decimal("6"), now=NOW, call="run/b/1/1").allowed
    store.settle(first.reservation_id or "", Decimal("2"))
    assert store.reserve("t", "byok", Decimal("6"), now=NOW, call="run/a/1/1").allowed  # settled: still once
    store.settle(again.reservation_id or "", Decimal("2"))
    assert store.spent("t", now=NOW) == Decimal("2")
    other = store.reserve("u", "byok", Decimal(0), now=NOW, call="run/a/1/1")  # keys are per tenant
    assert other.reservation_id != first.reservation_id


def test_spend_before_a_monthly_budget_existed_counts_against_it(store: QuotaStore) -> None:
    early = store.reserve("t", "byok", Decimal("1"), now=NOW, call="run/a/1/1")  # no limit yet
    store.settle(early.reservation_id or "", Decimal("7"))
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("10")))  # later in the month
    assert store.spent("t", now=NOW) == Decimal("7")
    assert not store.reserve("t", "byok", Decimal("4"), now=NOW, call="run/b/1/1").allowed
    assert store.reserve("t", "byok", Decimal("3"), now=NOW, call="run/c/1/1").allowed


def test_managed_keys_downgrade_at_80_percent_and_throttle_at_the_cap_unless_consented(
    store: QuotaStore,
) -> None:
    store.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal("10")))
    guard = SpendGuard(store, PriceTable.load())
    price = guard.estimate("openai", "gpt-4o", 100_000)  # what one call reserves: 0.92 EUR
    keys = itertools.count()

    def call() -> str:
        admission = guard.admit(
            "t",
            call=f"run/node/{next(keys)}/1",
            key_mode="managed",
            provider="openai",
            model="gpt-4o",
            max_tokens=100_000,
            now=NOW,
        )
        if admission.decision.allowed:
            guard.settle(admission, price)
            return admission.model
        return admission.decision.reason

    models = [call() for _ in range(int(Decimal("10") / price))]
    assert models[0] == "gpt-4o" and models[-1] == "gpt-4o-mini"  # downgraded past 80% of the cap
    first_cheap = models.index("gpt-4o-mini")
    assert first_cheap * price >= Decimal("8") > (first_cheap - 1) * price
    assert call().startswith("budget_exhausted")  # throttled at 100%
    assert store.consented("t", now=NOW) == 0
    store.consent("t", Decimal("2"), now=NOW)
    assert call() == "gpt-4o-mini"  # explicit consent: overage allowed, still downgraded
    kinds = [e["kind"] for e in store.events("t", limit=500)]
    assert {"downgrade", "throttle", "consent"} <= set(kinds)
    assert store.consented("t", now=NOW) == Decimal("2") and store.consented("t", now=NEXT_MONTH) == 0
    assert store.spent("t", now=NOW, key_mode="managed") == price * (len(models) + 1)
    with pytest.raises(ValueError, match="amount_eur"):
        store.consent("t", Decimal(-1), now=NOW)


def test_a_redelivered_managed_call_is_downgraded_as_by_what_the_others_used(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal("10")))
    first = store.reserve("t", "managed", Decimal("7"), now=NOW, call="a")
    assert first.allowed and not first.downgrade
    assert store.reserve("t", "managed", Decimal("1.5"), now=NOW, call="b").downgrade is False  # 7 < 8
    assert store.reserve("t", "managed", Decimal("1"), now=NOW, call="c").downgrade  # 8.5 >= 8
    again = store.reserve("t", "managed", Decimal("7"), now=NOW, call="a")  # the others: 2.5 < 8
    assert again.allowed and not again.downgrade and again.reservation_id == first.reservation_id


def test_events_are_newest_first_and_limited(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(0)))
    for minute in range(3):
        store.reserve("t", "byok", Decimal(1), now=NOW.replace(minute=minute))
    store.consent("t", Decimal(1), now=NOW.replace(minute=5))
    events = store.events("t", limit=3)
    assert [e["kind"] for e in events] == ["consent", "throttle", "throttle"]
    assert events[0]["at"] == NOW.replace(minute=5).isoformat() and events[1]["at"] > events[2]["at"]
    assert events[1]["detail"] == "monthly budget 0 EUR reached"
    assert store.events("u") == []


def test_another_instance_sees_each_change_at_once(open_store: OpenStore) -> None:
    mine, other = open_store(), open_store()
    assert mine.reserve("t", "byok", Decimal(3), now=NOW).allowed  # no limit yet
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
    other.settle(open_.reservation_id or "", Decimal(0))  # settled by the other instance
    assert other.spent("t", now=NOW) >= Decimal("6.5")  # its own reads see it (and it is stored)
    mine.settle(open_.reservation_id or "", Decimal(4))  # ... so this changes nothing
    # Another instance's budget lease (SQLite, ADR 0037) counts in full until it is given back,
    # which an idle instance does within a few DEFER_S: the view is an upper bound until then.
    _eventually(lambda: mine.spent("t", now=NOW, key_mode="byok"), Decimal(5))
    _eventually(lambda: other.spent("t", now=NOW), Decimal("6.5"))


def _eventually(read: Callable[[], Decimal], expected: Decimal, timeout: float = 5.0) -> None:
    """``read()`` comes down to ``expected`` within ``timeout``, never below it on the way."""
    deadline = time.monotonic() + timeout
    while (seen := read()) != expected:
        assert seen > expected and time.monotonic() < deadline, (seen, expected)
        time.sleep(0.01)


def test_thirty_parallel_calls_from_two_instances_never_pass_the_cap_and_settle_exactly(
    open_store: OpenStore,
) -> None:
    instances = [open_store(), open_store()]
    instances[0].set_budget(TenantBudget("t", monthly_eur=Decimal(20)))
    reserving, settling = threading.Barrier(30), threading.Barrier(20)

    def reserve(n: int) -> str | None:
        reserving.wait()
        decision = instances[n % 2].reserve("t", "byok", Decimal(1), now=NOW, call=f"call-{n}")
        return decision.reservation_id if decision.allowed else None

    def settle(n: int, reservation: str) -> None:
        settling.wait()
        instances[n % 2].settle(reservation, Decimal("0.75"))
        instances[1 - n % 2].settle(reservation, Decimal("0.75"))  # redelivered to the other instance

    with ThreadPoolExecutor(30) as pool:
        admitted = [r for r in pool.map(reserve, range(30)) if r is not None]
        assert len(admitted) == 20 and instances[1].spent("t", now=NOW) == 20  # exactly the cap
        list(pool.map(settle, range(20), admitted))
    assert instances[0].spent("t", now=NOW) == Decimal("15")  # 20 x 0.75: each settled once
    assert [e["kind"] for e in instances[1].events("t", limit=50)] == ["throttle"] * 10
    assert instances[1].reserve("t", "byok", Decimal(5), now=NOW).allowed
    assert not instances[0].reserve("t", "byok", Decimal("0.01"), now=NOW).allowed
