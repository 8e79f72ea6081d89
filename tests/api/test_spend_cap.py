"""Issue 19.1 and 19.3 end to end: a monthly cap that holds exactly under a race of priced calls
(every request carries a max_tokens the budgets can pay), and a re-sent call that shows, bills
and settles one set of numbers (ADR 0016)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import activities.agents
from convergio.agents import AgentCall, Target
from convergio.graph import AgentSpec
from convergio.metering import PriceTable, SqliteLedger
from convergio.providers import Completion, CompletionRequest, Usage
from convergio.quotas import SqliteQuotaStore, TenantBudget
from convergio.tenants import tenant_id_for
from tests._helpers import HostProcess, agent_parts
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.providers._servers import LoopbackServer, chat_completion

CAP = Decimal("1.50")
RUNS = 30


class Verbose:
    """A gpt-4o that writes every token it is allowed, and 16,000 when it is given no bound."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.answer, methods=["POST"])])

    async def answer(self, request: Request) -> Response:
        body = await request.json()
        asked = body.get("max_tokens") or body.get("max_completion_tokens")
        self.asked.append(asked)
        await asyncio.sleep(0.05)
        prompt = len(json.dumps(body["messages"])) // 4  # what a BPE tokenizer would count, about
        written = asked or 16_000
        reply = chat_completion("word " * 20, finish_reason="length", usage=(prompt, written), model="gpt-4o")
        return JSONResponse(reply)


def test_thirty_parallel_runs_never_pass_the_monthly_cap_and_use_nearly_all_of_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = new_key(home, "Capped School")
    tenant = tenant_id_for("Capped School")
    quotas = SqliteQuotaStore(home / "quotas.sqlite3")
    quotas.set_budget(TenantBudget(tenant, monthly_eur=CAP))
    quotas.close()
    model = Verbose()
    with LoopbackServer(model.app) as server, HostProcess(APP, home) as host, Api(host.base_url, key) as api:
        connection = {
            "kind": "openai",
            "endpoint": f"{server.url}/v1",
            "model": "gpt-4o",
            "key": "sk-cap-0123456789",
        }
        assert api.http.put("/tenants/me/connections/gpt", json=connection).status_code == 201
        spec = graph(agent("a", "Say hello to {{ input }} in a word.", provider="gpt"))
        with ThreadPoolExecutor(RUNS) as pool:
            ids = list(pool.map(lambda n: api.start(spec, f"class {n}"), range(RUNS)))
        runs = [api.wait(run_id, timeout=120) for run_id in ids]
    ledger = SqliteLedger(home / "usage.sqlite3")
    billed = sum((r.cost for r in ledger.query(tenant)), Decimal(0))
    ledger.close()
    quotas = SqliteQuotaStore(home / "quotas.sqlite3")
    settled = quotas.spent(tenant, now=datetime.now(UTC))
    quotas.close()
    statuses = sorted(run["nodes"]["a"]["status"] for run in runs)
    print(f"cap {CAP} EUR, billed {billed} EUR ({billed / CAP:.1%}), settled {settled}, nodes {statuses}")
    assert all(asked is not None and 0 < asked <= 16384 for asked in model.asked)  # every call bounded
    assert billed <= CAP  # exactly: the same race billed 2.51 EUR against this cap before
    assert billed >= CAP * Decimal("0.9")  # calls waited or shrank instead of failing early
    assert settled == billed
    assert sum(Decimal(run["cost_eur"]) for run in runs) == billed


class TwoAnswers:
    """A provider that answers a re-sent call differently from its first delivery."""

    name = "openai"
    default_model = "gpt-4o"

    def __init__(self) -> None:
        self.answers = [Usage(100, 40), Usage(90, 900)]

    def complete(self, request: CompletionRequest) -> Completion:
        return Completion(f"answer {len(self.answers)}", (), self.answers.pop(0), "stop", "gpt-4o")


def test_a_re_sent_call_shows_bills_and_settles_what_the_ledger_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = PriceTable.load()
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    quotas = SqliteQuotaStore(tmp_path / "quotas.sqlite3")
    quotas.set_budget(TenantBudget("t", monthly_eur=Decimal(5)))
    provider = TwoAnswers()
    parts = agent_parts(_Resolver(provider), ledger, prices, quotas)
    monkeypatch.setattr(activities.agents, "components", lambda: parts)
    spec = AgentSpec(id="a", prompt="hello", provider="gpt")
    call = AgentCall(run_id="R", tenant="t", node_id="a", step=2, agent=spec).model_dump(mode="json")
    first: dict[str, Any] = asyncio.run(activities.agents.run_agent_activity(call))
    again: dict[str, Any] = asyncio.run(
        activities.agents.run_agent_activity(call)
    )  # redelivered: the model answers anew
    records = ledger.query("t", run_id="R")
    kept = {r.unit: r.quantity for r in records}
    assert kept == {"input_tokens": 100, "output_tokens": 40}  # the first record of an id is kept
    assert (
        first["usage"]
        == again["usage"]
        == {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "tool_calls": 0,
        }
    )
    assert quotas.spent("t", now=datetime.now(UTC)) == sum((r.cost for r in records), Decimal(0)) > 0
    ledger.close()
    quotas.close()


class _Resolver:
    def __init__(self, provider: TwoAnswers) -> None:
        self.answers = provider

    def target(self, tenant: str, name: str) -> Target:
        return Target(name, "openai", "gpt-4o", "byok")

    def provider(self, tenant: str, target: Target) -> TwoAnswers:
        return self.answers

    def __call__(self, tenant: str, name: str) -> TwoAnswers:
        return self.answers
