"""Issue 19.6 through the real host: an unpriced connection cannot escape a monthly cap. Without
prices it is refused under a cap (default) or runs and shows as unpriced (operator's choice);
with its own prices the cap holds and costs use them."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from convergio.metering import SqliteLedger
from convergio.quotas import SqliteQuotaStore, TenantBudget
from convergio.tenants import tenant_id_for
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.providers._servers import FakeAPI, LoopbackServer, chat_completion, json_reply

OWN = {"input_tokens": "0.000001", "output_tokens": "0.00001"}


def _cap(home: Path, school: str, eur: str) -> str:
    quotas = SqliteQuotaStore(home / "quotas.sqlite3")  # the host's own store, as the CLI writes it
    quotas.set_budget(TenantBudget(tenant_id_for(school), monthly_eur=Decimal(eur)))
    quotas.close()
    return tenant_id_for(school)


def _connect(api: Api, url: str, **extra: Any) -> None:
    body = {"kind": "openai-compatible", "endpoint": f"{url}/ollama/v1", "model": "llama3", **extra}
    answer = api.http.put("/tenants/me/connections/local-llm", json=body)
    assert answer.status_code in (200, 201), answer.text


def test_under_a_cap_an_unpriced_connection_is_refused_by_default_and_a_tenant_without_one_runs(
    api_host: HostProcess, api_home: Path, fake_llm: FakeAPI
) -> None:
    fake_llm.reset()  # the fake is shared by the package's tests: start with no queued replies
    _cap(api_home, "Unpriced Capped School", "5")
    spec = graph(agent("a", "Say hi to {{ input }}", provider="local-llm"))
    with Api(api_host.base_url, new_key(api_home, "Unpriced Capped School")) as api:
        _connect(api, fake_llm.url)
        seen = len(fake_llm.seen)
        run = api.wait(api.start(spec, "Ada"))
        assert len(fake_llm.seen) == seen  # refused before any request: nothing escaped the cap
    node = run["nodes"]["a"]
    assert node["status"] == "budget_exceeded", run
    assert "'local-llm'" in node["error"] and "no price" in node["error"] and "prices" in node["error"]

    with Api(api_host.base_url, new_key(api_home, "Unpriced Free School")) as api:  # no cap at all
        _connect(api, fake_llm.url)
        fake_llm.queue(json_reply(chat_completion("Hi Ada", usage=(30, 12), model="llama3")))
        run = api.wait(api.start(spec, "Ada"))
        usage = api.http.get("/usage", params={"group_by": "model"}).json()
    assert run["status"] == "Completed" and run["nodes"]["a"]["status"] == "completed", run
    assert run["unpriced_tokens"] == run["nodes"]["a"]["unpriced_tokens"] == 42
    assert usage["unpriced_tokens"] == 42
    (row,) = usage["rows"]
    assert row["model"] == "openai-compatible:llama3" and row["unpriced_tokens"] == 42
    assert Decimal(row["cost"]) == 0 and row["quantity"] == {"input_tokens": 30, "output_tokens": 12}


def test_the_operator_may_allow_unpriced_calls_under_a_cap_and_they_show_as_unpriced(
    tmp_path: Path, fake_llm: FakeAPI
) -> None:
    fake_llm.reset()  # the fake is shared by the package's tests: start with no queued replies
    home = tmp_path / "home"
    key = new_key(home, "Allowed School")
    tenant = _cap(home, "Allowed School", "5")
    env = {"CONVERGIO_UNPRICED_UNDER_CAP": "allow"}
    spec = graph(agent("a", "Say hi to {{ input }}", provider="local-llm"))
    with HostProcess(APP, home, env) as host, Api(host.base_url, key) as api:
        _connect(api, fake_llm.url)
        fake_llm.queue(json_reply(chat_completion("Hi Ada", usage=(30, 12), model="llama3")))
        run = api.wait(api.start(spec, "Ada"))
        usage = api.http.get("/usage", params={"group_by": "agent"}).json()
    assert run["nodes"]["a"]["status"] == "completed", run
    assert run["unpriced_tokens"] == 42 and Decimal(run["cost_eur"]) == 0
    assert usage["unpriced_tokens"] == 42 and usage["rows"][0]["unpriced_tokens"] == 42
    ledger = SqliteLedger(home / "usage.sqlite3")
    records = ledger.query(tenant)
    ledger.close()
    assert {r.unit for r in records} == {"input_tokens", "output_tokens"}
    assert all(r.unpriced and r.cost == 0 for r in records)


class Verbose:
    """A local model that writes every token it is allowed."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []
        self.app = Starlette(routes=[Route("/ollama/v1/chat/completions", self.answer, methods=["POST"])])

    async def answer(self, request: Request) -> Response:
        body = await request.json()
        asked = body.get("max_tokens") or body.get("max_completion_tokens")
        self.asked.append(asked)
        await asyncio.sleep(0.02)
        prompt = len(json.dumps(body["messages"])) // 4
        reply = chat_completion("word " * 20, finish_reason="length", usage=(prompt, asked or 16_000))
        return JSONResponse(reply)


def test_with_connection_prices_the_cap_holds_and_costs_use_them(
    api_host: HostProcess, api_home: Path
) -> None:
    cap = Decimal("0.02")
    tenant = _cap(api_home, "Priced Local School", str(cap))
    model = Verbose()
    spec = graph(agent("a", "Say hi to {{ input }}", provider="local-llm"))
    with (
        LoopbackServer(model.app) as server,
        Api(api_host.base_url, new_key(api_home, "Priced Local School")) as api,
    ):
        bad = api.http.put(
            "/tenants/me/connections/local-llm",
            json={
                "kind": "openai-compatible",
                "endpoint": f"{server.url}/ollama/v1",
                "prices": {"input_tokens": "1"},
            },
        )
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["path"].startswith("prices")
        _connect(api, server.url, prices=OWN)
        assert api.http.get("/tenants/me/connections/local-llm").json()["prices"] == OWN
        runs = [api.wait(api.start(spec, f"class {n}")) for n in range(4)]
    ledger = SqliteLedger(api_home / "usage.sqlite3")
    records = ledger.query(tenant)
    ledger.close()
    billed = sum((r.cost for r in records), Decimal(0))
    statuses = [run["nodes"]["a"]["status"] for run in runs]
    assert all(asked is not None and asked <= 4096 for asked in model.asked)
    assert "completed" in statuses or "budget_exceeded" in statuses
    assert Decimal("0.015") <= billed <= cap  # the cap bounds the connection's spend
    assert {r.unit_price for r in records if r.unit == "input_tokens"} == {Decimal("0.000001")}
    assert {r.unit_price for r in records if r.unit == "output_tokens"} == {Decimal("0.00001")}
    assert not any(r.unpriced for r in records)
    assert sum(Decimal(run["cost_eur"]) for run in runs) == billed
    assert all(run["unpriced_tokens"] == 0 for run in runs)
