"""Recorded runs of the state machine: a digest of every status, record, call and result (ADR 0042).

The orchestrator's own code is tuned for speed (incremental statuses, kept tails, memoised
specs), and every such change must leave what a run shows and does byte-identical. This
module plays a fixed set of runs through the simulator, with random graphs (chains and DAGs
with retries, back-offs, timeouts, budgets, waits for input answered or timed out, all three
``on_failure`` policies, ``max_parallel`` 1 to 64, sub-graph runs that keep no records),
routers, a re-plan and the benchmark's shapes, and digests, step by step, the JSON text of
the custom status, the records sealed, the records confirmed or lost, then the calls, the
dropped tokens and the result. ``test_golden.py`` compares the digests with
``golden_runs.json``, which was written by running this file against a reference tree::

    PYTHONPATH=<reference tree> python tests/graph/_golden.py > tests/graph/golden_runs.json

(the first run was against the tree of commit 49b0ded). A change that alters any status byte
fails the test; one that is meant to alter the statuses regenerates the file and says why.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.graph._sim import Behaviour, Sim, answer

__all__ = ["RANDOM_RUNS", "SCENARIOS", "digest", "names", "play"]

RANDOM_RUNS = 300


def random_graph(rng: random.Random) -> dict[str, Any]:
    """A random DAG: mostly small, sometimes wide enough to seal and confirm several records
    (some go on through every failure, so that a run lives long enough to write many)."""
    n = rng.randint(2, 40) if rng.random() < 0.85 else rng.randint(60, 160)
    policies = ["fail_run", "continue", "skip_dependents"] if rng.random() < 0.6 else ["continue"]
    agents = []
    for i in range(n):
        policy = rng.choice(policies)
        a: dict[str, Any] = {"id": f"n{i}", "prompt": "do {{ input }}", "on_failure": policy}
        deps = sorted(rng.sample(range(i), rng.randint(0, min(3, i)))) if i else []
        if deps:
            a["depends_on"] = [f"n{d}" for d in deps]
        if rng.random() < 0.3:
            a["retry"] = {"attempts": rng.randint(1, 3), "backoff_ms": rng.choice([0, 0, 200])}
        if rng.random() < 0.15:
            a["budget"] = {"max_seconds": rng.choice([0.05, 1, 5]), "max_tokens": rng.choice([5, 50, 500])}
        if rng.random() < 0.1:
            a["await_event"] = {"name": f"e{i}", "timeout_seconds": rng.choice([0.3, 60])}
        if rng.random() < 0.2:
            a["options"] = {"k": rng.choice([1, 2.5, "x", [1, {"y": None}]])}
        agents.append(a)
    graph = {
        "name": f"g{rng.randrange(1000)}",
        "agents": agents,
        "output": f"n{n - 1}",
        "max_parallel": rng.choice([1, 2, 4, 64]),
    }
    if rng.random() < 0.3:
        graph["budget"] = {"max_tokens": rng.choice([30, 200, 5000]), "max_seconds": rng.choice([1, 100])}
    return graph


def random_behaviour(rng: random.Random, fails: float) -> Behaviour:
    """Agents that mostly answer, sometimes fail (an error, or a failed result with usage)."""

    def act(call: dict[str, Any]) -> tuple[float, bool, Any]:
        r = rng.random()
        if r < fails:
            return rng.uniform(0.01, 0.5), False, "provider down\nmore"
        if r < fails * 4 / 3:
            usage = {"total_tokens": 3, "prompt_tokens": 3}
            return rng.uniform(0.01, 0.5), True, {"status": "failed", "error": "bad", "usage": usage}
        return answer(call, seconds=rng.uniform(0.01, 0.5), tokens=rng.randint(0, 40))

    return act


def play(sim: Sim, rng: random.Random) -> str:
    """Drive ``sim`` to its end as the orchestrator does; the digest of all it showed and did.

    Sealed records are written like the orchestrator writes them (a task whose completion
    confirms them, a few of which fail), and events are raised at random.
    """
    h = hashlib.sha256()
    while True:
        h.update(json.dumps(sim.run.custom_status()).encode())
        for token, record in sim.run.take_records():
            h.update(f"{token}:{json.dumps(record)}".encode())
            sim._push(sim.now + timedelta(seconds=rng.uniform(0, 0.3)), token, rng.random() > 0.05, record)
        for name in sorted(sim.waiting_events):
            if rng.random() < 0.5:
                sim.raise_event(name, {"approved": rng.random() < 0.8}, after=rng.uniform(0, 1))
        if not sim.step():
            break
    h.update(json.dumps(sim.calls, default=str).encode())
    h.update(json.dumps(sim.run.result() if sim.run.finished else None, default=str).encode())
    h.update(json.dumps(sorted(sim.dropped)).encode())
    h.update(json.dumps(sim.run.status(), default=str).encode())
    return h.hexdigest()


def _random_run(seed: int) -> Sim:
    rng = random.Random(seed)
    graph = random_graph(rng)
    request = {"as_child": True} if rng.random() < 0.1 else {}
    fails = rng.choice([0.0, 0.01, 0.05, 0.15])
    return Sim(graph, random_behaviour(random.Random(seed + 1), fails), {"topic": "t"}, **request)


def _routed(question: str) -> Sim:
    from tests.graph.test_routing import behaviour, help_desk

    return Sim(help_desk(), behaviour, question)


def _replanned() -> Sim:
    from tests.graph.test_replan import draft, failing_draft, lesson, scripted

    plan = {"action": "replace", "reason": "retry with a simpler prompt", "agents": [draft()]}
    act, _ = scripted([plan], failing_draft)
    return Sim(lesson(), act, "volcanoes")


def _benchmark(kind: str, size: int) -> Sim:
    from benchmarks.peers_convergio import graph_spec
    from benchmarks.peers_workloads import build

    return Sim(graph_spec(build(kind, size)), answer, {"topic": "fractions"})


SCENARIOS: dict[str, Callable[[], Sim]] = {
    "route-math": lambda: _routed("How do I add fractions?"),
    "route-science": lambda: _routed("Why do plants need sunlight?"),
    "replan": _replanned,
    "chain-100": lambda: _benchmark("chain", 100),
    "fan_out-500": lambda: _benchmark("fan_out", 500),
}


def digest(name: str) -> str:
    """One recorded run's digest: ``random-<seed>`` or a scenario's name."""
    if name.startswith("random-"):
        seed = int(name.removeprefix("random-"))
        return play(_random_run(seed), random.Random(seed + 2))
    return play(SCENARIOS[name](), random.Random(0))


def names() -> list[str]:
    return [f"random-{seed}" for seed in range(RANDOM_RUNS)] + list(SCENARIOS)


if __name__ == "__main__":
    json.dump({name: digest(name) for name in names()}, sys.stdout, indent=0)
    sys.stdout.write("\n")
