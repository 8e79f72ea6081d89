"""One system's side of the peers benchmark: ``python -m benchmarks.peers_worker SYSTEM``.

The coordinator (``benchmarks/peers.py``) starts one worker per system, each with the
interpreter of the virtualenv that system is installed in, and keeps it alive for the whole
benchmark. It sends one JSON line per run (``{"kind": ..., "size": ...}``); the worker runs
that workload once and answers one JSON line (``{"ms": ..., "nodes": ...}`` or
``{"error": ...}``). Whatever the system prints goes to stderr, so stdout carries only answers.

Standard library only at import time: each system's runner module is imported on demand.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from benchmarks.peers_workloads import Workload, build

__all__ = ["SYSTEMS", "Runner", "System", "main"]


class Runner(Protocol):
    """A system ready to run workloads; ``prepare`` is not timed, the callable it returns is."""

    def prepare(self, workload: Workload) -> Callable[[], int]:
        """Build the graph once; the returned callable runs it and returns how many nodes ran."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class System:
    name: str
    label: str
    venv: str  # "product" (.venv, where convergio is installed) or "peers" (benchmarks/.venv-peers)
    module: str
    variant: str


SYSTEMS = (
    System(
        "convergio", "Convergio, embedded host (SQLite)", "product", "benchmarks.peers_convergio", "sqlite"
    ),
    System(
        "convergio-bare",
        "Convergio, no quota/metering (diagnostic)",
        "product",
        "benchmarks.peers_convergio",
        "bare",
    ),
    System(
        "convergio-http-poll",
        "Convergio through HTTP: start + poll 10 Hz",
        "product",
        "benchmarks.peers_http",
        "poll",
    ),
    System(
        "convergio-http-sse", "Convergio through HTTP: start + SSE", "product", "benchmarks.peers_http", "sse"
    ),
    System(
        "langgraph-sqlite", "LangGraph + SqliteSaver (file)", "peers", "benchmarks.peers_langgraph", "sqlite"
    ),
    System("langgraph-memory", "LangGraph + InMemorySaver", "peers", "benchmarks.peers_langgraph", "memory"),
    System("maf-file", "MAF workflows + FileCheckpointStorage", "peers", "benchmarks.peers_maf", "file"),
    System(
        "maf-memory", "MAF workflows + InMemoryCheckpointStorage", "peers", "benchmarks.peers_maf", "memory"
    ),
)


def system(name: str) -> System:
    for candidate in SYSTEMS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown system {name!r}; expected one of {', '.join(s.name for s in SYSTEMS)}")


def main() -> None:
    chosen = system(sys.argv[1])
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the systems' own prints must not mix with the answers
    sys.stdout = sys.stderr
    with tempfile.TemporaryDirectory(prefix=f"bench-{chosen.name}-") as home:
        make: Callable[[str, Path], Runner] = importlib.import_module(chosen.module).runner
        runner = make(chosen.variant, Path(home))
        prepared: dict[str, Callable[[], int]] = {}
        try:
            for line in sys.stdin:
                request = json.loads(line)
                workload = build(request["kind"], int(request["size"]))
                try:
                    run = prepared.get(workload.key)
                    if run is None:
                        run = prepared[workload.key] = runner.prepare(workload)
                    began = time.perf_counter()
                    ran = run()
                    answer: dict[str, object] = {"ms": 1000 * (time.perf_counter() - began), "nodes": ran}
                except Exception:
                    answer = {"error": traceback.format_exc()}
                answers.write(json.dumps(answer) + "\n")
        finally:
            runner.close()


if __name__ == "__main__":
    main()
