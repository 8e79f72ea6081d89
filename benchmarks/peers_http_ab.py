"""The front-door rows, before and after a change, alternated in one run beside LangGraph + SqliteSaver.

    python -m benchmarks.peers_http_ab --before /tmp/before [--after /tmp/after] [--rounds 5]
        [--workloads fan_out:50,fan_out:500,chain:100] [--modes poll,sse]

``--before`` is another checkout (``git archive HEAD | tar -x -C /tmp/before``, or this tree
with some files put back); ``--after`` defaults to this tree (another checkout isolates one change
from the rest of the tree's). One host per checkout serves both modes (``benchmarks/peers_http.py``:
start + poll at 10 Hz, start + SSE); LangGraph + SqliteSaver runs in the peers' virtualenv
(``make bench-peers`` makes it). Each round runs every system once, in a rotating order, so a
busy machine slows all of them alike; the figures are medians per workload: ms per run, ms per
node, the ``POST /runs`` alone, the host process's CPU per node (every thread's time on a CPU,
from ``/proc``: the figure a busy machine disturbs least; blank where there is no ``/proc``),
and LangGraph's time over ours ("vs LangGraph": above 1 is faster than LangGraph). Compare only
figures of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.peers import PYTHONS, _Worker
from benchmarks.peers_http import ROOT, HttpRunner
from benchmarks.peers_worker import system
from benchmarks.peers_workloads import Workload, build

__all__ = ["cpu_ms", "main"]


def cpu_ms(pid: int) -> float:
    """The process's CPU time so far, in ms: the sum of its threads' time on a CPU (``schedstat``,
    nanoseconds; ``stat``'s ticks are 10 ms, too coarse for one run). NaN without ``/proc``."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
                continue
    except OSError:
        return float("nan")
    return total / 1e6


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--after", type=Path, default=ROOT, help="the checkout under test (this tree)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per workload (after a warm-up)")
    parser.add_argument("--workloads", default="fan_out:50,fan_out:500,chain:100", help="kind:size,...")
    parser.add_argument("--modes", default="poll,sse", help="front-door modes: poll, sse")
    args = parser.parse_args()
    loads = [build(kind, int(size)) for kind, size in (w.split(":") for w in args.workloads.split(","))]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile("w+") as log:
        hosts = {
            "before": HttpRunner(modes[0], Path(tmp) / "before", root=args.before.resolve()),
            "after": HttpRunner(modes[0], Path(tmp) / "after", root=args.after.resolve()),
        }
        langgraph = _Worker(system("langgraph-sqlite"), PYTHONS["peers"], log)
        try:
            for workload in loads:
                _compare(workload, hosts, langgraph, modes, args.rounds)
        finally:
            langgraph.close()
            for runner in hosts.values():
                runner.close()


def _compare(
    workload: Workload, hosts: dict[str, HttpRunner], langgraph: _Worker, modes: list[str], rounds: int
) -> None:
    systems = [(f"{name} {mode}", runner, mode) for mode in modes for name, runner in hosts.items()]
    times: dict[str, list[float]] = {"langgraph": []}
    posts: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for turn in range(rounds + 1):
        order = systems[turn % len(systems) :] + systems[: turn % len(systems)]
        lg = langgraph.run(workload)
        for label, runner, mode in order:
            runner.mode = mode
            cpu = cpu_ms(runner.host.pid)
            ms = _timed(runner.prepare(workload))
            if turn:
                times.setdefault(label, []).append(ms)
                posts.setdefault(label, []).append(runner.last_post_s * 1000)
                cpus.setdefault(label, []).append(cpu_ms(runner.host.pid) - cpu)
        if turn:
            times["langgraph"].append(lg)
    nodes = len(workload.nodes)
    reference = statistics.median(times["langgraph"])
    print(f"\n{workload.label} ({nodes} nodes), medians of {rounds}")
    head = f"  {'system':<14} {'ms/run':>9} {'ms/node':>9} {'POST ms':>9} {'host CPU/node':>14}"
    print(f"{head} {'vs LangGraph':>13}")
    blank = f"{'':>9} {'':>14}"
    print(f"  {'LangGraph+SQL':<14} {reference:>9.1f} {reference / nodes:>9.3f} {blank} {'1.00x':>13}")
    for label, _, _ in systems:
        ms = statistics.median(times[label])
        post = statistics.median(posts[label])
        cpu = statistics.median(cpus[label]) / nodes
        row = f"  {label:<14} {ms:>9.1f} {ms / nodes:>9.3f} {post:>9.1f} {cpu:>14.3f}"
        print(f"{row} {reference / ms:>12.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
