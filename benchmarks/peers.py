"""Convergio against its peers: the same graphs, an instant fake model, durable and in memory.

    make bench-peers          # = benchmarks/.venv-peers/bin/python -m benchmarks.peers --chart ...
    benchmarks/.venv-peers/bin/python -m benchmarks.peers --quick        # smaller sizes, 2 rounds
    benchmarks/.venv-peers/bin/python -m benchmarks.peers --repeat 9 --systems convergio,langgraph-sqlite

Each system runs in its own long-lived worker process (``benchmarks/peers_worker.py``) with the
interpreter of its own virtualenv: Convergio on the product's (.venv), LangGraph and Microsoft
Agent Framework on benchmarks/.venv-peers. Every workload is warmed up once per system, then
run in rounds that alternate the systems (A B C… then B C… A), so machine noise is shared.
The table gives the median per run and per node and each system's ratio to Convergio; the
chart (``--chart``) plots ms per node against graph size. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.peers_worker import SYSTEMS, System, system
from benchmarks.peers_workloads import Workload, workloads

__all__ = ["Row", "check_targets", "main", "markdown_table", "ratio", "summarise"]

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = {
    "product": ROOT / ".venv" / "bin" / "python",
    "peers": ROOT / "benchmarks" / ".venv-peers" / "bin" / "python",
}
BASELINE = "convergio"
TARGET_MS_PER_NODE = 0.3  # Convergio, durable, at the 500-wide fan-out
CHAIN_FACTOR = 2.0  # a chain's cost per node within this of the same-size fan-out's
FRONT_DOOR = ("convergio-http-poll", "convergio-http-sse")
FRONT_DOOR_PEER = "langgraph-sqlite"  # issue 22: through HTTP, faster than this on every workload


@dataclass(frozen=True, slots=True)
class Row:
    workload: Workload
    system: System
    runs: tuple[float, ...]  # ms per run

    @property
    def nodes(self) -> int:
        return len(self.workload.nodes)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs)

    @property
    def ms_per_node(self) -> float:
        return self.median_ms / self.nodes


def ratio(peer_ms: float, baseline_ms: float) -> str:
    """How many times the baseline's time the peer takes ("5.0x": the baseline is 5 times faster)."""
    if baseline_ms <= 0:
        return "n/a"
    value = peer_ms / baseline_ms
    return f"{value:.1f}x" if value >= 0.95 else f"{value:.2f}x"


def summarise(results: dict[tuple[str, str], list[float]], loads: Sequence[Workload]) -> list[Row]:
    """One row per workload and system that has runs, in workload then system order."""
    rows = []
    for workload in loads:
        for chosen in SYSTEMS:
            runs = results.get((chosen.name, workload.key))
            if runs:
                rows.append(Row(workload, chosen, tuple(runs)))
    return rows


def _baseline(rows: Sequence[Row], workload: Workload) -> Row | None:
    return next((r for r in rows if r.workload == workload and r.system.name == BASELINE), None)


def _cells(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        base = _baseline(rows, row.workload)
        versus = ratio(row.median_ms, base.median_ms) if base is not None else "n/a"
        out.append(
            [
                row.workload.label,
                row.system.label,
                str(row.nodes),
                f"{row.median_ms:.1f}",
                f"{row.ms_per_node:.3f}",
                versus,
            ]
        )
    return out


HEADERS = ("workload", "system", "nodes", "ms / run", "ms / node", "vs Convergio")


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in _cells(rows)]
    return "\n".join(lines)


def check_targets(rows: Sequence[Row]) -> list[str]:
    """The issue's targets for Convergio, each as one line saying met or missed, with numbers."""
    mine = {(r.workload.kind, r.workload.size): r for r in rows if r.system.name == BASELINE}
    lines = []
    widest = max((size for kind, size in mine if kind == "fan_out"), default=None)
    if widest is not None:
        cost = mine[("fan_out", widest)].ms_per_node
        verdict = "met" if cost <= TARGET_MS_PER_NODE else "MISSED"
        lines.append(f"fan-out {widest}: {cost:.3f} ms/node (target <= {TARGET_MS_PER_NODE} ms): {verdict}")
        for row in rows:
            if row.workload.key == f"fan_out:{widest}" and row.system.name != BASELINE:
                lines.append(f"  {row.system.label}: {row.ms_per_node / cost:.1f}x Convergio's cost per node")
    for (kind, size), chain in mine.items():
        fan = mine.get(("fan_out", size))
        if kind == "chain" and fan is not None:
            factor = chain.ms_per_node / fan.ms_per_node
            verdict = "met" if factor <= CHAIN_FACTOR else "MISSED"
            lines.append(
                f"chain {size}: {chain.ms_per_node:.3f} ms/node = {factor:.2f}x the {size}-wide fan-out's "
                f"(target <= {CHAIN_FACTOR:g}x): {verdict}"
            )
    return lines + _front_door_targets(rows)


def _front_door_targets(rows: Sequence[Row]) -> list[str]:
    """Issue 22: through HTTP, faster per node than LangGraph + SqliteSaver on every workload."""
    by = {(r.workload.key, r.system.name): r for r in rows}
    lines = []
    for name in FRONT_DOOR:
        mine_rows = [r for r in rows if r.system.name == name and (r.workload.key, FRONT_DOOR_PEER) in by]
        pairs = [(r, by[(r.workload.key, FRONT_DOOR_PEER)]) for r in mine_rows]
        if not pairs:
            continue
        faster = sum(mine.ms_per_node < peer.ms_per_node for mine, peer in pairs)
        mine, peer = max(pairs, key=lambda p: p[0].ms_per_node / p[1].ms_per_node)
        verdict = "met" if faster == len(pairs) else "MISSED"
        lines.append(
            f"{mine.system.label}: faster than {peer.system.label} per node on {faster} of {len(pairs)} "
            f"workloads (target: all): {verdict}; worst {mine.workload.label} at "
            f"{mine.ms_per_node / peer.ms_per_node:.2f}x its cost"
        )
    return lines


class _Worker:
    """One system's worker process; ``run`` sends one request and waits for its answer."""

    def __init__(self, chosen: System, python: Path, log: IO[str]) -> None:
        self.system = chosen
        self.process = subprocess.Popen(
            [str(python), "-m", "benchmarks.peers_worker", chosen.name],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            bufsize=1,
        )

    def run(self, workload: Workload) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"kind": workload.kind, "size": workload.size}) + "\n")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.system.name} worker exited (code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.system.name} failed on {workload.label}:\n{answer['error']}")
        if answer["nodes"] != len(workload.nodes):
            raise RuntimeError(f"{self.system.name} ran {answer['nodes']} of {len(workload.nodes)} nodes")
        return float(answer["ms"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def measure(
    chosen: Sequence[System], loads: Sequence[Workload], repeat: int, console: Console
) -> dict[tuple[str, str], list[float]]:
    """Warm each workload up once per system, then run ``repeat`` rounds alternating the systems."""
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryFile("w+") as log:
        workers = [_Worker(s, _python(s), log) for s in chosen]
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("starting", total=len(loads) * len(chosen) * (repeat + 1))
                for workload in loads:
                    for turn in range(repeat + 1):
                        order = workers[turn % len(workers) :] + workers[: turn % len(workers)]
                        for worker in order:
                            what = "warm-up" if turn == 0 else f"run {turn}/{repeat}"
                            progress.update(
                                task, description=f"{workload.label}: {worker.system.name} {what}"
                            )
                            ms = worker.run(workload)
                            if turn:
                                results.setdefault((worker.system.name, workload.key), []).append(ms)
                            progress.advance(task)
        except RuntimeError:
            log.seek(0)
            console.print(log.read()[-4000:], markup=False)
            raise
        finally:
            for worker in workers:
                worker.close()
    return results


def _python(chosen: System) -> Path:
    python = PYTHONS[chosen.venv]
    if not python.exists():
        raise SystemExit(f"{python} is missing: run `make bench-peers` (it creates both virtualenvs)")
    return python


def chart(rows: Sequence[Row], path: Path) -> None:
    """ms per node against graph size: a line per system over the fan-outs, markers for the rest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 5.5))
    for index, chosen in enumerate(SYSTEMS):
        mine = [r for r in rows if r.system == chosen]
        if not mine:
            continue
        colour = f"C{index}"
        fans = sorted((r.nodes, r.ms_per_node) for r in mine if r.workload.kind == "fan_out")
        axes.plot(*zip(*fans, strict=True), marker="o", color=colour, label=f"{chosen.label}: fan-out")
        for kind, marker in (("chain", "s"), ("diamond", "D")):
            points = [(r.nodes, r.ms_per_node) for r in mine if r.workload.kind == kind]
            if points:
                axes.scatter(*zip(*points, strict=True), marker=marker, color=colour, s=60, zorder=3)
    axes.scatter([], [], marker="s", color="grey", label="square: chain")
    axes.scatter([], [], marker="D", color="grey", label="diamond: layered DAG")
    axes.axhline(TARGET_MS_PER_NODE, color="black", linestyle=":", linewidth=1, label="Convergio target")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("nodes in the graph")
    axes.set_ylabel("median ms per node (lower is better)")
    axes.set_title("Per-node cost against graph size, instant fake model")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller graphs and 2 rounds: a smoke run")
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed rounds per workload (default 7, quick 2)"
    )
    parser.add_argument(
        "--systems", default=",".join(s.name for s in SYSTEMS), help="comma-separated systems to run"
    )
    parser.add_argument("--chart", type=Path, default=None, help="write the chart (PNG) here")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()
    repeat = args.repeat or (2 if args.quick else 7)
    chosen = [system(name.strip()) for name in args.systems.split(",") if name.strip()]
    loads = workloads(quick=args.quick)
    console = Console(width=140)
    console.print(
        f"{len(chosen)} systems x {len(loads)} workloads x {repeat} rounds (+1 warm-up) on "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"
    )
    rows = summarise(measure(chosen, loads, repeat, console), loads)
    table = Table(title=f"Median of {repeat} runs per system, {date.today()}")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("workload", "system") else "right")
    for cells in _cells(rows):
        table.add_row(*cells)
    console.print(table)
    for line in check_targets(rows):
        console.print(line, markup=False)
    if args.markdown:
        print(markdown_table(rows))
    if args.chart:
        chart(rows, args.chart)
        console.print(f"chart written to {args.chart}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
