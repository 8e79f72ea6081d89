"""Where ``run_agent`` makes its call (ADR 0065): on the event loop's own thread when nothing in
it waits, else on a thread of the agent calls' pool while the loop goes on. A call moved off
the loop because its quota's reservation would wait must not hold up another tenant's call on
the same loop, and is still admitted (or refused) by the same rules."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import activities.agents
from convergio.agents import AgentCall, Target
from convergio.graph import AgentSpec
from convergio.metering import PriceTable, SqliteLedger
from convergio.providers import Completion, CompletionRequest, Provider, Usage, get_provider
from convergio.quotas import MonthlyAllowance, SpendGuard, SqliteQuotaStore, TenantBudget
from tests._helpers import agent_parts

PRICES = PriceTable.load()


class _Offline:
    """A resolver for the built-in offline provider only (no connection to read)."""

    def target(self, tenant: str, name: str) -> Target:
        return Target(name, "offline", "offline-1", "byok")

    def provider(self, tenant: str, target: Target) -> Provider:
        return get_provider("offline")

    def __call__(self, tenant: str, name: str) -> Provider:
        return get_provider("offline")


@pytest.fixture
def stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SqliteLedger, SqliteQuotaStore]]:
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    quotas = SqliteQuotaStore(tmp_path / "quotas.sqlite3")
    monkeypatch.setattr(
        activities.agents, "components", lambda: agent_parts(_Offline(), ledger, PRICES, quotas)
    )
    yield ledger, quotas
    ledger.close()
    quotas.close()


def _call(tenant: str, node: str, **agent: Any) -> dict[str, Any]:
    spec = AgentSpec(id=node, prompt="hello", **agent)
    return AgentCall(run_id=f"R-{tenant}", tenant=tenant, node_id=node, step=1, agent=spec).model_dump(
        mode="json"
    )


def test_a_call_that_waits_on_nothing_is_made_on_the_loops_thread(
    stores: tuple[SqliteLedger, SqliteQuotaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    made_on: dict[str, str] = {}
    run_agent = activities.agents.run_agent

    def where(call: AgentCall, **kwargs: Any) -> Any:
        made_on[call.node_id] = threading.current_thread().name
        return run_agent(call, **kwargs)

    monkeypatch.setattr(activities.agents, "run_agent", where)

    async def calls() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                activities.agents.run_agent_activity(_call("t", "now")),
                activities.agents.run_agent_activity(_call("t", "slow", options={"latency_ms": 1})),
            )
        )

    outcomes = asyncio.run(calls())
    assert [o["status"] for o in outcomes] == ["completed", "completed"]
    assert made_on["now"] == threading.current_thread().name
    assert made_on["slow"].startswith("agent-call")  # a simulated latency waits: off the loop
    assert len(stores[0].query("t")) == 4  # both billed (prompt and completion tokens)


class _Priced(_Offline):
    """An instant gpt-4o: a priced provider that answers at once (the offline one is free, so
    its reservations never wait); said to answer now below, as one that could be would."""

    def target(self, tenant: str, name: str) -> Target:
        return Target(name, "openai", "gpt-4o", "byok")

    def provider(self, tenant: str, target: Target) -> Provider:
        return self  # type: ignore[return-value]

    name = "openai"
    default_model = "gpt-4o"

    def complete(self, request: CompletionRequest) -> Completion:
        return Completion("hello", (), Usage(20, 5), "stop", "gpt-4o")


def test_a_call_whose_reservation_would_wait_moves_off_the_loop_and_holds_up_no_one(
    stores: tuple[SqliteLedger, SqliteQuotaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, quotas = stores
    priced = _Priced()
    monkeypatch.setattr(activities.agents, "components", lambda: agent_parts(priced, ledger, PRICES, quotas))
    monkeypatch.setattr(activities.agents, "_answers_now", lambda call: True)
    made_on: list[str] = []
    run_agent = activities.agents.run_agent

    def where(call: AgentCall, **kwargs: Any) -> Any:
        made_on.append(f"{call.tenant}:{threading.current_thread().name}")
        return run_agent(call, **kwargs)

    monkeypatch.setattr(activities.agents, "run_agent", where)
    quotas.set_budget(TenantBudget("t", monthly_eur=Decimal("0.01")))

    def held(call: str) -> MonthlyAllowance:
        allowance = SpendGuard(quotas, PRICES).allowance(
            "t", call=call, key_mode="byok", provider="openai", wait_s=5, connection="gpt"
        )
        assert allowance.allow(model="gpt-4o", prompt_tokens=10, want=200, used=Usage()).max_tokens == 200
        return allowance

    overrun, open_one = held("first"), held("second")
    overrun.settle(Decimal("0.02"))  # billed over the cap: the budget is spent, "second" still held
    assert quotas.room("t", "byok", now=datetime.now(UTC)).held > 0
    order: list[str] = []

    async def tenant_t() -> dict[str, Any]:
        outcome = await activities.agents.run_agent_activity(_call("t", "waits"))
        order.append("t")
        return outcome

    async def tenant_u() -> dict[str, Any]:
        outcome = await activities.agents.run_agent_activity(_call("u", "other"))
        order.append("u")
        return outcome

    async def settle_later() -> None:
        await asyncio.sleep(0.3)
        order.append("settled")
        await asyncio.to_thread(open_one.settle, Decimal(0))

    async def calls() -> list[Any]:
        return list(await asyncio.gather(tenant_t(), tenant_u(), settle_later()))

    t_outcome, u_outcome, _ = asyncio.run(calls())
    assert order == ["u", "settled", "t"]  # t waited for the open reservation, u did not wait for t
    loop_thread = threading.current_thread().name
    assert made_on[0] == f"t:{loop_thread}"  # tried on the loop, about to wait: made again off it
    assert f"u:{loop_thread}" in made_on and made_on[-1].startswith("t:agent-call")
    assert u_outcome["status"] == "completed"
    assert t_outcome["status"] == "budget_exceeded"  # still over the cap once the other settled
    assert "budget_exhausted" in t_outcome["error"]
    assert [r.node_id for r in ledger.query("t")] == []  # refused: nothing called, nothing billed
