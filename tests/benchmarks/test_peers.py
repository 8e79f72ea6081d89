"""The peers benchmark's own logic, in the product venv (no peer framework installed).

Convergio's side must build graphs the product accepts with the workloads' exact shapes, and
the table must compute medians, per-node costs, ratios and target verdicts correctly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.peers import check_targets, markdown_table, ratio, summarise
from benchmarks.peers_convergio import graph_spec
from benchmarks.peers_workloads import Workload, build, workloads
from convergio.graph import Catalog, parse_graph
from convergio.providers import PROVIDER_NAMES
from convergio.tools import TOOL_NAMES

ROOT = Path(__file__).resolve().parents[2]
CATALOG = Catalog(providers=frozenset(PROVIDER_NAMES), tools=TOOL_NAMES)


@pytest.mark.parametrize("workload", workloads(quick=False), ids=lambda w: w.key)
def test_each_workload_is_a_valid_convergio_graph_with_the_same_shape(workload: Workload) -> None:
    spec = parse_graph(graph_spec(workload), CATALOG)
    shape = tuple((a.id, tuple(a.depends_on)) for a in spec.agents)
    assert shape == workload.nodes
    assert spec.output == workload.output


def test_workload_shapes() -> None:
    fan = build("fan_out", 500)
    assert len(fan.nodes) == 501 and fan.sinks() == ["aggregator"] and len(fan.roots()) == 500
    chain = build("chain", 100)
    assert chain.roots() == ["a0"] and chain.sinks() == ["a99"]
    assert all(deps == (f"a{i - 1}",) for i, (_, deps) in enumerate(chain.nodes) if i)
    diamond = build("diamond", 200)
    assert diamond.layers == 10 and len(diamond.roots()) == 20 and len(diamond.sinks()) == 20
    assert dict(diamond.nodes)["d3_19"] == ("d2_19", "d2_0")  # wraps around the layer
    with pytest.raises(ValueError, match="cannot have"):
        build("diamond", 15)


def test_table_medians_per_node_costs_ratios_and_targets() -> None:
    small, wide, chain = build("fan_out", 100), build("fan_out", 500), build("chain", 100)
    results = {
        ("convergio", small.key): [20.2, 10.1, 30.3],  # median 20.2 ms over 101 nodes
        ("langgraph-sqlite", small.key): [101.0, 202.0, 150.0],
        ("convergio", wide.key): [100.2, 150.3, 120.24],  # median 120.24 / 501 = 0.24 ms/node
        ("maf-file", wide.key): [601.2, 601.2],
        ("convergio", chain.key): [50.0, 50.0, 50.0],  # 0.5 ms/node = 2.5x the 100-wide fan-out
    }
    rows = summarise(results, [small, wide, chain])
    assert [(r.workload.key, r.system.name) for r in rows] == [
        (small.key, "convergio"),
        (small.key, "langgraph-sqlite"),
        (wide.key, "convergio"),
        (wide.key, "maf-file"),
        (chain.key, "convergio"),
    ]
    assert rows[0].median_ms == pytest.approx(20.2) and rows[0].ms_per_node == pytest.approx(0.2)
    table = markdown_table(rows).splitlines()
    assert table[2].endswith("| 101 | 20.2 | 0.200 | 1.0x |")
    assert table[3].endswith("| 101 | 150.0 | 1.485 | 7.4x |")
    assert table[5].endswith("| 501 | 601.2 | 1.200 | 5.0x |")
    verdicts = check_targets(rows)
    assert verdicts[0] == "fan-out 500: 0.240 ms/node (target <= 0.3 ms): met"
    assert "5.0x Convergio's cost per node" in verdicts[1]
    assert verdicts[-1].startswith("chain 100: 0.500 ms/node = 2.50x") and verdicts[-1].endswith("MISSED")


def test_ratio_shows_faster_peers_with_two_decimals() -> None:
    assert ratio(50.0, 200.0) == "0.25x"
    assert ratio(300.0, 100.0) == "3.0x"
    assert ratio(1.0, 0.0) == "n/a"


def test_cpu_accounting_charges_the_dispatcher_and_the_pool() -> None:
    """``peers_cpu`` (in its own process: it hosts the app) reports CPU for both thread roles."""
    command = [sys.executable, "-m", "benchmarks.peers_cpu", "--variant", "sqlite"]
    command += ["--kind", "fan_out", "--size", "8", "--runs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    cpu = json.loads(done.stdout.strip().splitlines()[-1])
    assert cpu["wall"] > 0 and cpu["alone"] > 0
    assert cpu["dispatcher"] > 0 and cpu["activity pool"] > 0
