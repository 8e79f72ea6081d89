"""Routing benchmark: the numba scorer vs its pure-Python twin, and routing accuracy on labelled samples.

    python -m benchmarks.routing [--candidates 10000] [--requests 1000] [--repeat 5]

Speed: synthetic candidate descriptions (25 words from a 4,000-word pseudo vocabulary)
and requests (10 words), scored two ways in the same process, each end to end (index
the candidates, then the top 5 per request):

- pure Python: ``route_scores_python``, the kernel's twin (same arithmetic, same order),
  the tests' oracle and the baseline;
- numba: ``RoutingIndex.build(...).top_k(...)``; its choices are checked equal to the twin's.

Warm-up runs (numba compilation included) are excluded; figures are medians of
``--repeat`` runs (``--python-repeat`` for the slow baseline, about 3 minutes a run at
the default sizes on 2 cores). Target: numba >= 20x.

Accuracy: ``benchmarks/data/routing-samples.json`` holds ten school help-desk agents
(description and examples, as a router sees them) and 100 requests labelled with the
agent that should answer; none of them is an example. Reported: top-1 and top-3 accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SAMPLES = Path(__file__).parent / "data" / "routing-samples.json"
TARGET = 20.0
TOP = 5


def vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = [
        "ka",
        "lo",
        "mi",
        "tr",
        "ven",
        "sol",
        "qu",
        "ax",
        "bre",
        "dun",
        "fi",
        "gor",
        "hel",
        "ish",
        "po",
    ]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(syllables, k=rng.randint(2, 4))))
    return sorted(words)


def synthetic(rng: random.Random, words: list[str], count: int, length: int) -> list[str]:
    return [" ".join(rng.choices(words, k=length)) for _ in range(count)]


def median_seconds(call: Callable[[], Any], repeat: int, *, warm_up: bool = True) -> tuple[float, Any]:
    """Warm up once (not timed) unless told not to, then the median wall time of ``repeat`` calls."""
    result = call() if warm_up else None
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def accuracy() -> tuple[int, int, int, float]:
    """Top-1 and top-3 hits on the labelled samples, their count, and the mean best score."""
    from convergio.graph import RouteCall, route_documents
    from convergio.kernels import RoutingIndex

    data = json.loads(SAMPLES.read_text(encoding="utf-8"))
    ids = [c["id"] for c in data["candidates"]]
    call = RouteCall.model_validate(
        {
            "run_id": "",
            "node_id": "",
            "prompt": "",
            "candidates": data["candidates"],
            "route": {"candidates": ids},
        }
    )
    texts, owners = route_documents(call.candidates)
    best, scores = RoutingIndex.build(texts, owners, len(ids)).top_k([s["text"] for s in data["samples"]], 3)
    labels = [s["label"] for s in data["samples"]]
    top1 = sum(ids[row[0]] == label for row, label in zip(best, labels, strict=True))
    top3 = sum(label in [ids[i] for i in row if i >= 0] for row, label in zip(best, labels, strict=True))
    return top1, top3, len(labels), float(scores[:, 0].mean())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python-repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if min(args.candidates, args.requests, args.repeat, args.python_repeat) < 1:
        parser.error("--candidates, --requests and the repeats must be >= 1")
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="numba-cache-"))

    import numba
    import numpy as np

    from convergio.kernels import RoutingIndex, route_scores_python

    console = Console(width=max(Console().width, 110))
    rng = random.Random(args.seed)  # noqa: S311 - synthetic data, not security
    words = vocabulary(rng, 4_000)
    documents = synthetic(rng, words, args.candidates, 25)
    requests = synthetic(rng, words, args.requests, 10)
    owners = list(range(args.candidates))

    def compiled() -> tuple[Any, Any]:
        return RoutingIndex.build(documents, owners, args.candidates).top_k(requests, TOP)

    with console.status("numba: warm-up (compiles), then timed runs"):
        numba_s, (best, _) = median_seconds(compiled, args.repeat)
        index_s, index = median_seconds(
            lambda: RoutingIndex.build(documents, owners, args.candidates), args.repeat
        )
        score_s, _ = median_seconds(lambda: index.top_k(requests, TOP), args.repeat)
    with console.status("pure Python twin (nothing to warm up; minutes at the default sizes)"):
        python_s, expected = median_seconds(
            lambda: route_scores_python(documents, owners, args.candidates, requests, TOP),
            args.python_repeat,
            warm_up=False,
        )
    got = [[int(i) for i in row if i >= 0] for row in best]
    if got != [[i for i, _ in row] for row in expected]:
        raise SystemExit("the numba choices differ from the pure-Python twin's")
    top1, top3, samples, mean_best = accuracy()

    console.print(
        f"{args.candidates:,} candidates x {args.requests:,} requests, top {TOP}; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numba {numba.__version__}, numpy {np.__version__}; "
        f"medians of {args.repeat} (numba) and {args.python_repeat} (Python) runs, warm-up excluded"
    )
    table = Table(title="Routing scores: numba vs pure Python")
    for header in ("scorer", "seconds", "per request (ms)", "speed-up"):
        table.add_column(header, justify="left" if header == "scorer" else "right")
    ratio = python_s / numba_s
    table.add_row(
        "pure-Python twin (index + score)",
        f"{python_s:.3f}",
        f"{1000 * python_s / args.requests:.3f}",
        "1.0x",
    )
    table.add_row(
        "numba (index + score)",
        f"{numba_s:.4f}",
        f"{1000 * numba_s / args.requests:.4f}",
        f"[{'green' if ratio >= TARGET else 'red'}]{ratio:.1f}x[/]",
    )
    table.add_row("  of which: index the candidates", f"{index_s:.4f}", "", "")
    table.add_row(
        "  of which: score the requests", f"{score_s:.4f}", f"{1000 * score_s / args.requests:.4f}", ""
    )
    console.print(table)
    verdict = "meets" if ratio >= TARGET else "MISSES"
    console.print(f"speed-up over the pure-Python twin: {ratio:.1f}x ({verdict} the {TARGET:.0f}x target)")
    console.print(
        f"accuracy on {samples} labelled samples ({SAMPLES.name}): top-1 {top1 / samples:.0%}, "
        f"top-3 {top3 / samples:.0%}; mean best score {mean_best:.3f}"
    )


if __name__ == "__main__":
    main()
