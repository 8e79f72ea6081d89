"""Plugin benchmark: instantiate + call overhead with the module cache vs compiling every call.

    python -m benchmarks.plugins [--calls 200]

The ``text-stats`` example (built from its WAT source) is called through the registry, as an
agent's tool call would be, three ways in the same process:

- **cached**: the host keeps compiled modules in memory (the default): each call is a fresh
  ``Store`` + ``Linker`` + instance + the call itself;
- **disk cache**: a new host per call, loading the module serialised in a cache folder
  (a cold worker whose folder is warm);
- **compile each call**: the in-memory cache is off, so every call compiles the module.

Figures are medians over ``--calls`` calls after a warm-up; the result of every call is checked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from convergio.plugins import PluginHost, PluginRegistry

EXAMPLE = Path(__file__).resolve().parents[1] / "plugins" / "examples" / "text-stats"
TENANT = "bench"
TEXT = "The quick brown fox jumps over the lazy dog.\n" * 20
EXPECTED = {"chars": len(TEXT), "words": 180, "lines": 20}


def _median_ms(call: Callable[[], str], calls: int) -> float:
    call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        answer = call()
        samples.append(time.perf_counter() - start)
        assert json.loads(answer) == EXPECTED, answer
    return statistics.median(samples) * 1000


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with PluginHost(cache_dir=root / "cache") as host:
            registry = PluginRegistry(root / "installed", host=host)
            registry.install(TENANT, EXAMPLE)
            cached = _median_ms(
                lambda: registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": TEXT}), args.calls
            )
            rows.append(("cached (in memory)", cached, f"compiles: {host.stats.compiles}"))

        def cold_host_call() -> str:
            with PluginHost(cache_dir=root / "cache") as cold:
                return PluginRegistry(root / "installed", host=cold).call_plugin_tool(
                    TENANT, "text-stats.stats", {"text": TEXT}
                )

        rows.append(
            ("disk cache, new host", _median_ms(cold_host_call, args.calls), "new engine + deserialise")
        )
        with PluginHost(cache_modules=False) as uncached:
            registry = PluginRegistry(root / "installed", host=uncached)
            compiling = _median_ms(
                lambda: registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": TEXT}), args.calls
            )
            rows.append(("compile each call", compiling, f"compiles: {uncached.stats.compiles}"))
    table = Table(title=f"text-stats call overhead, median of {args.calls} calls")
    for column in ("mode", "ms / call", "vs cached", "note"):
        table.add_column(column, justify="left" if column in ("mode", "note") else "right")
    for mode, ms, note in rows:
        table.add_row(mode, f"{ms:.3f}", f"{ms / cached:.1f}x", note)
    Console().print(table)
    print(f"compile-each-call / cached ratio: {compiling / cached:.1f}x")


if __name__ == "__main__":
    main()
