"""The scale-out benchmark measures with the engine's internals (its dispatcher thread's
scheduler wait, its worker processes' clocks): a small run in one and two processes, as the
benchmark's child does it, so a change of those internals breaks a test, not a later session's
benchmark run (ADR 0046 moved the dispatcher thread and broke it unnoticed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_small_scaleout_child_run_reports_walls_waits_and_cpu(workers: int) -> None:
    command = [sys.executable, "-m", "benchmarks.scaleout", "--child", "fan_out", "20", str(workers)]
    command += ["--runs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["walls"]) == len(result["waits"]) == 2
    assert all(wall > 0 for wall in result["walls"])
    assert all(wait >= 0 for wait in result["waits"])
    assert result["cpu"] and all(ms >= 0 for ms in result["cpu"].values())
    if workers == 2:
        assert "worker1" in result["cpu"], result["cpu"]


def test_the_front_door_rows_compare_one_and_two_processes_through_http() -> None:
    """``--front-door``: real hosts through HTTP + SSE, one row per variant with each process's CPU;
    the two-process host's worker ran the fan-out's agents (so the variable reached its host)."""
    command = [sys.executable, "-m", "benchmarks.scaleout", "--front-door", "--rounds", "1"]
    command += ["--workloads", "fan_out:20"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| fan_out 20 ")]
    assert [row[1].strip() for row in rows] == ["1", "2"], done.stdout
    (one, two) = ([float(cell) for cell in row[2:4] + row[5:]] for row in rows)
    assert all(value >= 0 for value in one + two) and one[0] > 0 and two[0] > 0
    assert one[-1] == 0 and two[-1] > 0, done.stdout  # workers' CPU: none alone, some with a worker
