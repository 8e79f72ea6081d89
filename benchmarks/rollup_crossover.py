"""Where numba pays: the roll-up kernel, warm numba against plain NumPy, by input size.

    python -m benchmarks.rollup_crossover [--repeat 7]

``group_sums`` over synthetic int64 columns, two shapes: few groups (30 days x 4 units, the
dense lookup path) and many groups (one per 10 rows, the hashed path). For each size the
warm numba kernel (compiled beforehand, not timed) and the NumPy path run alternately in one
process; medians. Then, in fresh processes, what the first numba call costs: compiling with an
empty ``NUMBA_CACHE_DIR`` (time and resident memory added), and loading from that warm cache.
``NUMBA_MIN_ROWS`` in ``convergio/kernels/_rollup.py`` is set from this table.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from convergio.kernels._rollup import NUMBA_MIN_ROWS, group_sums

__all__ = ["SIZES", "first_call", "main", "time_sizes"]

SIZES = (100, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
ROOT = Path(__file__).resolve().parents[1]

_FIRST_CALL = """
import json, resource, time
import numpy as np
from convergio.kernels._rollup import group_sums
tiny = np.zeros(4, np.int64)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
began = time.perf_counter()
for cardinalities in ([2], [1 << 30], [1 << 31] * 3):
    group_sums([tiny] * len(cardinalities), cardinalities, tiny, 1, tiny, tiny, engine="numba")
seconds = time.perf_counter() - began
print(json.dumps({"s": seconds, "mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024}))
"""


def _columns(n: int, many: bool, rng: np.random.Generator) -> tuple[list[Any], list[int], list[Any]]:
    cardinalities = [max(n // 10, 1), 50] if many else [30, 4]
    codes = [rng.integers(0, c, n).astype(np.int64) for c in cardinalities]
    rest = [rng.integers(0, 4, n), rng.integers(0, 10**6, n), rng.integers(0, 10**9, n)]
    return codes, cardinalities, [column.astype(np.int64) for column in rest]


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def time_sizes(sizes: tuple[int, ...], repeat: int) -> list[tuple[str, int, float, float]]:
    """``(shape, rows, numba ms, numpy ms)`` per shape and size; numba compiled beforehand."""
    rng = np.random.default_rng(22)
    rows = []
    for many in (False, True):
        for n in sizes:
            codes, cards, (units, quantity, cost) = _columns(n, many, rng)
            for engine in ("numba", "numpy"):  # warm-up: compile, caches
                group_sums(codes, cards, units, 4, quantity, cost, engine=engine)  # type: ignore[arg-type]
            reps = max(3, repeat if n <= 100_000 else repeat // 2)
            best: dict[str, float] = {}
            for _ in range(2):  # alternate the two engines twice, keep the better median of each
                for engine in ("numba", "numpy"):
                    call = functools.partial(
                        group_sums, codes, cards, units, 4, quantity, cost, engine=engine
                    )
                    best[engine] = min(best.get(engine, float("inf")), _median_ms(call, reps))
            numba_ms, numpy_ms = best["numba"], best["numpy"]
            rows.append(("many groups" if many else "few groups", n, numba_ms, numpy_ms))
    return rows


def first_call() -> tuple[dict[str, float], dict[str, float]]:
    """The first numba call in a fresh process: with an empty cache, then with that cache warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs[0], runs[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--max-rows", type=int, default=SIZES[-1])
    args = parser.parse_args(argv)
    sizes = tuple(n for n in SIZES if n <= args.max_rows)
    print("| shape | rows | numba, warm (ms) | NumPy (ms) | NumPy / numba |")
    print("|---|---:|---:|---:|---:|")
    for shape, n, numba_ms, numpy_ms in time_sizes(sizes, args.repeat):
        print(f"| {shape} | {n:,} | {numba_ms:.3f} | {numpy_ms:.3f} | {numpy_ms / numba_ms:.1f}x |")
    cold, cached = first_call()
    print(f"\nfirst numba call, empty cache: {cold['s']:.2f} s, +{cold['mib']:.0f} MiB resident")
    print(f"first numba call, warm cache: {cached['s']:.2f} s, +{cached['mib']:.0f} MiB resident")
    print(f"NUMBA_MIN_ROWS (auto engine threshold) = {NUMBA_MIN_ROWS:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
