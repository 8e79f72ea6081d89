"""The Cosmos DB ledger on the wire, over a recording azure-core transport: only what the emulator
cannot show (the Entra ID token, the credential's scope, the exact query sent). Its behaviour as a
ledger runs against the emulator in ``test_ledger_contract.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convergio.metering import CosmosLedger, Ledger
from tests.metering._fake_cosmos import ENDPOINT, FakeCosmosTransport, FakeCredential
from tests.metering._samples import record

DOCS = f"{ENDPOINT}dbs/convergio/colls/usage/docs"


@pytest.fixture
def transport() -> FakeCosmosTransport:
    return FakeCosmosTransport()


@pytest.fixture
def ledger(transport: FakeCosmosTransport) -> CosmosLedger:
    return CosmosLedger.connect(
        ENDPOINT, "convergio", "usage", credential=FakeCredential(), transport=transport
    )


def _body(request: Any) -> Any:
    data = request.data
    return json.loads(data.decode() if isinstance(data, bytes) else data)


def _queries(transport: FakeCosmosTransport) -> list[Any]:
    return [
        r
        for r in transport.requests
        if r.method == "POST"
        and r.url.rstrip("/") == DOCS
        and r.headers.get("x-ms-documentdb-isquery") == "true"
    ]


def test_every_request_carries_an_entra_token(ledger: CosmosLedger, transport: FakeCosmosTransport) -> None:
    assert isinstance(ledger, Ledger)
    ledger.record([record()])
    ledger.query("tenant-a")
    first = transport.requests[0]
    assert first.method == "GET" and first.url == ENDPOINT
    assert all(
        r.headers["authorization"] == "type=aad&ver=1.0&sig=fake-entra-token" for r in transport.requests
    )
    (create,) = [r for r in transport.requests if r.method == "POST" and r not in _queries(transport)]
    assert "x-ms-documentdb-is-upsert" not in create.headers  # a create: an existing id is a 409
    assert json.loads(create.headers["x-ms-documentdb-partitionkey"]) == ["tenant-a"]


def test_queries_are_parameterised_and_name_the_partition(
    ledger: CosmosLedger, transport: FakeCosmosTransport
) -> None:
    ledger.query("tenant-a", start="2026-11-02", end="2026-11-04T00:00:00+00:00", run_id="run-2")
    ledger.run_costs("tenant-a", ["r1", "r1", "r2"])
    ledger.query("x' OR 1=1 --")
    found, costs, injected = _queries(transport)
    assert json.loads(found.headers["x-ms-documentdb-partitionkey"]) == ["tenant-a"]
    assert found.headers["Content-Type"] == "application/query+json"
    assert _body(found) == {
        "query": "SELECT * FROM c WHERE c.tenant_id = @t"
        " AND c.at >= @from AND c.at < @to AND c.run_id = @run",
        "parameters": [
            {"name": "@t", "value": "tenant-a"},
            {"name": "@from", "value": "2026-11-02T00:00:00.000000Z"},
            {"name": "@to", "value": "2026-11-04T00:00:00.000000Z"},
            {"name": "@run", "value": "run-2"},
        ],
    }
    assert _body(costs)["query"].startswith("SELECT c.run_id, c.cost FROM c WHERE c.tenant_id = @t")
    assert {"name": "@ids", "value": ["r1", "r2"]} in _body(costs)["parameters"]
    assert _body(injected)["query"] == "SELECT * FROM c WHERE c.tenant_id = @t"


def test_without_a_credential_it_uses_default_azure_credential(
    monkeypatch: pytest.MonkeyPatch, transport: FakeCosmosTransport
) -> None:
    import azure.identity

    made: list[FakeCredential] = []

    def default_credential() -> FakeCredential:
        made.append(FakeCredential())
        return made[-1]

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", default_credential)
    CosmosLedger.connect(ENDPOINT, "convergio", "usage", transport=transport)
    assert len(made) == 1 and made[0].scopes == ["https://convergio-test.documents.azure.com/.default"]


def test_empty_names_are_refused() -> None:
    with pytest.raises(ValueError, match="container_name must not be empty"):
        CosmosLedger.connect(ENDPOINT, "convergio", "")
