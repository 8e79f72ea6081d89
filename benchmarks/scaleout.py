"""Scale-out of the embedded host: 1 process against 2 (a worker process), same run (issue 22).

The product path of ``benchmarks/peers_convergio.py`` (the real ``function_app.py``, the
product's embedded settings, quota admission and usage metering on, offline agents) on the
500-wide fan-out and the chain of 100, with ``workers`` 1 (the host alone) and 2 (the host
and one worker process, ADR 0023 and 0029). Each measurement is a fresh
child process on a fresh state directory: two warm-up runs, then ``--runs`` timed runs; the
variants alternate round by round so that the machine's load falls on both alike. Prints ms
per node (median over every timed run of every round) and the 2-vs-1 ratio (above 1: two
processes are faster), plus the CPU seconds each process spent per node.

    python -m benchmarks.scaleout [--rounds 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from benchmarks.peers_convergio import ROOT, ConvergioRunner
from benchmarks.peers_workloads import build
from convergio._embedded import embedded_host
from convergio.graph import Catalog
from convergio.providers import PROVIDER_NAMES
from convergio.settings import load_settings
from convergio.tools import TOOL_NAMES

__all__ = ["ScaleoutRunner", "main"]

WORKLOADS = (("fan_out", 500), ("chain", 100))
VARIANTS = (1, 2)
_WORKER_START_S = 3.0  # a worker process imports the app before it claims anything


class ScaleoutRunner(ConvergioRunner):
    """``ConvergioRunner`` with ``workers`` processes running activities on its store."""

    def __init__(self, home: Path, workers: int) -> None:
        settings = load_settings(folder=ROOT)
        self.host = embedded_host(settings, app=ROOT / "function_app.py", home=home, port=0, workers=workers)
        self.engine = self.host.engine
        self.catalog = Catalog(providers=frozenset(PROVIDER_NAMES), tools=TOOL_NAMES)
        self.host.workers.start()
        self.engine.start()
        if workers > 1:
            time.sleep(_WORKER_START_S)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of this process and of each worker process (user + system)."""
        own = os.times()
        spent = {"host": own.user + own.system}
        ticks = os.sysconf("SC_CLK_TCK")
        for n, process in enumerate(self.host.workers.processes):
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            spent[f"worker{n + 1}"] = (int(fields[11]) + int(fields[12])) / ticks
        return spent

    def close(self) -> None:
        super().close()
        self.host.workers.stop()


def measure(kind: str, size: int, workers: int, runs: int) -> dict[str, object]:
    """In this process: ms per node of each timed run, and CPU ms per node by process."""
    workload = build(kind, size)
    with TemporaryDirectory() as home:
        runner = ScaleoutRunner(Path(home), workers)
        try:
            run = runner.prepare(workload)
            run()
            run()  # warm-up: imports, caches, every pool thread started, the worker's too
            walls, before = [], runner.cpu_seconds()
            for _ in range(runs):
                began = time.perf_counter()
                run()
                walls.append(1000 * (time.perf_counter() - began) / size)
            after = runner.cpu_seconds()
        finally:
            runner.close()
    cpu = {name: 1000 * (after[name] - before[name]) / (runs * size) for name in after}
    return {"walls": walls, "cpu": cpu}


def _child(kind: str, size: int, workers: int, runs: int) -> dict[str, object]:
    command = [sys.executable, "-m", "benchmarks.scaleout", "--child", kind, str(size), str(workers)]
    command += ["--runs", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {size} with {workers} processes failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SIZE", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, size, workers = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(measure(kind, size, workers, args.runs)), flush=True)
        return 0
    walls: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[dict[str, float]]] = {}
    for round_no in range(args.rounds):
        for kind, size in WORKLOADS:
            order = VARIANTS if round_no % 2 == 0 else tuple(reversed(VARIANTS))
            for workers in order:
                found = _child(kind, size, workers, args.runs)
                walls.setdefault((kind, workers), []).extend(found["walls"])  # type: ignore[arg-type]
                cpu.setdefault((kind, workers), []).append(found["cpu"])  # type: ignore[arg-type]
                print(f"round {round_no + 1} {kind} {size} x{workers}: {found}", file=sys.stderr, flush=True)
    print("| workload | 1 process ms/node | 2 processes ms/node | 2 vs 1 | CPU ms/node, 2 processes |")
    print("|---|---:|---:|---:|---|")
    for kind, size in WORKLOADS:
        one, two = statistics.median(walls[(kind, 1)]), statistics.median(walls[(kind, 2)])
        spent = {name: statistics.median(c[name] for c in cpu[(kind, 2)]) for name in cpu[(kind, 2)][0]}
        shares = ", ".join(f"{name} {value:.2f}" for name, value in spent.items())
        print(f"| {kind} {size} | {one:.2f} | {two:.2f} | {one / two:.2f}x | {shares} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
