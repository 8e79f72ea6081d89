"""Tenant-month budgets and managed keys: parallel overspend impossible, downgrade, throttle, consent."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from convergio.metering import PriceTable
from convergio.quotas import QuotaStore, SpendGuard, TenantBudget, cheaper_model

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_new_tenants_are_byok_without_limit_and_managed_keys_are_off(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "q.sqlite3")
    assert store.budget("t") == TenantBudget("t")
    assert store.reserve("t", "byok", Decimal("1000"), now=NOW).allowed
    refused = store.reserve("t", "managed", Decimal("0.01"), now=NOW)
    assert not refused.allowed and "not enabled" in refused.reason


def _reserve_many(path: str, count: int) -> int:
    store = QuotaStore(Path(path))
    return sum(store.reserve("t", "byok", Decimal("1"), now=NOW).allowed for _ in range(count))


def test_parallel_reservations_never_pass_the_monthly_budget(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    QuotaStore(path).set_budget(TenantBudget("t", monthly_eur=Decimal("37")))
    with ThreadPoolExecutor(16) as pool:
        threads = sum(pool.map(lambda _: _reserve_many(str(path), 5), range(8)))
    with multiprocessing.get_context("spawn").Pool(3) as processes:
        others = sum(processes.starmap(_reserve_many, [(str(path), 10)] * 3))
    assert threads + others == 37  # 70 asked for, exactly the budget granted
    assert QuotaStore(path).spent("t", now=NOW) == Decimal("37")
    events = QuotaStore(path).events("t", limit=100)
    assert {e["kind"] for e in events} == {"throttle"} and len(events) == 70 - 37


def test_settling_replaces_the_estimate_by_the_real_cost(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "q.sqlite3")
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("10")))
    first = store.reserve("t", "byok", Decimal("8"), now=NOW)
    assert not store.reserve("t", "byok", Decimal("5"), now=NOW).allowed  # 8 reserved + 5 > 10
    store.settle(first.reservation_id or "", Decimal("1.5"))  # it really cost 1.5
    assert store.reserve("t", "byok", Decimal("5"), now=NOW).allowed
    assert store.spent("t", now=NOW) == Decimal("6.5")
    next_month = datetime(2026, 12, 1, tzinfo=UTC)
    assert (
        store.spent("t", now=next_month) == 0
        and store.reserve("t", "byok", Decimal("9"), now=next_month).allowed
    )


def test_managed_keys_downgrade_at_80_percent_and_throttle_at_the_cap_unless_consented(
    tmp_path: Path,
) -> None:
    store = QuotaStore(tmp_path / "q.sqlite3")
    store.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal("10")))
    guard = SpendGuard(store, PriceTable.load())
    price = guard.estimate("openai", "gpt-4o", 1000)  # what one call reserves
    keys = itertools.count()

    def call() -> str:
        admission = guard.admit(
            "t",
            call=f"run/node/{next(keys)}/1",
            key_mode="managed",
            provider="openai",
            model="gpt-4o",
            max_tokens=1000,
            now=NOW,
        )
        if admission.decision.allowed:
            guard.settle(admission, price)
            return admission.model
        return admission.decision.reason

    calls = int(Decimal("10") / price)
    models = [call() for _ in range(calls)]
    assert models[0] == "gpt-4o" and models[-1] == "gpt-4o-mini"  # downgraded past 80% of the cap
    first_cheap = models.index("gpt-4o-mini")
    assert first_cheap * price >= Decimal("8") > (first_cheap - 1) * price
    assert call().startswith("budget_exhausted")  # throttled at 100%
    store.consent("t", Decimal("2"), now=NOW)
    assert call() == "gpt-4o-mini"  # explicit consent: overage allowed, still downgraded
    kinds = [e["kind"] for e in store.events("t", limit=500)]
    assert {"downgrade", "throttle", "consent"} <= set(kinds)
    assert store.consented("t", now=NOW) == Decimal("2")


def test_downgrades_are_data() -> None:
    assert cheaper_model("anthropic", "claude-sonnet-4-0") == "claude-3-5-haiku-latest"
    assert cheaper_model("openai", "gpt-4o-mini") is None


def test_a_settlement_moves_the_total_once_and_a_store_from_before_totals_is_backfilled(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.sqlite3"
    store = QuotaStore(path)
    first = store.reserve("t", "managed", Decimal("2"), now=NOW)  # refused: managed keys are off
    open_ = store.reserve("t", "byok", Decimal("4"), now=NOW)
    done = store.reserve("t", "byok", Decimal("3"), now=NOW)
    store.settle(done.reservation_id or "", Decimal("0.25"))
    store.settle(done.reservation_id or "", Decimal("99"))  # a redelivered settlement changes nothing
    store.settle("no-such-reservation", Decimal("5"))
    assert not first.allowed and open_.allowed
    assert store.spent("t", now=NOW) == Decimal("4.25")
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE totals")  # as a store written before running totals existed
    db.commit()
    db.close()
    assert QuotaStore(path).spent("t", now=NOW, key_mode="byok") == Decimal("4.25")


def test_a_redelivered_call_reuses_its_reservation_and_settles_once(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "q.sqlite3")
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


def test_spend_before_a_monthly_budget_existed_counts_against_it(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "q.sqlite3")
    early = store.reserve("t", "byok", Decimal("1"), now=NOW, call="run/a/1/1")  # no limit yet
    store.settle(early.reservation_id or "", Decimal("7"))
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("10")))  # later in the month
    assert store.spent("t", now=NOW) == Decimal("7")
    assert not store.reserve("t", "byok", Decimal("4"), now=NOW, call="run/b/1/1").allowed
    assert store.reserve("t", "byok", Decimal("3"), now=NOW, call="run/c/1/1").allowed
