"""Smoke tests of the issue 22 benchmarks: the front-door row, cold start, the roll-up crossover.

Behaviour only (the figures are the benchmarks' business): each one runs on a tiny input and
reports what it should.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import coldstart
from benchmarks.peers import check_targets, summarise
from benchmarks.peers_http import HttpRunner
from benchmarks.peers_http_profile import summarise as summarise_profile
from benchmarks.peers_worker import system
from benchmarks.peers_workloads import build
from convergio.kernels._rollup import group_sums, group_sums_python


@pytest.mark.parametrize("mode", ["poll", "sse"])
def test_the_front_door_row_runs_a_graph_through_http_on_a_host_process(mode: str, tmp_path: Path) -> None:
    runner = HttpRunner(mode, tmp_path)
    try:
        run = runner.prepare(build("fan_out", 3))
        assert run() == 4
        assert run() == 4  # a second run on the same host and client
    finally:
        runner.close()
    assert runner.host.process.poll() is not None


def test_the_front_door_systems_are_in_the_peers_table() -> None:
    assert system("convergio-http-poll").module == "benchmarks.peers_http"
    assert system("convergio-http-sse").variant == "sse"


def test_coldstart_samples_both_apps_and_reports_the_ratio() -> None:
    samples = coldstart.measure(1)
    assert set(samples) == {
        "minimal Durable app",
        "Convergio function_app",
        "Convergio, then a first run's imports",
    }
    minimal = samples["minimal Durable app"][0]
    assert minimal.modules > 100 and "aiohttp" in minimal.heavy  # the Durable SDK brings it
    text, ratio = coldstart.table(samples)
    assert ratio > 0 and "| Convergio function_app |" in text
    assert "numpy" not in samples["Convergio function_app"][0].heavy


def test_the_numpy_path_gives_the_kernels_sums_in_the_same_order() -> None:
    rng = np.random.default_rng(3)
    n = 500
    codes = [rng.integers(0, 7, n), rng.integers(0, 50, n)]
    units, quantity, cost = rng.integers(0, 4, n), rng.integers(0, 1000, n), rng.integers(0, 10**9, n)
    numpy_sums = group_sums(codes, [7, 50], units, 4, quantity, cost, engine="numpy")
    numba_sums = group_sums(codes, [7, 50], units, 4, quantity, cost, engine="numba")
    for field in ("first_row", "quantity", "cost", "count"):
        assert np.array_equal(getattr(numpy_sums, field), getattr(numba_sums, field)), field
    keys, quantities, costs, counts = group_sums_python(
        [c.tolist() for c in codes], units.tolist(), 4, quantity.tolist(), cost.tolist()
    )
    assert numpy_sums.count.tolist() == counts and numpy_sums.cost.tolist() == costs
    assert numpy_sums.quantity.tolist() == quantities
    assert [tuple(int(c[row]) for c in codes) for row in numpy_sums.first_row] == keys


def test_the_front_door_target_is_checked_against_langgraph_sqlite_on_every_workload() -> None:
    small, wide = build("fan_out", 100), build("fan_out", 500)
    results = {
        ("convergio-http-poll", small.key): [202.0],  # 2.0 ms/node
        ("langgraph-sqlite", small.key): [101.0],  # 1.0 ms/node
        ("convergio-http-poll", wide.key): [250.5],  # 0.5 ms/node
        ("langgraph-sqlite", wide.key): [501.0],  # 1.0 ms/node
        ("convergio-http-sse", wide.key): [250.5],
    }
    lines = check_targets(summarise(results, [small, wide]))
    poll = next(line for line in lines if line.startswith("Convergio through HTTP: start + poll"))
    assert "on 1 of 2 workloads (target: all): MISSED" in poll
    assert poll.endswith("worst fan-out 100 + aggregator at 2.00x its cost")
    sse = next(line for line in lines if line.startswith("Convergio through HTTP: start + SSE"))
    assert "on 1 of 1 workloads (target: all): met" in sse


def test_the_profile_summary_shares_threads_and_lists_the_projects_http_functions() -> None:
    raw = "\n".join(
        [
            "thread (1): MainThread;main (convergio/cli.py:3);get_run (convergio/api/_runs.py:9);"
            "loads (json/__init__.py:1) 3",
            "thread (2): activity_4;run_agent (activities/_blueprint.py:21) 1",
            "thread (3): orchestrations;step (convergio/host/_engine.py:5) 0",
        ]
    )
    text = summarise_profile(raw).splitlines()
    assert text[0] == "4 samples"
    assert text[1] == " 75.0 %  MainThread" and text[2] == " 25.0 %  activity"
    assert text[-1] == " 75.0 %  get_run (convergio/api/_runs.py)"  # no cli.py, no json
    assert summarise_profile("").startswith("no samples")
