"""The Cosmos DB ledger through azure-cosmos, over a recording azure-core transport (no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convergio.metering import CosmosLedger, Ledger
from tests.metering._fake_cosmos import ENDPOINT, FakeCosmosTransport, FakeCredential
from tests.metering._samples import random_records, record

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


def _doc_posts(transport: FakeCosmosTransport) -> list[Any]:
    return [r for r in transport.requests if r.method == "POST" and r.url.rstrip("/") == DOCS]


def test_the_client_first_reads_the_account_with_an_entra_token(
    ledger: CosmosLedger, transport: FakeCosmosTransport
) -> None:
    assert isinstance(ledger, Ledger)
    first = transport.requests[0]
    assert first.method == "GET" and first.url == ENDPOINT
    assert all(
        r.headers["authorization"] == "type=aad&ver=1.0&sig=fake-entra-token" for r in transport.requests
    )


def test_records_are_upserted_by_id_into_the_tenant_partition(
    ledger: CosmosLedger, transport: FakeCosmosTransport
) -> None:
    records = [record(), record(unit="output_tokens", quantity=20), record(tenant_id='school "B"')]
    assert ledger.record(records) == 3
    posts = _doc_posts(transport)
    assert len(posts) == 3
    for request, sent in zip(posts, records, strict=True):
        assert request.headers["x-ms-documentdb-is-upsert"] == "True"
        assert json.loads(request.headers["x-ms-documentdb-partitionkey"]) == [sent.tenant_id]
        assert _body(request) == sent.to_json()
    assert transport.documents["tenant-a", records[0].id]["quantity"] == "1000"


def test_recording_again_replaces_the_same_documents(
    ledger: CosmosLedger, transport: FakeCosmosTransport
) -> None:
    records = random_records(11, 30)
    assert ledger.record(records) == 30
    assert ledger.record(records) == 0  # 200 replaced, not 201 created
    assert ledger.record([*records[:5], record()]) == 1
    assert len(transport.documents) == 31
    upserts = _doc_posts(transport)
    assert len(upserts) == 30 + 30 + 6
    assert {_body(r)["id"] for r in upserts} == {r.id for r in records} | {record().id}


def test_queries_are_parameterised_and_scoped_to_the_partition(
    ledger: CosmosLedger, transport: FakeCosmosTransport
) -> None:
    ledger.record(
        [
            record(run_id="run-1", at="2026-11-01T00:00:00Z"),
            record(run_id="run-2", at="2026-11-02T00:00:00Z"),
            record(run_id="run-2", at="2026-11-03T00:00:00Z", unit="tool_calls", quantity=2, cost=0),
            record(tenant_id="tenant-b", at="2026-11-02T00:00:00Z"),
        ]
    )
    transport.requests.clear()
    found = ledger.query("tenant-a", start="2026-11-02", end="2026-11-04T00:00:00+00:00", run_id="run-2")
    assert [(r.run_id, r.unit) for r in found] == [("run-2", "input_tokens"), ("run-2", "tool_calls")]
    (query,) = [r for r in _doc_posts(transport) if r.headers.get("x-ms-documentdb-isquery") == "true"]
    assert json.loads(query.headers["x-ms-documentdb-partitionkey"]) == ["tenant-a"]
    assert query.headers["Content-Type"] == "application/query+json"
    assert _body(query) == {
        "query": "SELECT * FROM c WHERE c.tenant_id = @t"
        " AND c.at >= @from AND c.at < @to AND c.run_id = @run",
        "parameters": [
            {"name": "@t", "value": "tenant-a"},
            {"name": "@from", "value": "2026-11-02T00:00:00.000000Z"},
            {"name": "@to", "value": "2026-11-04T00:00:00.000000Z"},
            {"name": "@run", "value": "run-2"},
        ],
    }
    assert [r.tenant_id for r in ledger.query("tenant-b")] == ["tenant-b"]
    assert [r.run_id for r in ledger.query("tenant-a")] == ["run-1", "run-2", "run-2"]


def test_a_tenant_id_cannot_inject_into_the_query(
    ledger: CosmosLedger, transport: FakeCosmosTransport
) -> None:
    ledger.query("x' OR 1=1 --")
    (query,) = [r for r in _doc_posts(transport) if r.headers.get("x-ms-documentdb-isquery") == "true"]
    assert _body(query)["query"] == "SELECT * FROM c WHERE c.tenant_id = @t"


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
