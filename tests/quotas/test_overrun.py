"""A provider that bills more than a call reserved (it ignores ``max_tokens``, or counts tokens we
cannot bound): the overrun counts against the budget and is recorded (ADR 0051), so the cap stops
further calls however often the provider overbills."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import activities.agents
from convergio.agents import AgentCall, Target
from convergio.graph import AgentSpec
from convergio.metering import PriceTable, SqliteLedger, cost_of
from convergio.providers import Completion, CompletionRequest, Usage
from convergio.quotas import MonthlyAllowance, QuotaStore, SpendGuard, SqliteQuotaStore, TenantBudget
from tests._helpers import agent_parts
from tests.quotas.conftest import OpenStore

PRICES = PriceTable.load()
IN, OUT = (PRICES.price("openai", "gpt-4o", unit) for unit in ("input_tokens", "output_tokens"))
CAP = Decimal("0.50")


def _amounts(detail: str) -> tuple[str, str]:
    """What an overrun event says was billed and reserved."""
    found = re.search(r"billed (\S+) EUR, over the (\S+) EUR it reserved$", detail)
    assert found is not None, detail
    return found[1], found[2]


class Overbilling:
    """A gpt-4o that reports twice the output tokens it was allowed, on every call."""

    name = "openai"
    default_model = "gpt-4o"

    def __init__(self) -> None:
        self.allowed: list[int | None] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.allowed.append(request.max_output_tokens)
        return Completion("hello", (), Usage(20, 2 * (request.max_output_tokens or 0)), "stop", "gpt-4o")

    def target(self, tenant: str, name: str) -> Target:
        return Target(name, "openai", "gpt-4o", "byok")

    def provider(self, tenant: str, target: Target) -> Overbilling:
        return self

    def __call__(self, tenant: str, name: str) -> Overbilling:
        return self


def test_an_overbilling_provider_is_stopped_at_the_cap_and_the_budget_agrees_with_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    quotas = SqliteQuotaStore(tmp_path / "quotas.sqlite3")
    quotas.set_budget(TenantBudget("t", monthly_eur=CAP))
    provider = Overbilling()
    monkeypatch.setattr(
        activities.agents, "components", lambda: agent_parts(provider, ledger, PRICES, quotas)
    )
    spec = AgentSpec(id="a", prompt="hello", provider="gpt")
    outcomes: list[dict[str, Any]] = []
    for n in range(20):
        call = AgentCall(run_id=f"R{n}", tenant="t", node_id="a", step=1, agent=spec)
        outcomes.append(asyncio.run(activities.agents.run_agent_activity(call.model_dump(mode="json"))))
    billed = sum((r.cost for r in ledger.query("t")), Decimal(0))
    assert quotas.spent("t", now=datetime.now(UTC)) == billed  # the budget counts what is invoiced
    admitted = len([n for n in provider.allowed if n])  # refused calls never reach the provider
    events = [e["detail"] for e in quotas.events("t", limit=100) if e["kind"] == "overrun"]
    assert len(events) == admitted  # every overbilled call recorded, naming what was called
    assert all(d.startswith("connection 'gpt' (openai), model gpt-4o billed ") for d in events)
    overruns = sum((Decimal(b) - Decimal(r) for b, r in map(_amounts, events)), Decimal(0))
    assert CAP < billed <= CAP + overruns  # passed only by the admitted calls' overruns
    statuses = [o["status"] for o in outcomes]
    assert statuses == ["completed"] * admitted + ["budget_exceeded"] * (20 - admitted)  # then refused
    assert all("budget_exhausted" in o["error"] for o in outcomes[admitted:])
    ledger.close()
    quotas.close()


def _allowance(store: QuotaStore, call: str, wait_s: float = 5.0) -> MonthlyAllowance:
    return SpendGuard(store, PRICES).allowance(
        "t", call=call, key_mode="byok", provider="openai", wait_s=wait_s, connection="gpt"
    )


def test_racing_calls_with_an_overbilling_provider_pass_the_cap_only_by_their_overruns(
    open_store: OpenStore,
) -> None:
    """Twelve calls at once from three processes or instances, each billed twice the output it was
    allowed: past the cap only by what the admitted calls overbilled, then every call refused."""
    stores = [open_store() for _ in range(3)]
    stores[0].set_budget(TenantBudget("t", monthly_eur=CAP))
    start = threading.Barrier(12)

    def call(n: int) -> tuple[Decimal, Decimal]:
        allowance = _allowance(stores[n % 3], f"run-{n}/a/0/1")
        start.wait()
        allowed = allowance.allow(model="gpt-4o", prompt_tokens=200, want=16384, used=Usage())
        if not allowed.max_tokens:
            allowance.settle(Decimal(0))
            return Decimal(0), Decimal(0)
        time.sleep(0.05)  # the provider at work
        billed = cost_of(200, IN) + cost_of(2 * allowed.max_tokens, OUT)
        assert allowance.settle(billed) == billed
        return billed, allowance.decision.reserved if allowance.decision else Decimal(0)

    with ThreadPoolExecutor(12) as pool:
        calls = [(billed, reserved) for billed, reserved in pool.map(call, range(12)) if billed]
    billed = sum((b for b, _ in calls), Decimal(0))
    overruns = sum((b - r for b, r in calls), Decimal(0))
    assert all(b > r for b, r in calls)
    assert CAP < billed <= CAP + overruns
    for store in stores:  # every process or instance counts the overruns
        assert store.spent("t", now=datetime.now(UTC)) == billed
        assert store.room("t", "byok", now=datetime.now(UTC)).free == 0
    later = _allowance(stores[1], "later", wait_s=0)
    refused = later.allow(model="gpt-4o", prompt_tokens=200, want=16384, used=Usage())
    assert refused.max_tokens == 0 and refused.reason.startswith("budget_exhausted")
    overrun = [e for e in stores[2].events("t", limit=100) if e["kind"] == "overrun"]
    assert len(overrun) == len(calls)  # one each, with the settlement that counted


def test_a_redelivered_overbilled_call_counts_and_is_recorded_once(store: QuotaStore) -> None:
    store.set_budget(TenantBudget("t", monthly_eur=Decimal(1)))
    first, again = _allowance(store, "a", wait_s=0), _allowance(store, "a", wait_s=0)
    for allowance in (first, again):
        assert allowance.allow(model="gpt-4o", prompt_tokens=200, want=1000, used=Usage()).max_tokens == 1000
    billed = cost_of(200, IN) + cost_of(3000, OUT)
    first.settle(billed)
    again.settle(billed)  # the same call delivered again: what the ledger kept, settled once
    assert store.spent("t", now=datetime.now(UTC)) == billed
    (event,) = [e for e in store.events("t") if e["kind"] == "overrun"]
    reserved = 200 * IN + 1000 * OUT  # as reserved (prices times tokens)
    assert event["detail"] == (
        f"connection 'gpt' (openai), model gpt-4o billed {billed} EUR, over the {reserved} EUR it reserved"
    )
