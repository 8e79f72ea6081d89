"""Cold-start benchmark: ``import function_app`` against a minimal Durable app, same venv.

    python -m benchmarks.coldstart [--rounds 15]

Each sample is a fresh interpreter (a subprocess, as a Functions worker is) that imports one
app and reports the time the import took, the number of modules loaded, and which heavy
libraries came with it. Rounds alternate between the two apps (the order flips every round)
and the table shows medians, with Convergio's ratio to the minimal app
(``benchmarks/apps/coldstart_app``: HTTP starter, orchestrator, activity on one ``DFApp``).
Target (issue 22): at most 1.5x.

A third row measures what the lazy imports moved out of the cold start: in the same fresh
process, after ``import function_app``, the modules a first graph run imports (the route
module of ``POST /api/v1/runs`` with pydantic and the run's models, the ``run_agent``
activity, the graph package), as a Functions worker imports them on its first requests. That
cost is paid on the first run instead.

``--first-request N`` measures where the rest of it went: N times per checkout (alternating), a
host process (``python -m convergio start`` on a fresh home with one tenant) is started, then
timed: the start (until the host prints its URL), the first ``POST /api/v1/runs`` (an inline
one-agent graph on the offline provider) and the first ``GET /api/v1/runs/{id}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HEAVY", "TARGET", "Sample", "first_request", "first_request_table", "main", "measure", "sample"]

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "benchmarks" / "apps" / "coldstart_app"
TARGET = 1.5
HEAVY = ("numpy", "numba", "aiohttp", "httpx", "rich", "click", "jinja2", "jsonschema", "yaml", "wasmtime")
"""Libraries whose presence after the import the table reports."""
FIRST_RUN = ("convergio.api._runs", "activities.agents", "convergio.graph")
"""What a first graph run imports that the cold start no longer does (its trigger imports ``_runs``)."""
_GRAPH = {"name": "first", "agents": [{"id": "a", "prompt": "Say hello to {{ input.who }}"}]}
_BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}
"""Empty is unset: after the warm-up every sample reads .pyc files, as a deployed app does, and
an edited module is not compiled anew in every sample."""

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
        env={**os.environ, **_BYTECODE},
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


def first_request(checkout: Path) -> dict[str, float]:
    """Milliseconds to start a host for ``checkout``, then to its first run start and first read."""
    import httpx  # the benchmark's client, not the apps'

    from benchmarks.runs_api import host

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        added = subprocess.run(
            [sys.executable, "-m", "convergio", "tenants", "add", "bench", "--home", str(home)],
            cwd=checkout,
            env={**os.environ, "PYTHONPATH": str(checkout), **_BYTECODE},
            capture_output=True,
            text=True,
            check=True,
        )
        key = added.stdout.strip().splitlines()[-1]
        began = time.perf_counter()
        with host(checkout / "function_app.py", home, _BYTECODE) as url:
            started = time.perf_counter()
            with httpx.Client(base_url=f"{url}/api/v1", headers={"x-api-key": key}, timeout=60) as http:
                body = {"graph": _GRAPH, "input": {"who": "you"}}
                created = http.post("/runs", json=body)
                posted = time.perf_counter()
                read = http.get(f"/runs/{created.json()['id']}")
                done = time.perf_counter()
            if created.status_code != 202 or read.status_code != 200:
                raise RuntimeError(f"first requests answered {created.status_code}, {read.status_code}")
    return {
        "start": (started - began) * 1000,
        "post": (posted - started) * 1000,
        "get": (done - posted) * 1000,
        "requests": (done - started) * 1000,
    }


def first_request_table(rounds: int, checkouts: dict[str, Path]) -> str:
    """Medians of :func:`first_request` per checkout, alternating the order every round."""
    names = list(checkouts)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            runs[name].append(first_request(checkouts[name]))
    lines = [
        "| app | host start (ms) | first POST /runs (ms) | first GET /runs/{id} (ms) | both requests (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows in runs.items():
        cells = " | ".join(
            f"{statistics.median(r[k] for r in rows):.0f}" for k in ("start", "post", "get", "requests")
        )
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="samples per app (default 15; 0: none)")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to measure alongside")
    parser.add_argument(
        "--first-request",
        type=int,
        default=0,
        metavar="N",
        help="also time a host's first requests, N rounds",
    )
    args = parser.parse_args(argv)
    if args.first_request:
        checkouts = {"Convergio": ROOT} | (
            {f"Convergio at {args.before}": args.before} if args.before else {}
        )
        print(first_request_table(args.first_request, checkouts), end="\n\n")
    if args.rounds < 1:
        return 0
    samples = measure(args.rounds, before=args.before)
    text, ratio = table(samples)
    print(text)
    verdict = "met" if ratio <= TARGET else "missed"
    print(f"\nimport function_app: {ratio:.2f}x the minimal Durable app (target {TARGET}x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
