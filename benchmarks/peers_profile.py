"""Profile Convergio's side of the peers benchmark: where does a node's time go?

    .venv/bin/python -m benchmarks.peers_profile --kind fan_out --size 500 [--top 30]

cProfile follows one thread, and the embedded host runs orchestrator steps on its dispatcher
thread and activities on a pool. So each of those threads gets its own profiler (the step
loop and each activity call are wrapped), and the report shows, per side, the busy time per
node and the functions with the most cumulative time. Runs one warm-up, then the profiled run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from benchmarks.peers_convergio import ConvergioRunner
from benchmarks.peers_workloads import KINDS, build
from convergio.host import Engine


class _ThreadProfiles:
    """One ``cProfile.Profile`` per thread, merged at the end."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self.on = False

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def profiled(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return function(*args, **kwargs)
            profile = getattr(self._local, "profile", None)
            if profile is None:
                profile = self._local.profile = cProfile.Profile()
                with self._lock:
                    self._all.append(profile)
            profile.enable()
            try:
                return function(*args, **kwargs)
            finally:
                profile.disable()

        return profiled

    def stats(self) -> pstats.Stats | None:
        if not self._all:
            return None
        stats = pstats.Stats(self._all[0], stream=io.StringIO())
        for profile in self._all[1:]:
            stats.add(profile)
        return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, default="fan_out")
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    steps, activities = _ThreadProfiles(), _ThreadProfiles()
    Engine._step = steps.wrap(Engine._step)  # type: ignore[method-assign]
    Engine._run_activity = activities.wrap(Engine._run_activity)  # type: ignore[method-assign]
    workload = build(args.kind, args.size)
    with TemporaryDirectory() as home:
        runner = ConvergioRunner(Path(home))
        try:
            run = runner.prepare(workload)
            run()  # warm-up: imports, first-use components, caches
            steps.on = activities.on = True
            began = time.perf_counter()
            run()
            wall = time.perf_counter() - began
        finally:
            runner.close()
    nodes = len(workload.nodes)
    print(f"{workload.label}: {nodes} nodes, wall {1000 * wall:.1f} ms = {1000 * wall / nodes:.3f} ms/node")
    for name, profiles in (
        ("orchestrator steps (dispatcher thread)", steps),
        ("activities (pool)", activities),
    ):
        stats = profiles.stats()
        if stats is None:
            continue
        busy = stats.total_tt  # type: ignore[attr-defined]
        print(f"\n== {name}: busy {1000 * busy:.1f} ms = {1000 * busy / nodes:.3f} ms/node ==")
        stats.stream = None  # type: ignore[attr-defined]
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
