"""Cold-start benchmark: ``import function_app`` against a minimal Durable app, same venv.

    python -m benchmarks.coldstart [--rounds 15]

Each sample is a fresh interpreter (a subprocess, as a Functions worker is) that imports one
app and reports the time the import took, the number of modules loaded, and which heavy
libraries came with it. Rounds alternate between the two apps (the order flips every round)
and the table shows medians, with Convergio's ratio to the minimal app
(``benchmarks/apps/coldstart_app``: HTTP starter, orchestrator, activity on one ``DFApp``).
Target (issue 22): at most 1.5x.

A third row measures what the lazy imports moved out of the cold start: in the same fresh
process, after ``import function_app``, the modules a first graph run imports (the
``run_agent`` activity and the graph package). That cost is paid on the first run instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HEAVY", "TARGET", "Sample", "main", "measure", "sample"]

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "benchmarks" / "apps" / "coldstart_app"
TARGET = 1.5
HEAVY = ("numpy", "numba", "aiohttp", "httpx", "rich", "click", "jinja2", "jsonschema", "yaml", "wasmtime")
"""Libraries whose presence after the import the table reports."""
FIRST_RUN = ("activities.agents", "convergio.graph")
"""What a first graph run imports that the cold start no longer does."""

_PROBE = """
import json, sys, time
began = time.perf_counter()
import function_app
imported = time.perf_counter() - began
later = 0.0
if sys.argv[1]:
    began = time.perf_counter()
    for name in sys.argv[1].split(","):
        __import__(name)
    later = time.perf_counter() - began
heavy = [name for name in json.loads(sys.argv[2]) if name in sys.modules]
print(json.dumps({"import_s": imported, "later_s": later, "modules": len(sys.modules), "heavy": heavy}))
"""


@dataclass(frozen=True, slots=True)
class Sample:
    """One fresh interpreter's import of one app."""

    import_s: float
    process_s: float
    modules: int
    heavy: tuple[str, ...]
    later_s: float = 0.0


def sample(app_dir: Path, *, then: tuple[str, ...] = ()) -> Sample:
    """Import ``function_app`` from ``app_dir`` in a new interpreter; ``then`` is imported after."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(then), json.dumps(HEAVY)],
        cwd=app_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    process_s = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"importing {app_dir / 'function_app.py'} failed:\n{done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(
        import_s=data["import_s"],
        process_s=process_s,
        modules=data["modules"],
        heavy=tuple(data["heavy"]),
        later_s=data["later_s"],
    )


def measure(rounds: int, *, before: Path | None = None) -> dict[str, list[Sample]]:
    """``rounds`` samples per case, alternating, the starting case rotating every round.

    ``before`` is another checkout of the app (``git archive`` of an older commit) measured in
    the same rounds, for a before/after comparison.
    """
    cases = {
        "minimal Durable app": lambda: sample(MINIMAL),
        "Convergio function_app": lambda: sample(ROOT),
        "Convergio, then a first run's imports": lambda: sample(ROOT, then=FIRST_RUN),
    }
    if before is not None:
        cases[f"Convergio function_app at {before}"] = lambda: sample(before)
    names = list(cases)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for name in names:  # warm the file cache and the bytecode of each app once
        cases[name]()
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(cases[name]())
    return samples


def _median(values: list[float]) -> float:
    return statistics.median(values) * 1000


def table(samples: dict[str, list[Sample]]) -> tuple[str, float]:
    """A markdown table of medians, and Convergio's import ratio to the minimal app."""
    base = _median([s.import_s for s in samples["minimal Durable app"]])
    lines = [
        "| app | import (ms) | process (ms) | modules | vs minimal | then first run's imports (ms) "
        "| heavy modules loaded |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    ratio = 0.0
    for name, rows in samples.items():
        imported = _median([s.import_s for s in rows])
        later = _median([s.later_s for s in rows]) if name.endswith("imports") else None
        if name == "Convergio function_app":
            ratio = imported / base
        heavy = ", ".join(rows[-1].heavy) or "none"
        lines.append(
            f"| {name} | {imported:.0f} | {_median([s.process_s for s in rows]):.0f} | "
            f"{rows[-1].modules} | {imported / base:.2f}x | "
            f"{'' if later is None else f'{later:.0f}'} | {heavy} |"
        )
    return "\n".join(lines), ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="samples per app (default 15)")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to measure alongside")
    args = parser.parse_args(argv)
    samples = measure(args.rounds, before=args.before)
    text, ratio = table(samples)
    print(text)
    verdict = "met" if ratio <= TARGET else "missed"
    print(f"\nimport function_app: {ratio:.2f}x the minimal Durable app (target {TARGET}x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
