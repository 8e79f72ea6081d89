"""Scale-out of the embedded host: 1 process against 2 (a worker process), same run (issue 22).

The product path of ``benchmarks/peers_convergio.py`` (the real ``function_app.py``, the
product's embedded settings, quota admission and usage metering on, offline agents) on the
500-wide fan-out and the chain of 100, with ``workers`` 1 (the host alone) and 2 (the host
and one worker process, ADR 0023, 0029 and 0039). Each measurement is a fresh child process on
a fresh state directory: two warm-up runs, then ``--runs`` timed runs; the variants alternate
round by round so that the machine's load falls on both alike.

Prints, per workload and variant: ms per node (median and 90th percentile over every timed
run of every round), the 2-vs-1 ratio of the medians (above 1: two processes are faster), the
CPU each process spent per node (the host's split by thread role), and, per run, how many
cores the machine's other processes kept busy meanwhile (``/proc/stat`` less our own CPU) and
how long the dispatcher thread waited for a core while it could run (its ``schedstat``). Those
two explain a slow run on a shared machine: the kernel shares the cores between sessions
(autogroups), not processes, so a second process gains only while no other session wants the
second core (ADR 0039). The last table sorts the runs by that outside load.

``--front-door`` measures the same two variants through HTTP + SSE instead: one ``python -m
convergio start`` host per variant (``benchmarks/peers_http.py``, started with
``FUNCTIONS_WORKER_PROCESS_COUNT`` 1 and 2), both alive for the whole run, one run of each in
turn, so that the load falls on both alike (ADR 0054). Per variant: ms per node, and what each
process's threads ran and waited for a core while runnable, per node (their ``schedstat``).

    python -m benchmarks.scaleout [--rounds 3] [--runs 3]
    python -m benchmarks.scaleout --front-door [--rounds 9] [--workloads fan_out:50,chain:100,fan_out:500]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from benchmarks.peers_convergio import ROOT, ConvergioRunner
from benchmarks.peers_http import HttpRunner
from benchmarks.peers_workloads import build
from convergio._embedded import embedded_host
from convergio.graph import Catalog
from convergio.host._workers import WORKERS_SETTING
from convergio.providers import PROVIDER_NAMES
from convergio.settings import load_settings
from convergio.tools import TOOL_NAMES

__all__ = ["ScaleoutRunner", "main"]

WORKLOADS = (("fan_out", 500), ("chain", 100))
VARIANTS = (1, 2)
_WORKER_START_S = 3.0  # a worker process imports the app before it runs anything
_HOST_ROLES = ("orchestrations", "worker-results", "worker-items", "activity")  # the rest: "other"


def _schedstat(task: Path) -> tuple[float, float]:
    """Seconds a thread (``/proc/<pid>/task/<tid>``) ran, and waited for a core while runnable."""
    try:
        ran, waited = (task / "schedstat").read_text().split()[:2]
    except OSError:  # it ended meanwhile
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


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
        """CPU time so far of this process, of its thread roles (each thread's own clock), and
        of each worker process (user + system)."""
        own = os.times()
        spent = {"host": own.user + own.system}
        for thread in threading.enumerate():
            if thread.ident is not None:
                role = thread.name.split("_")[0]
                key = "host " + (role if role in _HOST_ROLES else "other")
                clock = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
                spent[key] = spent.get(key, 0.0) + clock
        ticks = os.sysconf("SC_CLK_TCK")
        for n, process in enumerate(self.host.workers.processes):
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            spent[f"worker{n + 1}"] = (int(fields[11]) + int(fields[12])) / ticks
        return spent

    def clocks(self) -> tuple[float, float, float]:
        """CPU seconds so far of this process and its workers (to the nanosecond: the workers'
        live threads), seconds the dispatcher thread waited for a core while runnable, and
        CPU seconds the whole machine has spent (``/proc/stat``: every process, ours too)."""
        spent = time.process_time()
        for process in self.host.workers.processes:
            spent += sum(_schedstat(task)[0] for task in Path(f"/proc/{process.pid}/task").iterdir())
        waited = _schedstat(Path(f"/proc/self/task/{self.engine._dispatch._thread.native_id}"))[1]
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        machine = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait
        return spent, waited, machine

    def close(self) -> None:
        super().close()
        self.host.workers.stop()


def measure(kind: str, size: int, workers: int, runs: int) -> dict[str, object]:
    """In this process: per timed run, ms per node, the cores other processes of the machine
    kept busy meanwhile, and the ms per node the dispatcher waited for a core; and CPU ms per
    node by process and thread role."""
    workload = build(kind, size)
    with TemporaryDirectory() as home:
        runner = ScaleoutRunner(Path(home), workers)
        try:
            run = runner.prepare(workload)
            run()
            run()  # warm-up: imports, caches, every pool thread started, the worker's too
            walls, others, waits, before = [], [], [], runner.cpu_seconds()
            for _ in range(runs):
                (spent, waited, machine), began = runner.clocks(), time.perf_counter()
                run()
                wall = time.perf_counter() - began
                now_spent, now_waited, now_machine = runner.clocks()
                walls.append(1000 * wall / size)
                others.append(max(0.0, (now_machine - machine) - (now_spent - spent)) / wall)
                waits.append(1000 * (now_waited - waited) / size)
            after = runner.cpu_seconds()
        finally:
            runner.close()
    cpu = {name: 1000 * (after[name] - before.get(name, 0.0)) / (runs * size) for name in after}
    return {"walls": walls, "others": others, "waits": waits, "cpu": cpu}


def _child(kind: str, size: int, workers: int, runs: int) -> dict[str, object]:
    command = [sys.executable, "-m", "benchmarks.scaleout", "--child", kind, str(size), str(workers)]
    command += ["--runs", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {size} with {workers} processes failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1) + 0.5)]


def _series(results: list[dict[str, object]], key: str) -> list[float]:
    return [value for result in results for value in result[key]]  # type: ignore[attr-defined]


def _process_clocks(pid: int) -> tuple[float, float]:
    """Seconds a process's live threads ran, and waited for a core while runnable."""
    ran = waited = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        thread_ran, thread_waited = _schedstat(task)
        ran, waited = ran + thread_ran, waited + thread_waited
    return ran, waited


def _children(pid: int) -> list[int]:
    """A host's worker processes (its children, from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _http_host(home: Path, workers: int) -> HttpRunner:
    """``python -m convergio start`` with ``workers`` processes, its tenant, an SSE client."""
    before = os.environ.get(WORKERS_SETTING)
    os.environ[WORKERS_SETTING] = str(workers)  # the host's environment is this one's
    try:
        return HttpRunner("sse", home)
    finally:
        if before is None:
            del os.environ[WORKERS_SETTING]
        else:
            os.environ[WORKERS_SETTING] = before


def _front_door_runs(
    hosts: dict[int, HttpRunner], kind: str, size: int, rounds: int
) -> dict[int, list[list[float]]]:
    """Per variant and timed run, per node: ms of wall, ms the host's threads ran and waited for a
    core, ms its workers ran. The variants take turns, in an order that alternates."""
    runs = {workers: host.prepare(build(kind, size)) for workers, host in hosts.items()}
    found: dict[int, list[list[float]]] = {workers: [] for workers in hosts}
    for turn in range(rounds + 1):  # the first: a warm-up
        for workers in VARIANTS if turn % 2 == 0 else tuple(reversed(VARIANTS)):
            pid = hosts[workers].host.pid
            pids = [pid, *_children(pid)]
            before = [_process_clocks(p) for p in pids]
            began = time.perf_counter()
            runs[workers]()
            wall = time.perf_counter() - began
            spent = [
                (a[0] - b[0], a[1] - b[1])
                for a, b in zip([_process_clocks(p) for p in pids], before, strict=True)
            ]
            if turn:
                row = (wall, spent[0][0], spent[0][1], sum(ran for ran, _ in spent[1:]))
                found[workers].append([1000 * value / size for value in row])
    return found


def front_door(workloads: list[tuple[str, int]], rounds: int) -> None:
    """Print the 1-against-2 rows through HTTP + SSE, both hosts measured in turn in one run."""
    with TemporaryDirectory() as tmp:
        hosts: dict[int, HttpRunner] = {}
        try:
            for workers in VARIANTS:
                hosts[workers] = _http_host(Path(tmp) / f"x{workers}", workers)
            time.sleep(_WORKER_START_S)
            print("| workload | processes | ms/node | p90 | 2 vs 1 | host ran | host waited | workers ran |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for kind, size in workloads:
                found = _front_door_runs(hosts, kind, size, rounds)
                one = statistics.median(row[0] for row in found[1])
                for workers in VARIANTS:
                    walls = [row[0] for row in found[workers]]
                    ran, waited, others = (
                        statistics.median(row[n] for row in found[workers]) for n in (1, 2, 3)
                    )
                    ratio = f"{one / statistics.median(walls):.2f}x" if workers > 1 else ""
                    print(
                        f"| {kind} {size} | {workers} | {statistics.median(walls):.3f} | {_p90(walls):.3f} "
                        f"| {ratio} | {ran:.3f} | {waited:.3f} | {others:.3f} |",
                        flush=True,
                    )
        finally:
            for host in hosts.values():
                host.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SIZE", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--front-door", action="store_true", help="through HTTP + SSE (--rounds runs each)")
    parser.add_argument(
        "--workloads", default="fan_out:50,chain:100,fan_out:500", help="kind:size,... (front door)"
    )
    args = parser.parse_args(argv)
    if args.front_door:
        loads = [(kind, int(size)) for kind, size in (w.split(":") for w in args.workloads.split(","))]
        front_door(loads, args.rounds)
        return 0
    if args.child:
        kind, size, workers = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(measure(kind, size, workers, args.runs)), flush=True)
        return 0
    found: dict[tuple[str, int], list[dict[str, object]]] = {}
    for round_no in range(args.rounds):
        for kind, size in WORKLOADS:
            order = VARIANTS if round_no % 2 == 0 else tuple(reversed(VARIANTS))
            for workers in order:
                result = _child(kind, size, workers, args.runs)
                found.setdefault((kind, workers), []).append(result)
                print(f"round {round_no + 1} {kind} {size} x{workers}: {result}", file=sys.stderr, flush=True)
    print("| workload | processes | ms/node | p90 | 2 vs 1 | others' cores | dispatcher wait | CPU ms/node |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for kind, size in WORKLOADS:
        one = statistics.median(_series(found[(kind, 1)], "walls"))
        for workers in VARIANTS:
            results = found[(kind, workers)]
            walls = _series(results, "walls")
            cpu = {name: statistics.median(r["cpu"][name] for r in results) for name in results[0]["cpu"]}  # type: ignore[index,attr-defined]
            shares = ", ".join(f"{name} {value:.3f}" for name, value in cpu.items())
            ratio = f"{one / statistics.median(walls):.2f}x" if workers > 1 else ""
            print(
                f"| {kind} {size} | {workers} | {statistics.median(walls):.2f} | {_p90(walls):.2f} | {ratio} "
                f"| {statistics.median(_series(results, 'others')):.2f} "
                f"| {statistics.median(_series(results, 'waits')):.2f} | {shares} |"
            )
    print("\nms per node by how many cores other processes kept busy during the run (medians; runs):")
    print("| workload | processes | under 0.5 (a core free) | 0.5 to 1.2 | 1.2 and more (no core free) |")
    print("|---|---:|---|---|---|")
    for (kind, workers), results in sorted(found.items()):
        bands: list[list[float]] = [[], [], []]
        for wall, busy in zip(_series(results, "walls"), _series(results, "others"), strict=True):
            bands[0 if busy < 0.5 else 1 if busy < 1.2 else 2].append(wall)
        cells = [f"{statistics.median(b):.2f} ({len(b)})" if b else "" for b in bands]
        print(f"| {kind} | {workers} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
