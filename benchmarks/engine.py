"""Engine benchmark: chain and fan-out of no-op activities, kept-alive vs full replay.

    python -m benchmarks.engine [--size 1000] [--repeat 3]

Both modes run in the same process on the same machine; the table shows the
median wall time per orchestration and the ratio of full replay to kept-alive.
Targets on a 2-core machine (kept-alive): chain 1000 < 5 s, fan-out 1000 < 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from convergio.host import Engine, EngineConfig
from convergio.host._functions import load_app
from convergio.host._store import Store

APP = Path(__file__).resolve().parent / "apps" / "engine_app" / "function_app.py"
TARGETS = {"chain": 5.0, "fan_out": 1.0}


def run_once(engine: Engine, orchestrator: str, size: int, timeout: float = 900) -> float:
    began = time.perf_counter()
    instance_id = engine.start_new(orchestrator, None, json.dumps(size))
    while True:
        record = engine.store.get(instance_id)
        if record is not None and record.status in ("Completed", "Failed", "Terminated"):
            break
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"{orchestrator}({size}) did not finish in {timeout} s")
        time.sleep(0.002)
    elapsed = time.perf_counter() - began
    if record.status != "Completed":
        raise RuntimeError(f"{orchestrator} ended {record.status}: {record.output}")
    return elapsed


def measure(keep_alive: int, orchestrator: str, size: int, repeat: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "durable.sqlite3")
        engine = Engine(load_app(APP), store, EngineConfig(keep_alive=keep_alive))
        engine.start()
        try:
            run_once(engine, orchestrator, 10)  # warm-up
            times = [run_once(engine, orchestrator, size) for _ in range(repeat)]
            replays = engine.executor.full_replays
        finally:
            engine.stop()
            store.close()
    return statistics.median(times), replays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--full-replay-size", type=int, default=None, help="size for the full-replay runs (default: --size)"
    )
    args = parser.parse_args()
    console = Console(width=130)
    full_size = args.full_replay_size or args.size
    cases = [(o, mode) for o in ("chain", "fan_out") for mode in ("kept-alive", "full replay")]
    results: dict[tuple[str, str], tuple[float, int, int]] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarking", total=len(cases))
        for orchestrator, mode in cases:
            size = args.size if mode == "kept-alive" else full_size
            progress.update(task, description=f"{orchestrator}({size}) {mode}")
            keep_alive = 1000 if mode == "kept-alive" else 0
            seconds, replays = measure(keep_alive, orchestrator, size, args.repeat)
            results[(orchestrator, mode)] = (seconds, size, replays)
            progress.advance(task)

    table = Table(title=f"Embedded host engine, median of {args.repeat} runs")
    for column in (
        "workload",
        "mode",
        "activities",
        "seconds",
        "ms / activity",
        "full replays",
        "vs kept-alive",
        "target",
    ):
        table.add_column(column, justify="right" if column != "workload" else "left")
    for (orchestrator, mode), (seconds, size, replays) in results.items():
        base_seconds, base_size, _ = results[(orchestrator, "kept-alive")]
        ratio = (seconds / size) / (base_seconds / base_size)
        target = TARGETS[orchestrator]
        verdict = ""
        if mode == "kept-alive" and size == 1000:
            verdict = f"< {target:g} s {'ok' if seconds < target else 'MISSED'}"
        table.add_row(
            orchestrator,
            mode,
            str(size),
            f"{seconds:.3f}",
            f"{1000 * seconds / size:.3f}",
            str(replays),
            f"{ratio:.1f}x",
            verdict,
        )
    console.print(table)


if __name__ == "__main__":
    main()
