"""meter_call: one agent call's usage into the ledger, once, billed to the root run."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from convergio.metering import PriceTable, SqliteLedger, cost_of, meter_call, root_run


def test_root_run_bills_sub_graph_usage_to_the_parent_run() -> None:
    assert root_run("R", "a") == ("R", "a")
    assert root_run("R/sub", "x") == ("R", "sub/x")
    assert root_run("R/sub/deeper", "x") == ("R", "sub/deeper/x")


def test_a_repeated_call_is_billed_once(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    args = {
        "tenant_id": "t",
        "run_id": "R/sub",
        "node_id": "x",
        "step": 3,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 4,
            "total_tokens": 14,
            "tool_calls": 0,
            "estimated": True,
        },
        "at": datetime(2026, 11, 24, tzinfo=UTC),
    }
    prices = PriceTable.load()
    cost = meter_call(ledger, prices, **args)
    unit_in = prices.price("openai", "gpt-4o-mini", "input_tokens")
    unit_out = prices.price("openai", "gpt-4o-mini", "output_tokens")
    assert cost == cost_of(10, unit_in) + cost_of(4, unit_out) > 0  # each record rounded to 1e-8
    assert len(ledger.query("t", run_id="R")) == 2  # input + output tokens; zero tool calls skipped
    assert meter_call(ledger, prices, **args) == cost  # redelivered: same cost, nothing new stored
    assert len(ledger.query("t", run_id="R")) == 2
    meter_call(ledger, prices, **(args | {"step": 4}))  # the next call is new
    records = ledger.query("t", run_id="R")
    assert {r.node_id for r in records} == {"sub/x"} and len(records) == 4
    assert meter_call(ledger, prices, **(args | {"usage": {"total_tokens": 0}})) == 0
    ledger.close()


def test_locally_counted_tokens_are_marked_estimated_and_survive_the_ledger(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "usage.sqlite3")
    prices = PriceTable.load()
    base = {"tenant_id": "t", "node_id": "x", "provider": "openai", "model": "gpt-4o-mini", "step": 1}
    meter_call(
        ledger,
        prices,
        run_id="streamed",
        usage={"prompt_tokens": 10, "completion_tokens": 4, "tool_calls": 2, "estimated": True},
        **base,
    )
    meter_call(ledger, prices, run_id="reported", usage={"prompt_tokens": 10}, **base)
    marks = {r.unit: r.estimated for r in ledger.query("t", run_id="streamed")}
    assert marks == {"input_tokens": True, "output_tokens": True, "tool_calls": False}
    assert [r.estimated for r in ledger.query("t", run_id="reported")] == [False]
    ledger.close()


def test_a_ledger_written_before_the_estimated_column_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    ledger = SqliteLedger(path)
    meter_call(
        ledger,
        PriceTable.load(),
        tenant_id="t",
        run_id="old",
        node_id="x",
        step=1,
        provider="openai",
        model="gpt-4o-mini",
        usage={"prompt_tokens": 3},
    )
    ledger.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE usage DROP COLUMN estimated")
    db.commit()
    db.close()
    again = SqliteLedger(path)
    assert [(r.quantity, r.estimated) for r in again.query("t", run_id="old")] == [(3, False)]
    again.close()
