"""The parts benchmark (ADR 0064): each variant switches off its part, and only it, in a child of
its own; a small alternated run reports every variant's figures and the table compares them."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from benchmarks.parts import VARIANTS, measure, table

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_alternated_run_reports_every_variants_figures() -> None:
    figures = measure(["product", "insert-skipped", "neither"], "fan_out", 3, rounds=2, runs=1)
    assert list(figures) == ["product", "insert-skipped", "neither"]
    for rows in figures.values():
        assert len(rows) == 2
        for row in rows:
            assert row["wall"] > 0 and (math.isnan(row["cpu"]) or row["cpu"] > 0)
            assert math.isnan(row["switches"]) or row["switches"] >= 0
    shown = table(figures)
    assert shown.count("\n| ") == 3 and "| insert-skipped |" in shown and "| neither |" in shown


def test_the_table_gives_each_variants_difference_to_the_product() -> None:
    rows = {
        "product": [{"cpu": 0.8, "wall": 0.7, "switches": 7.0}, {"cpu": 0.9, "wall": 0.8, "switches": 7.4}],
        "no-metering": [
            {"cpu": 0.6, "wall": 0.5, "switches": 3.0},
            {"cpu": 0.5, "wall": 0.5, "switches": 3.2},
        ],
    }
    lines = table(rows).splitlines()
    assert lines[2] == "| product | 0.850 (0.800) |  | 0.750 | 7.2 |"
    assert lines[3] == "| no-metering | 0.550 (0.500) | -0.300 | 0.500 | 3.1 |"


_PROBE = """
import sys
from pathlib import Path
from benchmarks.parts import VARIANTS
VARIANTS[sys.argv[1]]()
from activities import agents
from convergio.metering import SqliteLedger
from convergio.tenants import SqliteTenantStore
home = Path(sys.argv[2])
ledger = SqliteLedger(home / "usage.sqlite3")
tenants = SqliteTenantStore(home / "tenants.sqlite3")
with ledger._db.read() as db, tenants._db.read() as other:
    modes = db.execute("PRAGMA synchronous").fetchone()[0], other.execute("PRAGMA synchronous").fetchone()[0]
metering = agents.meter_kept.__name__, agents.meter_kept_async.__name__
print(modes[0], modes[1], agents._allowance.__name__, *metering)
"""


def test_each_variant_switches_off_its_own_part_only(tmp_path: Path) -> None:
    seen = {}
    for variant in ("product", "ledger-normal", "no-quota", "no-metering"):
        home = tmp_path / variant
        home.mkdir()
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, variant, str(home)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        seen[variant] = done.stdout.split()
    metered = ["meter_kept", "meter_kept_async"]  # a call on a thread, on the loop (ADR 0065)
    assert seen["product"] == ["2", "2", "_allowance", *metered]
    assert seen["ledger-normal"] == ["1", "2", "_allowance", *metered]  # the ledger's only
    assert seen["no-quota"] == ["2", "2", "<lambda>", *metered]
    assert seen["no-metering"] == ["2", "2", "_allowance", "shown", "shown_async"]
    assert set(VARIANTS) >= {"product", "neither", "ledger-unwritten", "insert-skipped"}
