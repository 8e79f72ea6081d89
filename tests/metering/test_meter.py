"""meter_call: one agent call's usage into the ledger, once, billed to the root run."""

from __future__ import annotations

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
