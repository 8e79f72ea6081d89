"""The ledger contract, for both adapters: SQLite on a temporary file, and Cosmos DB on the
emulator (``CosmosLedger`` on the control plane's ``usage`` container). Idempotent by id with the
first record kept, exact round trips, filters, per-run totals, tenants kept apart."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from convergio.controlplane import CosmosPlane
from convergio.metering import (
    CosmosLedger,
    Ledger,
    Metered,
    PriceTable,
    SqliteLedger,
    UsageRecord,
    meter_kept,
    meter_kept_async,
)
from tests._emulators import CosmosEmulator
from tests.metering._samples import random_records, record

OpenLedger = Callable[[], Ledger]


OLDER_SQLITE = """
CREATE TABLE usage (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, run_id TEXT NOT NULL, node_id TEXT NOT NULL,
    attempt INTEGER NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, key_mode TEXT NOT NULL,
    unit TEXT NOT NULL, quantity TEXT NOT NULL, unit_price TEXT NOT NULL, cost TEXT NOT NULL,
    at TEXT NOT NULL, unpriced INTEGER NOT NULL, estimated INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX usage_tenant_at ON usage(tenant_id, at);
CREATE INDEX usage_tenant_run ON usage(tenant_id, run_id);
"""
"""A ledger as made before ADR 0048 (a ``WITHOUT ROWID`` table): kept as it is, and a ledger."""


@pytest.fixture(params=["sqlite", "sqlite-older", "cosmos"])
def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    """Open another ledger on the same data: another process (SQLite) or app instance (Cosmos DB)."""
    opened: list[SqliteLedger] = []
    if request.param == "sqlite-older":
        with sqlite3.connect(tmp_path / "usage.sqlite3") as db:
            db.executescript(OLDER_SQLITE)
        db.close()
    if request.param.startswith("sqlite"):

        def sqlite() -> Ledger:
            opened.append(SqliteLedger(tmp_path / "usage.sqlite3"))
            return opened[-1]

        yield sqlite
    else:
        emulator: CosmosEmulator = request.getfixturevalue("cosmos_emulator")
        plane: CosmosPlane = request.getfixturevalue("cosmos_plane")
        instances: list[CosmosLedger] = []

        def cosmos() -> Ledger:
            if instances:  # another instance: its own client on the same database
                other = CosmosPlane.connect(
                    emulator.endpoint, plane.database.id, key=emulator.key, verify_tls=False
                )
                instances.append(CosmosLedger(other.container("usage")))
            else:
                instances.append(CosmosLedger(plane.container("usage")))
            return instances[-1]

        yield cosmos
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: OpenLedger) -> Ledger:
    return open_ledger()


def test_it_is_a_ledger(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)


def test_recording_is_idempotent_and_duplicates_in_a_batch_count_once(ledger: Ledger) -> None:
    records = random_records(1, 12)
    assert ledger.record(records) == 12
    assert ledger.record(records[:4]) == 0
    assert ledger.record([record(), record(), record(unit="output_tokens")]) == 2
    assert ledger.record([]) == 0
    tenants = {r.tenant_id for r in records}
    assert sorted(r.id for t in tenants for r in ledger.query(t)) == sorted(r.id for r in records)


def test_the_first_record_of_an_id_is_kept(ledger: Ledger) -> None:
    ledger.record([record()])
    redelivered = record(at="2026-11-24T10:00:09Z", quantity=999, cost=Decimal(9))  # same key, new body
    assert redelivered.id == record().id
    assert ledger.record([redelivered]) == 0
    assert ledger.query("tenant-a") == [record()]
    assert ledger.run_costs("tenant-a", ["run-1"]) == {"run-1": record().cost}


def test_records_round_trip_exactly(ledger: Ledger) -> None:
    records = random_records(2, 24, fractional=True)
    ledger.record(records)
    for tenant in {r.tenant_id for r in records}:
        mine = sorted((r for r in records if r.tenant_id == tenant), key=lambda r: (r.at, r.id))
        assert ledger.query(tenant) == mine


def test_query_filters_and_tenants_apart(ledger: Ledger) -> None:
    ledger.record(
        [
            record(run_id="run-1", at="2026-11-01T00:00:00Z"),
            record(run_id="run-1", at="2026-11-01T12:00:00Z", unit="output_tokens"),
            record(run_id="run-2", at="2026-11-02T00:00:00Z"),
            record(run_id="run-2", at="2026-11-03T00:00:00.000001Z", unit="output_tokens"),
            record(tenant_id="tenant-b", run_id="run-1", at="2026-11-01T06:00:00Z"),
        ]
    )

    def runs(**filters: str) -> list[tuple[str, str]]:
        return [(r.run_id, r.at[:10]) for r in ledger.query("tenant-a", **filters)]

    assert runs() == [
        ("run-1", "2026-11-01"),
        ("run-1", "2026-11-01"),
        ("run-2", "2026-11-02"),
        ("run-2", "2026-11-03"),
    ]
    assert runs(run_id="run-2") == [("run-2", "2026-11-02"), ("run-2", "2026-11-03")]
    assert runs(start="2026-11-02") == [("run-2", "2026-11-02"), ("run-2", "2026-11-03")]  # inclusive
    assert runs(end="2026-11-02") == [("run-1", "2026-11-01"), ("run-1", "2026-11-01")]  # exclusive
    assert runs(start="2026-11-01T12:00:00+00:00", end="2026-11-03T00:00:00Z") == [
        ("run-1", "2026-11-01"),
        ("run-2", "2026-11-02"),
    ]
    assert runs(start="2026-11-03T01:00:00+01:00") == [("run-2", "2026-11-03")]  # offsets are converted
    assert runs(start="2026-11-02", run_id="run-1") == []
    assert [r.tenant_id for r in ledger.query("tenant-b")] == ["tenant-b"]
    assert ledger.query("tenant-c") == [] and ledger.query("x' OR 1=1 --") == []
    with pytest.raises(ValueError, match="start"):
        ledger.query("tenant-a", start="last week")


def test_run_totals_match_summing_each_runs_records(ledger: Ledger) -> None:
    records = random_records(7, 40)
    ledger.record(records)
    tenant = records[0].tenant_id
    asked = [*sorted({r.run_id for r in records if r.tenant_id == tenant})[:5], "run-without-usage"]
    expected = {
        run: sum((r.cost for r in records if r.tenant_id == tenant and r.run_id == run), Decimal(0))
        for run in asked
    }
    totals = ledger.run_costs(tenant, [*asked, asked[0]])  # a repeated run is asked once
    assert totals == expected
    assert totals["run-without-usage"] == 0 and sum(totals.values()) > 0


def test_run_totals_never_cross_tenants(ledger: Ledger) -> None:
    ledger.record(
        [
            record(tenant_id="a", run_id="shared", cost=Decimal("0.25")),
            record(tenant_id="a", run_id="shared", unit="output_tokens", cost=Decimal("0.00000001")),
            record(tenant_id="b", run_id="shared", cost=Decimal("9")),
        ]
    )
    assert ledger.run_costs("a", ["shared"]) == {"shared": Decimal("0.25000001")}
    assert ledger.run_costs("a", []) == {}


def test_two_instances_recording_the_same_calls_in_parallel_store_each_once(open_ledger: OpenLedger) -> None:
    instances = [open_ledger(), open_ledger()]
    records = random_records(5, 10)
    with ThreadPoolExecutor(8) as pool:
        created = sum(pool.map(lambda n: instances[n % 2].record(records), range(8)))
    assert created == 10
    tenants = {r.tenant_id for r in records}
    assert sum(len(instances[0].query(t)) for t in tenants) == 10


def test_get_reads_the_stored_records_of_these_ids_in_one_tenant(ledger: Ledger) -> None:
    kept = [record(), record(unit="output_tokens", quantity=10, cost=Decimal("0.0000055"))]
    ledger.record(kept)
    ids = [r.id for r in kept] + ["0" * 64]
    assert sorted(ledger.get("tenant-a", ids), key=lambda r: r.unit) == kept  # an unknown id is not there
    assert ledger.get("tenant-b", ids) == [] and ledger.get("tenant-a", []) == []


def test_a_re_sent_call_is_metered_with_what_its_first_delivery_kept(ledger: Ledger) -> None:
    prices = PriceTable.load()
    where = {
        "tenant_id": "t",
        "run_id": "R",
        "node_id": "a",
        "step": 3,
        "provider": "openai",
        "model": "gpt-4o",
    }
    first = meter_kept(ledger, prices, **where, usage={"prompt_tokens": 100, "completion_tokens": 40})
    again = meter_kept(ledger, prices, **where, usage={"prompt_tokens": 90, "completion_tokens": 900})
    failed = meter_kept(ledger, prices, **where, usage={})  # the re-sent call failed this time
    assert first == again == failed
    assert first.usage == {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "tool_calls": 0,
    }
    assert first.cost == sum((r.cost for r in ledger.query("t", run_id="R")), Decimal(0)) > 0
    assert (
        meter_kept(ledger, prices, **{**where, "step": 4}, usage={}).cost == 0
    )  # nothing kept, nothing billed


def test_calls_on_one_loop_are_written_together_and_a_re_sent_one_keeps_its_first(ledger: Ledger) -> None:
    """``meter_kept_async`` (ADR 0065): the calls of one turn of a loop are one ``record``; a
    re-sent call among them still shows what its first delivery kept, the others their own."""
    prices = PriceTable.load()

    def where(node: str) -> dict[str, Any]:
        return {
            "tenant_id": "t",
            "run_id": "R",
            "node_id": node,
            "step": 1,
            "provider": "openai",
            "model": "gpt-4o",
        }

    first = meter_kept(ledger, prices, **where("a"), usage={"prompt_tokens": 100, "completion_tokens": 40})
    writes: list[int] = []
    record = ledger.record

    def counted(records: Sequence[UsageRecord]) -> int:
        writes.append(len(records))
        return record(records)

    ledger.record = counted  # type: ignore[method-assign]

    async def calls() -> list[Metered]:
        again = meter_kept_async(
            ledger, prices, **where("a"), usage={"prompt_tokens": 5, "completion_tokens": 5}
        )
        new = [
            meter_kept_async(
                ledger, prices, **where(f"n{i}"), usage={"prompt_tokens": 10 + i, "completion_tokens": 1}
            )
            for i in range(5)
        ]
        return list(await asyncio.gather(again, *new))

    again, *new = asyncio.run(calls())
    assert writes == [12]  # six calls of two records each, in one write
    assert again == first
    assert [kept.usage["prompt_tokens"] for kept in new] == [10, 11, 12, 13, 14]
    assert len(ledger.query("t", run_id="R")) == 12
