"""A node's CPU by part: the product path with one part switched off at a time (issue 22, ADR 0064).

    .venv/bin/python -m benchmarks.parts [--workload fan_out:50] [--rounds 12] [--runs 10]
        [--variants product,no-quota,no-metering,neither,ledger-unwritten,insert-skipped,ledger-normal]

Each variant runs in a child process of its own: the product path of
``benchmarks/peers_convergio.py`` (the real ``function_app.py``, quota admission and metering on,
offline agents) with the variant's part switched off before the app is loaded, warmed up with
three runs. Every round then asks each child for ``--runs`` runs, in a rotating order, so that
the machine's load falls on all of them alike; the table gives, per variant, the medians over
the rounds (and the least round) of the process's CPU per node (every thread's ``schedstat``,
user and system), the wall per node and the voluntary context switches per node, and the CPU
difference to the product. Compare inside one run only: the machine moves between runs.

The variants are not product configurations; each says what one part costs:

- ``no-quota``: no admission or settlement (``run_agent`` gets no allowance);
- ``no-metering``: no ledger (the call's usage is shown, nothing is recorded);
- ``neither``: both (``benchmarks.peers_convergio``'s diagnostic);
- ``ledger-unwritten``: the ledger's records are made, not written;
- ``insert-skipped``: the ledger's batches are staged and group-committed, their ``INSERT`` skipped;
- ``ledger-normal``: the ledger at ``synchronous=NORMAL`` (no ``fsync`` per commit).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

__all__ = ["VARIANTS", "main", "measure", "table"]

_ROOT = Path(__file__).resolve().parents[1]


def _no_quota() -> None:
    from activities import agents

    agents._allowance = lambda parts, call, prices, target: None


def _no_metering() -> None:
    from activities import agents
    from convergio.metering import Metered

    def shown(*args: Any, **kwargs: Any) -> Metered:
        return Metered(dict(kwargs["usage"]), Decimal(0))

    async def shown_async(*args: Any, **kwargs: Any) -> Metered:
        return shown(*args, **kwargs)

    agents.meter_kept = shown  # type: ignore[attr-defined]  # a call on a thread (ADR 0065)
    agents.meter_kept_async = shown_async  # type: ignore[attr-defined]  # a call on the loop


def _neither() -> None:
    _no_quota()
    _no_metering()


def _ledger_unwritten() -> None:
    from convergio.metering import _sqlite as ledger

    ledger.SqliteLedger.record = lambda self, records: len(records)  # type: ignore[method-assign]


def _insert_skipped() -> None:
    from convergio.metering import _sqlite as ledger

    ledger._LedgerBatch.write_alone = lambda self: True  # type: ignore[method-assign]


def _ledger_normal() -> None:
    from convergio.metering import _sqlite as ledger

    database = getattr(ledger, "Database")  # noqa: B009 - the ledger module's name only: other stores keep theirs

    def normal(path: Path, **options: Any) -> Any:
        return database(path, **{**options, "synchronous": "NORMAL"})

    setattr(ledger, "Database", normal)  # noqa: B010


VARIANTS: dict[str, Callable[[], None]] = {
    "product": lambda: None,
    "no-quota": _no_quota,
    "no-metering": _no_metering,
    "neither": _neither,
    "ledger-unwritten": _ledger_unwritten,
    "insert-skipped": _insert_skipped,
    "ledger-normal": _ledger_normal,
}
"""Each variant's switch, applied in its child before the app is loaded."""


def _switches() -> float:
    """Voluntary context switches of every thread of this process so far; NaN without ``/proc``."""
    total = 0
    try:
        for task in Path("/proc/self/task").iterdir():
            try:
                lines = (task / "status").read_text().splitlines()
            except OSError:  # a thread that ended meanwhile
                continue
            total += sum(int(line.split()[1]) for line in lines if line.startswith("voluntary_ctxt_switches"))
    except OSError:
        return math.nan
    return float(total)


def _child(variant: str, kind: str, size: int) -> None:
    """Serve one variant: ``ready``, then for each line ``N`` on stdin, N runs' figures as JSON."""
    VARIANTS[variant]()
    from benchmarks.peers_convergio import ConvergioRunner
    from benchmarks.peers_http_ab import cpu_ms
    from benchmarks.peers_workloads import build

    with TemporaryDirectory() as home:
        runner = ConvergioRunner(Path(home))
        try:
            run = runner.prepare(build(kind, size))
            for _ in range(3):
                run()
            print("ready", flush=True)
            for line in sys.stdin:
                runs = int(line)
                cpu, switches, started = cpu_ms(os.getpid()), _switches(), time.perf_counter()
                nodes = sum(run() for _ in range(runs))
                wall = (time.perf_counter() - started) * 1000
                figures = {
                    "cpu": (cpu_ms(os.getpid()) - cpu) / nodes,
                    "wall": wall / nodes,
                    "switches": (_switches() - switches) / nodes,
                }
                print(json.dumps(figures), flush=True)
        finally:
            runner.close()


def measure(
    variants: list[str], kind: str, size: int, rounds: int, runs: int
) -> dict[str, list[dict[str, float]]]:
    """Each variant's figures per round, the children alternated in a rotating order."""
    children: dict[str, subprocess.Popen[str]] = {}
    try:
        for variant in variants:
            command = [sys.executable, "-m", "benchmarks.parts", "--child", variant, kind, str(size)]
            child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=_ROOT
            )
            children[variant] = child
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {variant} child did not start (exit code {child.wait()})")
        figures: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
        for turn in range(rounds):
            order = variants[turn % len(variants) :] + variants[: turn % len(variants)]
            for variant in order:
                child = children[variant]
                assert child.stdin is not None and child.stdout is not None
                child.stdin.write(f"{runs}\n")
                child.stdin.flush()
                figures[variant].append(json.loads(child.stdout.readline()))
            print(f"round {turn + 1} of {rounds}", file=sys.stderr, flush=True)
        return figures
    finally:
        for child in children.values():
            if child.stdin is not None:
                child.stdin.close()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()


def table(figures: dict[str, list[dict[str, float]]]) -> str:
    """A Markdown table: medians over the rounds (least round in brackets), and the CPU's difference
    to ``product`` when it was measured."""
    medians = {v: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for v, rows in figures.items()}
    base = medians.get("product", {}).get("cpu")
    lines = [
        "| variant | CPU per node (ms) | against the product | wall per node (ms) | voluntary switches "
        "per node |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant, rows in figures.items():
        m = medians[variant]
        least = min(r["cpu"] for r in rows)
        delta = "" if base is None or variant == "product" else f"{m['cpu'] - base:+.3f}"
        lines.append(
            f"| {variant} | {m['cpu']:.3f} ({least:.3f}) | {delta} | {m['wall']:.3f} | {m['switches']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="fan_out:50", help="kind:size")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--runs", type=int, default=10, help="runs per variant per round")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS)
    )
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, kind, size = args.child
        _child(variant, kind, int(size))
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if args.rounds < 1 or args.runs < 1:
        parser.error("--rounds and --runs must be >= 1")
    kind, _, size = args.workload.partition(":")
    figures = measure(variants, kind, int(size or 50), args.rounds, args.runs)
    print(f"\n{args.workload}, {args.rounds} rounds of {args.runs} runs per variant, alternated\n")
    print(table(figures))


if __name__ == "__main__":
    main()
