"""Per-run cost totals for a list of runs: one query, both ledgers, the same exact answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from convergio.metering import CosmosLedger, Ledger, SqliteLedger
from tests.metering._fake_cosmos import ENDPOINT, FakeCosmosTransport, FakeCredential
from tests.metering._samples import random_records, record


@pytest.fixture(params=["sqlite", "cosmos"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        with SqliteLedger(tmp_path / "usage.sqlite3") as sqlite:
            yield sqlite
    else:
        yield CosmosLedger.connect(
            ENDPOINT, "convergio", "usage", credential=FakeCredential(), transport=FakeCosmosTransport()
        )


def test_totals_match_summing_each_runs_records(ledger: Ledger) -> None:
    records = random_records(7, 200)
    ledger.record(records)
    tenant = records[0].tenant_id
    asked = [*sorted({r.run_id for r in records if r.tenant_id == tenant})[:5], "run-without-usage"]
    expected = {
        run: sum((r.cost for r in records if r.tenant_id == tenant and r.run_id == run), Decimal(0))
        for run in asked
    }
    totals = ledger.run_costs(tenant, asked)
    assert totals == expected
    assert totals["run-without-usage"] == 0 and sum(totals.values()) > 0


def test_totals_never_cross_tenants(ledger: Ledger) -> None:
    ledger.record(
        [
            record(tenant_id="a", run_id="shared", cost=Decimal("0.25")),
            record(tenant_id="a", run_id="shared", unit="output_tokens", cost=Decimal("0.00000001")),
            record(tenant_id="b", run_id="shared", cost=Decimal("9")),
        ]
    )
    assert ledger.run_costs("a", ["shared"]) == {"shared": Decimal("0.25000001")}
    assert ledger.run_costs("a", []) == {}


def test_sqlite_answers_many_runs_in_chunks(tmp_path: Path) -> None:
    with SqliteLedger(tmp_path / "usage.sqlite3") as sqlite:
        sqlite.record([record(run_id=f"r{i}", cost=Decimal(i)) for i in range(1200)])
        totals = sqlite.run_costs("tenant-a", [f"r{i}" for i in range(1200)])
    assert len(totals) == 1200 and totals["r1199"] == 1199 and sum(totals.values()) == sum(range(1200))


def test_cosmos_reads_two_fields_in_one_partitioned_query() -> None:
    transport = FakeCosmosTransport()
    cosmos = CosmosLedger.connect(
        ENDPOINT, "convergio", "usage", credential=FakeCredential(), transport=transport
    )
    cosmos.record([record(run_id="r1"), record(run_id="r2")])
    before = len(transport.requests)
    cosmos.run_costs("tenant-a", ["r1", "r1", "r2"])
    queries = [r for r in transport.requests[before:] if r.headers.get("x-ms-documentdb-isquery") == "true"]
    assert len(queries) == 1
    sent = queries[0].data
    assert isinstance(sent, bytes | str)
    body = json.loads(sent)
    assert body["query"].startswith("SELECT c.run_id, c.cost FROM c WHERE c.tenant_id = @t")
    assert {"name": "@ids", "value": ["r1", "r2"]} in body["parameters"]
    assert json.loads(queries[0].headers["x-ms-documentdb-partitionkey"]) == ["tenant-a"]
