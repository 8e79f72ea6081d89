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
