"""CPU per thread role, before and after a change, alternated in one run (issue 22).

    python -m benchmarks.peers_cpu_ab --before /tmp/before [--after .] [--rounds 4]

``--before`` is another checkout (``git archive <rev> | tar -x -C /tmp/before``). Each round runs
``benchmarks.peers_cpu --variant ...`` in both checkouts, in alternating order, for the product
path and the diagnostic on the 500-wide fan-out and the chain of 100; prints the medians as a
Markdown table. On a shared VM the same command on one tree moves by 15 to 20 % within an hour,
so only the figures of one such run compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = (("fan_out", 500, 6), ("chain", 100, 4))
VARIANTS = {"sqlite": "product path", "bare": "diagnostic"}
COLUMNS = ("wall", "dispatcher", "activity pool", "other", "alone")


def _measure(tree: Path, variant: str, kind: str, size: int, runs: int) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.peers_cpu", "--variant", variant]
    command += ["--kind", kind, "--size", str(size), "--runs", str(runs)]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--after", type=Path, default=ROOT, help="the checkout of the change (this one)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    for kind, size, runs in WORKLOADS:
        for variant in VARIANTS:
            for round_ in range(args.rounds):
                order = list(trees.items()) if round_ % 2 == 0 else list(reversed(trees.items()))
                for name, tree in order:
                    measured = _measure(tree, variant, kind, size, runs)
                    results.setdefault((kind, variant, name), []).append(measured)
                print(f"{kind} {size} {variant}: round {round_ + 1} of {args.rounds}", file=sys.stderr)
    columns = "wall | dispatcher CPU | activity pool CPU | other CPU | one activity alone"
    print(f"| workload | variant | tree | {columns} |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (kind, variant, name), rows in results.items():
        cells = [statistics.median(row.get(column, 0.0) for row in rows) for column in COLUMNS]
        values = " | ".join(f"{value:.3f}" for value in cells)
        print(f"| {kind} | {VARIANTS[variant]} | {name} | {values} |")


if __name__ == "__main__":
    main()
