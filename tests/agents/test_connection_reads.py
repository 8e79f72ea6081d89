"""A BYOK agent call reads its connection's record once (on Azure, one Cosmos point read where
there were four) and its key once, at call time: a rotated key is used by the next call, a key
or a connection deleted between calls fails the next call clearly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import activities.agents
from convergio.agents import AgentCall, ProviderResolver
from convergio.graph import AgentSpec
from convergio.metering import PriceTable, SqliteLedger, cost_of
from convergio.quotas import SqliteQuotaStore, TenantBudget
from convergio.secrets import LocalSecretStore, Secret
from convergio.tenants import (
    ConnectionRecord,
    ConnectionRegistry,
    SqliteTenantStore,
    TenantRecords,
    TenantStore,
)
from tests._helpers import agent_parts
from tests.providers._servers import FakeAPI, LoopbackServer, chat_completion, json_reply

KEY = "sk-reads-Zq8vT3xLmN4pR7sW2yB6"
PRICES = {"input_tokens": "0.001", "output_tokens": "0.002"}


@dataclass
class Counted:
    """Reads of one store, by what was read."""

    reads: list[tuple[str, str]] = field(default_factory=list)


class CountingRecords:
    """A tenant store's record family that counts its point reads (a Cosmos read each)."""

    def __init__(self, inner: TenantRecords, counted: Counted) -> None:
        self._inner = inner
        self._counted = counted

    def get(self, tenant_id: str, name: str) -> Any:
        self._counted.reads.append((tenant_id, name))
        return self._inner.get(tenant_id, name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)


class CountingTenants:
    """A tenant store whose record families count their reads."""

    def __init__(self, inner: TenantStore, counted: Counted) -> None:
        self._inner = inner
        self._counted = counted

    def records(self, kind: str) -> CountingRecords:
        return CountingRecords(self._inner.records(kind), self._counted)


class CountingSecrets(LocalSecretStore):
    """The local secret store, counting the keys it hands out."""

    counted: Counted

    def get(self, tenant_id: str, name: str) -> Secret:
        self.counted.reads.append((tenant_id, name))
        return super().get(tenant_id, name)


@dataclass
class Setup:
    tenant: str
    connections: Counted
    keys: Counted
    registry: ConnectionRegistry
    secrets: CountingSecrets
    model: FakeAPI
    ledger: SqliteLedger

    def call(self, node: str) -> dict[str, Any]:
        self.model.queue(json_reply(chat_completion("Fine.", usage=(100, 10), model="gpt-4o-mini")))
        spec = AgentSpec(id=node, prompt="hello", provider="gpt")
        call = AgentCall(run_id="R", tenant=self.tenant, node_id=node, step=1, agent=spec)
        result: dict[str, Any] = asyncio.run(
            activities.agents.run_agent_activity(call.model_dump(mode="json"))
        )
        return result


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    connections, keys = Counted(), Counted()
    tenants = SqliteTenantStore(tmp_path / "tenants.sqlite3")
    tenant = tenants.add_tenant("Reads School")[0].id
    registry = ConnectionRegistry(CountingTenants(tenants, connections))  # type: ignore[arg-type]
    secrets = CountingSecrets(tmp_path)
    secrets.counted = keys
    model = FakeAPI()
    prices = PriceTable.load()
    quotas = SqliteQuotaStore(tmp_path / "quotas.sqlite3")
    quotas.set_budget(TenantBudget(tenant, monthly_eur=Decimal(50)))  # a cap: the allowance runs
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    with LoopbackServer(model.app) as server:
        registry.put(
            ConnectionRecord(
                tenant,
                "gpt",
                "openai",
                endpoint=f"{server.url}/v1",
                model="gpt-4o-mini",
                key_fingerprint="…R7sW2yB6",
                prices=PRICES,
            )
        )
        secrets.put(tenant, "gpt", Secret(KEY))
        parts = agent_parts(
            ProviderResolver(registry, secrets, allowed_hosts=(), hosted=False), ledger, prices, quotas
        )
        monkeypatch.setattr(activities.agents, "components", lambda: parts)
        yield Setup(tenant, connections, keys, registry, secrets, model, ledger)
    ledger.close()
    quotas.close()
    tenants.close()


def test_a_byok_call_reads_its_connection_once_and_its_key_at_call_time(setup: Setup) -> None:
    outcomes = [setup.call(node) for node in ("a", "b", "c")]
    assert [o["status"] for o in outcomes] == ["completed"] * 3, outcomes
    assert setup.connections.reads == [(setup.tenant, "gpt")] * 3  # one read per call (it was four)
    assert setup.keys.reads == [(setup.tenant, "gpt")] * 3  # the key: once per call, never kept
    assert [seen.headers["authorization"] for seen in setup.model.seen] == [f"Bearer {KEY}"] * 3
    # The one reading priced the call with the connection's own prices (not prices.json's).
    cost = cost_of(100, Decimal(PRICES["input_tokens"])) + cost_of(10, Decimal(PRICES["output_tokens"]))
    records = setup.ledger.query(setup.tenant, run_id="R")
    by_node = {node: sum(r.cost for r in records if r.node_id == node) for node in "abc"}
    assert by_node == dict.fromkeys("abc", cost)


def test_a_rotated_key_is_used_by_the_next_call(setup: Setup) -> None:
    assert setup.call("a")["status"] == "completed"
    rotated = KEY + "-rotated"
    setup.secrets.put(setup.tenant, "gpt", Secret(rotated))
    assert setup.call("b")["status"] == "completed"
    sent = [seen.headers["authorization"] for seen in setup.model.seen]
    assert sent == [f"Bearer {KEY}", f"Bearer {rotated}"]


def test_a_connection_or_its_key_deleted_between_calls_fails_the_next_call_clearly(setup: Setup) -> None:
    assert setup.call("a")["status"] == "completed"
    assert setup.secrets.delete(setup.tenant, "gpt")
    no_key = setup.call("b")
    assert no_key["status"] == "failed"
    assert no_key["error"] == "the key of connection 'gpt' is missing; set it again"
    assert setup.registry.delete(setup.tenant, "gpt")
    gone = setup.call("c")
    assert gone["status"] == "failed"
    assert gone["error"] == "the tenant has no connection named 'gpt'"
    assert setup.connections.reads == [(setup.tenant, "gpt")] * 3
    assert len(setup.model.seen) == 1  # neither failed call reached the provider
