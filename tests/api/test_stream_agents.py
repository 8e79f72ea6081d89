"""What a watched agent call writes to its run's stream (ADR 0055): its ``began`` always, its text
only when its provider sends the answer in pieces; readable by every watcher before the call
returns, without a commit of the call's own while the run's only watchers read through its
instance (the embedded host's one process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import activities.agents
import convergio._sqlite
from convergio.agents import AgentCall, ProviderResolver
from convergio.graph import AgentSpec
from convergio.metering import PriceTable, SqliteLedger
from convergio.quotas import SqliteQuotaStore, TenantBudget
from convergio.secrets import LocalSecretStore, Secret
from convergio.streams import SqliteRunStream
from convergio.tenants import ConnectionRecord, ConnectionRegistry, SqliteTenantStore
from tests._helpers import agent_parts
from tests.providers._servers import FakeAPI, LoopbackServer, chat_stream, sse_reply


@dataclass
class Setup:
    tenant: str
    host: SqliteRunStream
    """The stream of the host process: its agents write here, its SSE endpoint reads here."""
    other: SqliteRunStream
    """Another process on the same file (a second host's SSE endpoint)."""
    model: FakeAPI

    def call(self, node: str, provider: str = "offline") -> dict[str, Any]:
        spec = AgentSpec(id=node, prompt="hello", provider=provider)
        call = AgentCall(run_id="R", tenant=self.tenant, node_id=node, step=1, agent=spec)
        result: dict[str, Any] = asyncio.run(
            activities.agents.run_agent_activity(call.model_dump(mode="json"))
        )
        assert result["status"] == "completed", result
        return result


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.setattr(convergio._sqlite, "DEFER_S", 60.0)  # no flusher meanwhile: only what calls store
    tenants = SqliteTenantStore(tmp_path / "tenants.sqlite3")
    tenant = tenants.add_tenant("Stream School")[0].id
    registry, secrets = ConnectionRegistry(tenants), LocalSecretStore(tmp_path)
    quotas = SqliteQuotaStore(tmp_path / "quotas.sqlite3")
    quotas.set_budget(TenantBudget(tenant, monthly_eur=Decimal(50)))
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    host = SqliteRunStream(tmp_path / "streams.sqlite3", recheck_s=0.02)
    other = SqliteRunStream(tmp_path / "streams.sqlite3")
    model = FakeAPI()
    prices = {"input_tokens": "0.001", "output_tokens": "0.002"}
    with LoopbackServer(model.app) as server:
        registry.put(
            ConnectionRecord(
                tenant,
                "gpt",
                "openai",
                endpoint=f"{server.url}/v1",
                model="m",
                key_fingerprint="…W2yB6",
                prices=prices,
            )
        )
        secrets.put(tenant, "gpt", Secret("sk-stream-Zq8vT3xLmN4pR7sW2yB6"))
        resolver = ProviderResolver(registry, secrets, allowed_hosts=(), hosted=False)
        parts = agent_parts(resolver, ledger, PriceTable.load(), quotas)
        parts.streams = host
        monkeypatch.setattr(activities.agents, "components", lambda: parts)
        yield Setup(tenant, host, other, model)
    for closing in (host, other, ledger, quotas, tenants):
        closing.close()


def test_an_answer_that_arrives_whole_is_no_text_and_its_began_costs_the_call_no_commit(setup: Setup) -> None:
    setup.host.watch("R", ttl_s=30)  # the SSE endpoint of the agents' own process
    result = setup.call("a")
    assert setup.other.read("R") == []  # the call committed nothing
    (began,) = setup.host.read("R")  # the watcher's read stores this process's posts first
    assert began.kind == "began"
    assert began.data == {"node": "a", "attempt": 1, "step": 1, "at": result["started_at"]}
    assert [e.seq for e in setup.other.read("R")] == [began.seq]


def test_a_call_stores_its_began_before_returning_when_a_watcher_reads_elsewhere(setup: Setup) -> None:
    setup.other.watch("R", ttl_s=30)
    time.sleep(setup.host.recheck_s)  # seen by the agents' process
    setup.call("a")
    assert [(e.kind, e.data["node"]) for e in setup.other.read("R")] == [("began", "a")]


def test_a_provider_that_streams_still_streams_its_text(setup: Setup) -> None:
    setup.model.queue(sse_reply(chat_stream(["Lava ", "flows."])))
    setup.host.watch("R", ttl_s=30)
    result = setup.call("w", provider="gpt")
    events = setup.other.read("R")  # stored before the call returned (TextChannel.close)
    assert events[0].kind == "began" and {e.kind for e in events[1:]} == {"text"}
    assert "".join(e.data["delta"] for e in events[1:]) == "Lava flows." == result["output"]
