"""A tenant's monthly cap holds exactly under a race of calls, and is used to the last cents
(ADR 0016); a provider that bills past its bound passes it only by those overruns, then every
call is refused (ADR 0051): on both adapters, SQLite and Cosmos DB on the emulator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from convergio.metering import PriceTable, cost_of
from convergio.providers import Usage
from convergio.quotas import MIN_OUTPUT_TOKENS, MonthlyAllowance, QuotaStore, SpendGuard, TenantBudget
from tests.quotas.conftest import OpenStore

PRICES = PriceTable.load()
IN, OUT = (PRICES.price("openai", "gpt-4o", unit) for unit in ("input_tokens", "output_tokens"))
CAP = Decimal("1.50")
PROMPT_BOUND, PROMPT_REAL = 400, 120  # the bytes bound of a prompt, and what the provider counts


def _allowance(store: QuotaStore, call: str, wait_s: float = 5.0) -> MonthlyAllowance:
    return SpendGuard(store, PRICES).allowance(
        "t", call=call, key_mode="byok", provider="openai", wait_s=wait_s
    )


def _cost(prompt: int, output: int) -> Decimal:
    return cost_of(prompt, IN) + cost_of(output, OUT)


def _race(
    open_store: OpenStore, writes: int | None
) -> tuple[list[Decimal], list[Decimal], list[Decimal], QuotaStore]:
    """30 calls at once, each asking for gpt-4o's whole output limit; the model writes every token
    it is allowed (``writes=None``) or ``writes`` tokens whatever it was allowed. Per call: what
    it billed, what was settled and what it reserved."""
    stores = [open_store() for _ in range(3)]  # three processes or instances on one state
    stores[0].set_budget(TenantBudget("t", monthly_eur=CAP))
    start = threading.Barrier(30)

    def call(n: int) -> tuple[Decimal, Decimal, Decimal]:
        allowance = _allowance(stores[n % 3], f"run-{n}/a/0/1")
        start.wait()
        allowed = allowance.allow(model="gpt-4o", prompt_tokens=PROMPT_BOUND, want=16384, used=Usage())
        if not allowed.max_tokens:
            allowance.settle(Decimal(0))
            return Decimal(0), Decimal(0), Decimal(0)
        time.sleep(0.05)  # the provider at work
        billed = _cost(PROMPT_REAL, allowed.max_tokens if writes is None else writes)
        reserved = allowance.decision.reserved if allowance.decision else Decimal(0)
        return billed, allowance.settle(billed), reserved

    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(call, range(30)))
    return [b for b, _, _ in results], [s for _, s, _ in results], [r for _, _, r in results], stores[0]


def test_thirty_calls_at_once_never_pass_the_cap_and_use_nearly_all_of_it(open_store: OpenStore) -> None:
    billed, settled, _, store = _race(open_store, writes=None)
    assert billed == settled
    assert sum(billed) <= CAP  # exactly: not a cent over
    assert sum(billed) >= CAP * Decimal("0.9")  # waiting and shrinking instead of refusing early
    assert store.spent("t", now=datetime.now(UTC)) == sum(billed)


def test_a_provider_that_ignores_max_tokens_is_settled_at_what_it_billed_then_refused(
    open_store: OpenStore,
) -> None:
    billed, settled, reserved, store = _race(open_store, writes=16_000)
    assert billed == settled  # the budget counts what the ledger kept, above the reservation too
    assert store.spent("t", now=datetime.now(UTC)) == sum(billed)
    overruns = sum((b - r for b, r in zip(billed, reserved, strict=True) if b > r), Decimal(0))
    assert CAP < sum(billed) <= CAP + overruns  # past the cap only by the admitted calls' overruns
    later = _allowance(store, "later", wait_s=0)
    refused = later.allow(model="gpt-4o", prompt_tokens=PROMPT_BOUND, want=16384, used=Usage())
    assert refused.max_tokens == 0 and refused.reason.startswith("budget_exhausted")


def test_a_refused_call_waits_for_open_reservations_then_gets_what_they_gave_back(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("0.2")))
    first = _allowance(store, "a")
    assert first.allow(model="gpt-4o", prompt_tokens=100, want=16384, used=Usage()).max_tokens == 16384

    def later() -> None:
        time.sleep(0.3)
        first.settle(_cost(100, 50))  # it used little of what it reserved

    threading.Thread(target=later).start()
    second = _allowance(store, "b").allow(model="gpt-4o", prompt_tokens=100, want=16384, used=Usage())
    assert second.max_tokens == 16384  # not refused while the tenant sat far below its cap


def test_with_nothing_open_a_call_shrinks_to_what_is_left_or_is_refused(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("0.01")))
    small = _allowance(store, "a", wait_s=0).allow(
        model="gpt-4o", prompt_tokens=100, want=16384, used=Usage()
    )
    assert small.max_tokens == int((Decimal("0.01") - 100 * IN) / OUT) < 16384
    refused = _allowance(store, "b", wait_s=0).allow(
        model="gpt-4o", prompt_tokens=100, want=16384, used=Usage()
    )
    assert refused.max_tokens == 0 and refused.reason.startswith("budget_exhausted")
    assert store.spent("t", now=datetime.now(UTC)) <= Decimal("0.01")
    assert small.max_tokens >= MIN_OUTPUT_TOKENS


def test_later_requests_of_a_call_share_its_reservation(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("0.05")))
    allowance = _allowance(store, "a", wait_s=0)
    first = allowance.allow(model="gpt-4o", prompt_tokens=100, want=2000, used=Usage())
    assert first.max_tokens == 2000
    reserved = allowance.decision.reserved if allowance.decision else Decimal(0)
    assert reserved == 100 * IN + 2000 * OUT
    used = Usage(90, 1500)  # the first turn used most of it
    second = allowance.allow(model="gpt-4o", prompt_tokens=200, want=2000, used=used)
    assert second.max_tokens == int((reserved - _cost(90, 1500) - 200 * IN) / OUT) < 2000
    assert store.spent("t", now=datetime.now(UTC)) == reserved  # one reservation, not grown


def test_a_redelivered_call_is_bounded_by_its_first_reservation(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal("1")))
    first = _allowance(store, "a", wait_s=0)
    first.allow(model="gpt-4o", prompt_tokens=100, want=1000, used=Usage())
    again = _allowance(store, "a", wait_s=0).allow(
        model="gpt-4o", prompt_tokens=100, want=16384, used=Usage()
    )
    assert again.max_tokens == 1000  # what the first delivery reserved, not a second reservation
    assert store.spent("t", now=datetime.now(UTC)) == 100 * IN + 1000 * OUT


def test_a_managed_call_past_80_percent_is_downgraded_and_bounded_at_the_cheaper_price(
    store: QuotaStore,
) -> None:
    store.set_budget(TenantBudget("t", managed_enabled=True, managed_cap_eur=Decimal("1")))
    spent = store.reserve("t", "managed", Decimal(0), now=datetime.now(UTC))
    store.settle(spent.reservation_id or "", Decimal("0.85"))
    guard = SpendGuard(store, PRICES)
    allowance = guard.allowance("t", call="a", key_mode="managed", provider="openai", wait_s=0)
    allowed = allowance.allow(model="gpt-4o", prompt_tokens=100, want=10_000, used=Usage())
    assert allowed.model == "gpt-4o-mini" and allowed.max_tokens == 10_000
    # reserved at the dearer model's prices (the downgrade is decided by the reservation)
    assert store.room("t", "managed", now=datetime.now(UTC)).free == Decimal("0.15") - 100 * IN - 10_000 * OUT
