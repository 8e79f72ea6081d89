"""Where a node's time goes, as CPU per thread role, and how far that is from the work alone.

    .venv/bin/python -m benchmarks.peers_cpu [--kind fan_out] [--size 500] [--runs 10]

The embedded host runs orchestrator steps on one dispatcher thread and activities on a pool,
and Python code runs one thread at a time: so a run's wall time is bounded below by the CPU
its threads spend holding the interpreter. This prints, for the product path and the
diagnostic variant (quota admission and metering off; each in its own process), the wall time
and the CPU time of each thread role per node, then the cost of one ``run_agent`` activity
called alone on one thread (no other thread to hand the interpreter to): the activity side's
share of the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from benchmarks.peers_convergio import runner
from benchmarks.peers_workloads import KINDS, build
from convergio.host import Engine

__all__ = ["main"]

_ROLES = {"orchestrations": "dispatcher", "activity": "activity pool"}


def _role(thread: threading.Thread) -> str:
    return _ROLES.get(thread.name.split("_")[0], "other")


def _cpu_by_thread() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of every live thread, with its role."""
    clocks = {}
    for thread in threading.enumerate():
        if thread.ident is not None:
            clocks[thread.ident] = (
                _role(thread),
                time.clock_gettime(time.pthread_getcpuclockid(thread.ident)),
            )
    return clocks


def measure(variant: str, kind: str, size: int, runs: int) -> dict[str, float]:
    """One variant in this process: ms per node of wall and of each role's CPU."""
    workload = build(kind, size)
    captured: list[str] = []  # one run_agent input, to call it alone afterwards
    run_activity = Engine._run_activity

    def capture(engine: Engine, item: Any) -> None:
        if item.name == "run_agent" and not captured:
            captured.append(item.input)
        run_activity(engine, item)

    Engine._run_activity = capture  # type: ignore[method-assign]
    with TemporaryDirectory() as home:
        convergio = runner(variant, Path(home))
        try:
            run = convergio.prepare(workload)
            run()
            run()  # warm-up: imports, caches, and every pool thread started
            before, walls = _cpu_by_thread(), []
            for _ in range(runs):
                began = time.perf_counter()
                run()
                walls.append(time.perf_counter() - began)
            after = _cpu_by_thread()
            alone = _activity_alone(convergio.engine, captured[0])
        finally:
            convergio.close()
            Engine._run_activity = run_activity  # type: ignore[method-assign]
    per_node = 1000 / (runs * len(workload.nodes))
    result = {"wall": 1000 * statistics.median(walls) / len(workload.nodes)}
    for ident, (role, spent) in after.items():
        result[role] = result.get(role, 0.0) + (spent - before.get(ident, (role, 0.0))[1]) * per_node
    result["alone"] = alone
    return result


def _activity_alone(engine: Engine, input_json: str, calls: int = 500) -> float:
    """ms of CPU per ``run_agent`` call made one after another on this thread (new node ids,
    so every call reserves, meters and settles for real)."""
    call = json.loads(input_json)
    inputs = [json.dumps({**call, "node_id": f"alone-{uuid.uuid4().hex}"}) for _ in range(calls)]
    loop = asyncio.new_event_loop()  # an async activity (ADR 0065): each call on this thread's loop
    try:
        began = time.thread_time()
        for payload in inputs:
            loop.run_until_complete(engine.index.await_activity("run_agent", payload))
        return 1000 * (time.thread_time() - began) / calls
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, default="fan_out")
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--variant", choices=("sqlite", "bare"), help="measure one variant here (JSON out)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.kind, args.size, args.runs)))
        return
    rows = []
    for variant, label in (("sqlite", "product path"), ("bare", "diagnostic (no quota/metering)")):
        command = [sys.executable, "-m", "benchmarks.peers_cpu", "--variant", variant]
        command += ["--kind", args.kind, "--size", str(args.size), "--runs", str(args.runs)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append((label, json.loads(out.strip().splitlines()[-1])))
    print(f"{build(args.kind, args.size).label}, {args.runs} runs; ms per node")
    print("| variant | wall | dispatcher CPU | activity pool CPU | other CPU | one activity alone |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in rows:
        cells = [
            r["wall"],
            r.get("dispatcher", 0.0),
            r.get("activity pool", 0.0),
            r.get("other", 0.0),
            r["alone"],
        ]
        print(f"| {label} | " + " | ".join(f"{value:.3f}" for value in cells) + " |")


if __name__ == "__main__":
    main()
