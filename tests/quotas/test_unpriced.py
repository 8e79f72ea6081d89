"""An unpriced model under a cap (issue 19.6): refused by default with how to fix it, allowed when
the operator says so, and untouched for a tenant without a cap; connection prices bound it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from convergio.metering import PriceTable
from convergio.providers import Usage
from convergio.quotas import MonthlyAllowance, QuotaStore, SpendGuard, TenantBudget, UnpricedPolicy

PRICES = PriceTable.load()


def _allowance(
    store: QuotaStore, policy: UnpricedPolicy = "refuse", prices: PriceTable | None = None
) -> MonthlyAllowance:
    return SpendGuard(store, PRICES).allowance(
        "t",
        call="run/a/0/1",
        key_mode="byok",
        provider="openai-compatible",
        wait_s=0,
        prices=prices,
        unpriced=policy,
        connection="local-llm",
    )


def _ask(allowance: MonthlyAllowance) -> int:
    return allowance.allow(model="llama3", prompt_tokens=100, want=4096, used=Usage()).max_tokens


def test_under_a_cap_an_unpriced_model_is_refused_naming_the_connection_and_the_fix(
    store: QuotaStore,
) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("1")))
    allowance = _allowance(store)
    allowed = allowance.allow(model="llama3", prompt_tokens=100, want=4096, used=Usage())
    assert allowed.max_tokens == 0
    assert "'local-llm'" in allowed.reason and "'llama3'" in allowed.reason and "no price" in allowed.reason
    assert "prices" in allowed.reason and "CONVERGIO_UNPRICED_UNDER_CAP=allow" in allowed.reason
    again = allowance.allow(model="llama3", prompt_tokens=100, want=4096, used=Usage(10, 10))
    assert again.max_tokens == 0 and again.reason == allowed.reason
    allowance.settle(Decimal(0))  # nothing was reserved: nothing to settle
    assert store.spent("t", now=datetime.now(UTC)) == 0


def test_the_operator_may_allow_unpriced_calls_under_a_cap(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("1")))
    assert _ask(_allowance(store, "allow")) == 4096


def test_a_tenant_without_a_cap_is_unaffected(store: QuotaStore) -> None:
    assert _ask(_allowance(store)) == 4096


def test_with_connection_prices_the_call_is_bounded_by_the_cap(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("0.002")))
    own = PRICES.with_connection(
        "openai-compatible", {"input_tokens": "0.000001", "output_tokens": "0.000001"}
    )
    assert _ask(_allowance(store, prices=own)) == 1900  # (0.002 - 100 * 1e-6) / 1e-6
    assert store.spent("t", now=datetime.now(UTC)) == Decimal("0.002")
