"""A graph replayed as Azure replays it: the SDK's timestamp parse against ``parse_history_time`` (ADR 0069).

    .venv/bin/python -m benchmarks.replay [--workloads chain:100,fan_out:50] [--rounds 5]

On Azure the Python SDK replays an orchestration's whole history at every step; the embedded
host does the same with ``CONVERGIO_KEEP_ALIVE_SESSIONS=0``. This runs the product path of
``benchmarks/peers_convergio.py`` (the real app, quota and metering on, offline agents) that
way, alternating in one process, run by run in a rotating order:

- ``replay, dateutil``: the SDK as it ships (``HistoryEvent`` parses times with ``dateutil``);
- ``replay, the app's parse``: the parse the app installs (``convergio._history_times``);
- ``kept alive``: the embedded host's kept-alive sessions, for reference (no replays).

The table gives medians of ms per node, the ratio to the SDK's own parse (above 1: faster),
and the full replays per run. Compare only figures of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from dateutil.parser import parse as dateutil_parse

from benchmarks.peers_convergio import ConvergioRunner
from benchmarks.peers_workloads import build
from convergio._history_times import SDK_MODULES, parse_history_time

__all__ = ["VARIANTS", "main", "measure", "table"]

VARIANTS = ("replay, dateutil", "replay, the app's parse", "kept alive")


@contextmanager
def _keep_alive(sessions: str | None) -> Iterator[None]:
    """``CONVERGIO_KEEP_ALIVE_SESSIONS`` as given while a runner reads its settings."""
    name, before = "CONVERGIO_KEEP_ALIVE_SESSIONS", os.environ.get("CONVERGIO_KEEP_ALIVE_SESSIONS")
    if sessions is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = sessions
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _parse(variant: str) -> Callable[[Any], Any]:
    return dateutil_parse if variant == "replay, dateutil" else parse_history_time


def measure(kind: str, size: int, rounds: int, home: Path) -> dict[str, list[tuple[float, float]]]:
    """Per variant, one (ms per node, full replays per run) a round, alternated."""
    with _keep_alive("0"):
        replaying = ConvergioRunner(home / "replay")
    with _keep_alive(None):
        kept = ConvergioRunner(home / "kept")
    sdk = sys.modules[SDK_MODULES[0]]  # the events' module, loaded with the app
    installed = sdk.dt_parse  # type: ignore[attr-defined]
    workload = build(kind, size)
    replay, keep = replaying.prepare(workload), kept.prepare(workload)
    runners = {v: (kept, keep) if v == "kept alive" else (replaying, replay) for v in VARIANTS}
    figures: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    try:
        for variant in VARIANTS:  # one untimed run each: imports, caches, the first lease
            sdk.dt_parse = _parse(variant)  # type: ignore[attr-defined]
            runners[variant][1]()
        for round_no in range(rounds):
            order = VARIANTS[round_no % 3 :] + VARIANTS[: round_no % 3]
            for variant in order:
                runner, run = runners[variant]
                sdk.dt_parse = _parse(variant)  # type: ignore[attr-defined]
                replays = runner.engine.executor.full_replays
                began = time.perf_counter()
                nodes = run()
                took = time.perf_counter() - began
                replays = runner.engine.executor.full_replays - replays
                figures[variant].append((1000 * took / nodes, float(replays)))
            print(f"{kind}:{size} round {round_no + 1} of {rounds}", file=sys.stderr, flush=True)
    finally:
        sdk.dt_parse = installed  # type: ignore[attr-defined]
        replaying.close()
        kept.close()
    return figures


def table(results: dict[str, dict[str, list[tuple[float, float]]]]) -> str:
    """A Markdown table: per workload and variant, medians and the ratio to the SDK's parse."""
    lines = [
        "| workload | variant | ms per node | vs the SDK's parse | full replays per run |",
        "|---|---|---:|---:|---:|",
    ]
    for workload, figures in results.items():
        base = statistics.median(ms for ms, _ in figures["replay, dateutil"])
        for variant, rows in figures.items():
            ms = statistics.median(m for m, _ in rows)
            replays = statistics.median(r for _, r in rows)
            lines.append(f"| {workload} | {variant} | {ms:.3f} | {base / ms:.2f}x | {replays:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="chain:100,fan_out:50", help="kind:size, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = {}
    with TemporaryDirectory() as home:
        for spec in args.workloads.split(","):
            kind, size = spec.split(":")
            results[spec] = measure(kind, int(size), args.rounds, Path(home) / spec.replace(":", "-"))
    print(table(results))


if __name__ == "__main__":
    main()
