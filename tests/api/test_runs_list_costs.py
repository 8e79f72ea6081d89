"""The runs list carries each run's billed cost and tokens, from one ledger query per page."""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key
from tests.providers._servers import FakeAPI, chat_completion, json_reply


def test_each_listed_run_shows_what_the_ledger_billed_it(
    api_host: HostProcess, api_home: Path, fake_llm: FakeAPI
) -> None:
    fake_llm.reset()
    fake_llm.queue(
        json_reply(chat_completion("first", usage=(1000, 500), model="gpt-4o-mini")),
        json_reply(chat_completion("second", usage=(3000, 40), model="gpt-4o-mini")),
    )
    with Api(api_host.base_url, new_key(api_home, "Costly School")) as api:
        body = {
            "kind": "openai",
            "endpoint": f"{fake_llm.url}/v1",
            "model": "gpt-4o-mini",
            "key": "sk-list-" + secrets.token_urlsafe(16),
        }
        assert api.http.put("/tenants/me/connections/paid", json=body).status_code == 201
        views: dict[str, dict[str, Any]] = {}
        for spec in (graph(agent("a", provider="paid")),) * 2 + (graph(agent("a")),):
            run_id = api.start(spec, "x")
            views[run_id] = api.wait(run_id)  # one at a time: each paid run takes the next queued reply
        *paid, free = views
        assert all(v["status"] == "Completed" for v in views.values()), views

        listed = {r["id"]: r for r in api.http.get("/runs").json()["runs"]}
        assert set(listed) == set(views)
        for run_id, view in views.items():
            assert Decimal(listed[run_id]["cost_eur"]) == Decimal(view["cost_eur"])
            assert listed[run_id]["usage"] == view["usage"]
        first, second = (Decimal(listed[r]["cost_eur"]) for r in paid)
        assert 0 < first < second  # 1500 tokens cost less than 3040 on the same model
        assert listed[paid[0]]["usage"]["total_tokens"] == 1500
        assert Decimal(listed[free]["cost_eur"]) == 0  # the offline provider is free
        total = Decimal(api.http.get("/usage", params={"group_by": "run"}).json()["total_eur"])
        assert first + second == total

        # Costs stay with their runs through filtering and paging.
        page = api.http.get("/runs", params={"limit": 1, "offset": 1}).json()["runs"]
        assert [(r["id"], r["cost_eur"]) for r in page] == [(paid[1], listed[paid[1]]["cost_eur"])]
        completed = api.http.get("/runs", params={"status": "Completed"}).json()["runs"]
        assert {r["id"]: r["cost_eur"] for r in completed} == {k: v["cost_eur"] for k, v in listed.items()}

    with Api(api_host.base_url, new_key(api_home, "Nosy School")) as other:
        assert other.http.get("/runs").json()["runs"] == []  # no runs, and no costs, of another tenant


def test_the_openapi_document_describes_the_cost_of_a_listed_run(api_host: HostProcess) -> None:
    doc = httpx.get(f"{api_host.base_url}/api/v1/openapi.json").json()
    summary = doc["components"]["schemas"]["RunSummary"]["properties"]
    assert summary["cost_eur"]["type"] == "string" and "usage" in summary
