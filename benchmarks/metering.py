"""Metering benchmark: usage roll-ups with the numba kernel vs pure Python, on 1,000,000 events.

    python -m benchmarks.metering [--events 1000000] [--repeat 10]

Synthetic usage records (tenants, runs, agents, models, days, units, Decimal costs) are
rolled up three ways, in the same process, for a few groupings:

- pure-Python reference: ``rollup_reference`` over the ``UsageRecord`` objects (Decimal
  arithmetic); the tests' oracle and the baseline;
- numba: ``rollup`` over the records' ``UsageColumns`` (encoded once, as a columnar
  store would hold them); the result is checked equal to the reference;
- the kernel alone, ``group_sums`` (numba) vs ``group_sums_python`` (its pure-Python
  twin), on the same integer columns.

Warm-up runs (numba compilation included) are excluded; each figure is the median of
``--repeat`` runs. Target: numba >= 20x the pure-Python reference.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from convergio.metering import (
    UNITS,
    GroupBy,
    PriceTable,
    UsageColumns,
    UsageRecord,
    cost_of,
    rollup,
    rollup_reference,
)

GROUPINGS: list[tuple[GroupBy, ...]] = [
    ("day", "unit"),
    ("tenant", "model", "day"),
    ("tenant", "agent", "model", "unit"),
    ("tenant", "run"),
]
MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1-mini"),
    ("azure-openai", "gpt-4o"),
    ("azure-openai", "gpt-4.1"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("anthropic", "claude-sonnet-4-0"),
    ("offline", "echo"),
]
TARGET = 20.0


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def synthetic_records(events: int, seed: int, progress: Progress) -> list[UsageRecord]:
    """``events`` usage records: 50 tenants, 20,000 runs, 12 agents, 8 models, 30 days, 4 units."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    prices = PriceTable.load()
    task = progress.add_task(f"generating {events:,} usage records", total=events)
    agents = [f"agent-{i}" for i in range(12)]
    priced = {(p, m, u): prices.price(p, m, u) for p, m in MODELS for u in UNITS}
    records = []
    for index in range(events):
        provider, model = MODELS[rng.randrange(len(MODELS))]
        unit = UNITS[rng.choices(range(4), weights=(45, 45, 8, 2))[0]]
        quantity = rng.randint(1, 4000) if unit.endswith("tokens") else rng.randint(1, 5)
        price = priced[provider, model, unit]
        run = rng.randrange(20_000)
        records.append(
            UsageRecord(
                tenant_id=f"tenant-{run % 50}",
                run_id=f"run-{run}",
                node_id=agents[rng.randrange(12)],
                attempt=index,
                provider=provider,
                model=model,
                key_mode="byok",
                unit=unit,
                quantity=quantity,
                unit_price=price,
                cost=cost_of(quantity, price),
                at=f"2026-11-{1 + run % 30:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000000Z",
            )
        )
        if index % 10_000 == 0:
            progress.update(task, completed=index)
    progress.remove_task(task)
    return records


def median_seconds(call: Callable[[], Any], repeat: int, progress: Progress, label: str) -> tuple[float, Any]:
    """Warm up once (not timed), then the median wall time of ``repeat`` calls."""
    task = progress.add_task(label, total=repeat + 1)
    result = call()
    progress.advance(task)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
        progress.advance(task)
    progress.remove_task(task)
    return statistics.median(times), result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be >= 1")
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="numba-cache-"))

    import numba
    import numpy as np

    from convergio.kernels import group_sums, group_sums_python
    from convergio.kernels._rollup import warm_up

    warm_up().join()  # rollup() takes NumPy until the kernels are compiled: measure the numba path
    console = Console(width=max(Console().width, 132))
    with _progress(console) as progress:
        records = synthetic_records(args.events, args.seed, progress)
        began = time.perf_counter()
        columns = UsageColumns.from_records(records)
        encode = time.perf_counter() - began
        rows = []
        for group_by in GROUPINGS:
            name = ", ".join(group_by)
            reference_s, expected = median_seconds(
                lambda g=group_by: rollup_reference(records, g), args.repeat, progress, f"reference  {name}"
            )
            numba_s, got = median_seconds(
                lambda g=group_by: rollup(columns, g), args.repeat, progress, f"numba      {name}"
            )
            if got != expected:
                raise SystemExit(f"numba roll-up differs from the reference for {name}")
            codes = [columns.codes[key] for key in group_by]
            sizes = [len(columns.labels[key]) for key in group_by]
            lists = ([c.tolist() for c in codes], columns.units.tolist(), columns.quantity.tolist())
            cost_list = columns.cost.tolist()
            kernel_s, _ = median_seconds(
                lambda codes=codes, sizes=sizes: group_sums(
                    codes, sizes, columns.units, len(UNITS), columns.quantity, columns.cost
                ),
                args.repeat,
                progress,
                f"kernel     {name}",
            )
            twin_s, _ = median_seconds(
                lambda lists=lists, cost_list=cost_list: group_sums_python(
                    lists[0], lists[1], len(UNITS), lists[2], cost_list
                ),
                args.repeat,
                progress,
                f"python twin {name}",
            )
            rows.append((name, len(expected), reference_s, numba_s, twin_s, kernel_s))
        end_to_end, _ = median_seconds(
            lambda: rollup(records, GROUPINGS[0]), min(args.repeat, 3), progress, "rollup(records) end to end"
        )

    total = sum(record.cost for record in records)
    console.print(
        f"{args.events:,} events, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numba {numba.__version__}, numpy {np.__version__}; median of {args.repeat} runs, warm-up excluded; "
        f"total cost {total} EUR"
    )
    table = Table(title="Usage roll-up: numba vs pure Python")
    for header in ("group by", "groups", "reference (s)", "numba rollup (s)", "speed-up", "python twin (s)"):
        table.add_column(header, justify="left" if header == "group by" else "right")
    table.add_column("kernel (s)", justify="right")
    table.add_column("kernel speed-up", justify="right")
    for name, groups, reference_s, numba_s, twin_s, kernel_s in rows:
        ratio = reference_s / numba_s
        table.add_row(
            name,
            f"{groups:,}",
            f"{reference_s:.3f}",
            f"{numba_s:.4f}",
            f"[{'green' if ratio >= TARGET else 'red'}]{ratio:.1f}x[/]",
            f"{twin_s:.3f}",
            f"{kernel_s:.4f}",
            f"{twin_s / kernel_s:.1f}x",
        )
    console.print(table)
    worst = min(reference_s / numba_s for _, _, reference_s, numba_s, _, _ in rows)
    console.print(
        f"one-off encoding of the records into columns: {encode:.2f} s; "
        f"rollup(records) end to end ({', '.join(GROUPINGS[0])}): {end_to_end:.2f} s"
    )
    verdict = "meets" if worst >= TARGET else "MISSES"
    console.print(
        f"lowest speed-up vs the pure-Python reference: {worst:.1f}x ({verdict} the {TARGET:.0f}x target)"
    )


if __name__ == "__main__":
    main()
