"""BYOK end to end: a tenant's connection to an OpenAI-compatible server on loopback.

The server sees the tenant's key; nothing else ever does: not the API's answers, not the
orchestration history, not the host's log, not any file in the state directory other than
the encrypted secret store.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path

import httpx

from convergio.metering import PriceTable, SqliteLedger, cost_of
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key
from tests.providers._servers import FakeAPI, chat_completion, json_reply


def test_a_graph_runs_on_the_tenants_own_key_and_the_key_goes_nowhere_else(
    api_host: HostProcess, api_home: Path, fake_llm: FakeAPI
) -> None:
    key = "sk-byok-" + secrets.token_urlsafe(24)
    fake_llm.reset()
    fake_llm.queue(
        json_reply(chat_completion("Volcanoes erupt when magma rises.", usage=(31, 9))),
        json_reply(chat_completion("Short summary.", usage=(44, 5))),
    )
    with Api(api_host.base_url, new_key(api_home, "BYOK School")) as api:
        body = {
            "kind": "openai-compatible",
            "endpoint": f"{fake_llm.url}/ollama/v1",
            "model": "llama3",
            "key": key,
        }
        created = api.http.put("/tenants/me/connections/local-llm", json=body)
        assert created.status_code == 201, created.text
        fingerprint = created.json()["key"]["fingerprint"]
        assert key[-4:] in fingerprint and key not in created.text

        spec = graph(
            agent("facts", "Facts about {{ input.topic }}", provider="local-llm"),
            agent("summary", "Summarise: {{ outputs.facts }}", provider="local-llm", depends_on=["facts"]),
        )
        run_id = api.start(spec, {"topic": "volcanoes"})
        run = api.wait(run_id)
        answers = [
            api.http.get(f"/runs/{run_id}").text,
            api.http.get("/runs").text,
            api.http.get("/tenants/me/connections").text,
            api.http.get("/tenants/me/connections/local-llm").text,
        ]
    assert run["status"] == "Completed", run
    assert run["output"] == "Short summary."
    # The server got the key, the model and the upstream output in the downstream prompt.
    assert [s.headers["authorization"] for s in fake_llm.seen] == [f"Bearer {key}"] * 2
    assert [s.path for s in fake_llm.seen] == ["/ollama/v1/chat/completions"] * 2
    assert fake_llm.seen[0].body["model"] == "llama3"
    assert "Volcanoes erupt" in str(fake_llm.seen[1].body["messages"])
    # Usage is what the server reported, not an estimate.
    assert run["nodes"]["facts"]["usage"] | {"tool_calls": 0} == {
        "prompt_tokens": 31,
        "completion_tokens": 9,
        "total_tokens": 40,
        "tool_calls": 0,
    }
    assert run["usage"]["total_tokens"] == 40 + 49

    history = httpx.get(
        f"{api_host.base_url}/runtime/webhooks/durabletask/instances/{run_id}",
        params={"showHistory": "true", "showHistoryOutput": "true", "showInput": "true"}
        | {"code": api_host.key()},
    ).text
    assert "local-llm" in history  # the reference travels...
    for text in [*answers, history, "\n".join(api_host.lines)]:
        assert key not in text  # ...the key does not
    leaks = [p for p in api_home.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert leaks == []
    assert (api_home / "secrets.json").exists()  # stored, encrypted


def test_connections_are_write_only_validated_and_per_tenant(api_host: HostProcess, api_home: Path) -> None:
    with (
        Api(api_host.base_url, new_key(api_home, "Conn School")) as api,
        Api(api_host.base_url, new_key(api_home, "Other School")) as other,
    ):
        bad = [
            ({"kind": "gemini"}, "kind"),
            ({"kind": "azure-openai", "endpoint": "https://x.openai.azure.com", "key": "k"}, "api_version"),
            ({"kind": "openai", "endpoint": "ftp://example.com", "key": "k"}, "endpoint"),
            ({"kind": "openai"}, "key"),
            ({"kind": "openai", "key": "k", "colour": "red"}, "colour"),
        ]
        for body, word in bad:
            answer = api.http.put("/tenants/me/connections/c1", json=body)
            assert answer.status_code == 400 and word in answer.text, (body, answer.text)
        assert api.http.put("/tenants/me/connections/Bad_Name!", json={"kind": "offline"}).status_code == 400
        for taken in ("managed", "hook-abc", "callback-abc", "mcp--files"):  # other secrets' names
            answer = api.http.put(f"/tenants/me/connections/{taken}", json={"kind": "openai", "key": "sk-x"})
            assert answer.status_code == 400 and "reserved" in answer.text, (taken, answer.text)

        assert (
            api.http.put(
                "/tenants/me/connections/mine", json={"kind": "openai", "key": "sk-one-abcdefgh1234"}
            ).status_code
            == 201
        )
        again = api.http.put("/tenants/me/connections/mine", json={"kind": "openai", "model": "gpt-4o-mini"})
        assert again.status_code == 200 and again.json()["key"]["fingerprint"].startswith("…1234")  # key kept
        assert other.http.get("/tenants/me/connections/mine").status_code == 404
        assert other.http.get("/tenants/me/connections").json() == {"connections": []}
        # Another tenant's graph cannot name this tenant's connection.
        refused = other.http.post("/runs", json={"graph": graph(agent("a", provider="mine")), "input": None})
        assert refused.status_code == 422 and "graph.agents[0].provider" in refused.text
        assert api.http.delete("/tenants/me/connections/mine").status_code == 200
        assert api.http.get("/tenants/me/connections/mine").status_code == 404


def test_costs_come_from_the_price_table_and_the_ledger_matches_the_servers_tokens(
    api_host: HostProcess, api_home: Path, fake_llm: FakeAPI
) -> None:
    fake_llm.reset()
    fake_llm.queue(
        json_reply(chat_completion("One.", usage=(120, 30), model="gpt-4o-mini")),
        json_reply(chat_completion("Two.", usage=(80, 20), model="gpt-4o-mini")),
    )
    with Api(api_host.base_url, new_key(api_home, "Priced School")) as api:
        body = {
            "kind": "openai",
            "endpoint": f"{fake_llm.url}/v1",
            "model": "gpt-4o-mini",
            "key": "sk-priced-0123456789",
        }
        assert api.http.put("/tenants/me/connections/gpt", json=body).status_code == 201
        spec = graph(
            agent("a", provider="gpt"), agent("b", "{{ outputs.a }}", provider="gpt", depends_on=["a"])
        )
        run_id = api.start(spec, "x")
        run = api.wait(run_id)
        tenant = "priced-school"
        by_agent = api.http.get("/usage", params={"group_by": "agent,unit"}).json()
        assert api.http.get("/usage", params={"group_by": "agent,planet"}).status_code == 400
        assert api.http.get("/usage", params={"from": "last tuesday"}).status_code == 400
        later = api.http.get("/usage", params={"from": "2999-01-01"}).json()
    assert run["status"] == "Completed", run
    prices = PriceTable.load()
    ledger = SqliteLedger(api_home / "usage.sqlite3")
    records = ledger.query(tenant, run_id=run_id)
    ledger.close()
    by_unit = {u: sum(r.quantity for r in records if r.unit == u) for u in ("input_tokens", "output_tokens")}
    assert by_unit == {"input_tokens": 200, "output_tokens": 50}  # exactly what the server reported
    assert {r.model for r in records} == {"gpt-4o-mini"} and {r.key_mode for r in records} == {"byok"}
    expected = sum(
        cost_of(q, prices.price("openai", "gpt-4o-mini", u))
        for q, u in (
            (120, "input_tokens"),
            (30, "output_tokens"),
            (80, "input_tokens"),
            (20, "output_tokens"),
        )
    )
    assert Decimal(run["cost_eur"]) == expected > 0
    assert Decimal(run["nodes"]["a"]["cost_eur"]) + Decimal(run["nodes"]["b"]["cost_eur"]) == expected
    rows = {(r["agent"], r["unit"]): r for r in by_agent["rows"]}
    assert rows[("a", "input_tokens")]["quantity"] == {"input_tokens": 120}
    assert Decimal(by_agent["total_eur"]) == expected
    assert later["rows"] == [] and later["total_eur"] == "0"
