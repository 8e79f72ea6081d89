"""The custom status set after each completion equals one built from scratch.

The run builds its status from what changed since the last one (ADR 0030): the nodes whose
shown fields were set, each entry measured, and a tail walked over the open records. Here
every status of a run is compared, as JSON text, with one rebuilt from the whole run each
time: every node's entry diffed against the last one shown, every route and re-plan, each
measured by ``json.dumps`` and fed to the journal as first written (``FullJournal``), the
counts and the nodes awaiting input counted over every node. The runs are the recorded ones'
kinds (random graphs with failures, retries, back-offs, timeouts, budgets, cancels, waits,
records confirmed late, out of order or lost) plus routing and a re-plan.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from convergio.graph import compact_entry
from convergio.graph._progress import AWAITING_SHOWN, ERROR_CHARS, Key
from tests.graph._golden import SCENARIOS, _random_run
from tests.graph._sim import Sim
from tests.graph.test_incremental import FullJournal


class Scratch:
    """The status of ``sim``'s run, rebuilt from the whole run at every look."""

    def __init__(self, sim: Sim) -> None:
        run = sim.run
        self.run = run
        self.shown: dict[Key, dict[str, Any]] = {("nodes", n): {"status": "waiting"} for n in run.nodes}
        baseline = {n: {"status": "waiting"} for n in run.nodes}
        self.journal = FullJournal(baseline, keep_records=run.progress._keep)
        confirm = run.progress.confirm

        def both(seq: int) -> None:  # the run's journal hears of a record's confirmation: so does this one
            self.journal.confirm(seq)
            confirm(seq)

        run.progress.confirm = both  # type: ignore[method-assign]

    def status(self) -> dict[str, Any]:
        run = self.run
        now: dict[Key, dict[str, Any]] = {
            ("nodes", n): compact_entry(v.entry()) for n, v in run.nodes.items()
        }
        now.update({("routes", r): route for r, route in run.routes.items()})
        now.update({("replans", str(i)): plan for i, plan in enumerate(run.replans)})
        order = sorted(k for k in now if k[0] == "nodes") + sorted(k for k in now if k[0] == "routes")
        order += [k for k in now if k[0] == "replans"]
        changes = [(key, now[key]) for key in order if self.shown.get(key) != now[key]]
        self.shown.update(changes)
        self.journal.note(changes)
        nodes = [value for key, value in now.items() if key[0] == "nodes"]
        waiting = sorted(n for n, node in run.nodes.items() if node.status == "awaiting_input")
        return {
            "graph": run.spec.name,
            "rev": self.journal.rev,
            "records": self.journal.sealed,
            "confirmed": self.journal.sealed - len(self.journal._open),
            "counts": dict(Counter(entry["status"] for entry in nodes)),
            "awaiting_input": waiting[:AWAITING_SHOWN],
            "usage": run.usage(),
            "error": run.error[:ERROR_CHARS] if run.error else None,
            **self.journal.tail(),
        }


def compare(sim: Sim, rng: random.Random) -> int:
    """Drive ``sim`` as the orchestrator does (``_golden.play``), comparing every status."""
    scratch = Scratch(sim)
    looks = 0
    while True:
        status = sim.run.custom_status()
        expected = scratch.status()
        assert status.pop("counts") == expected.pop("counts"), looks  # (their order is history's)
        assert json.dumps(status) == json.dumps(expected), looks
        records = sim.run.take_records()
        assert json.dumps([r for _, r in records]) == json.dumps(scratch.journal.take_records())
        for token, record in records:
            sim._push(sim.now + timedelta(seconds=rng.uniform(0, 0.3)), token, rng.random() > 0.05, record)
        for name in sorted(sim.waiting_events):
            if rng.random() < 0.5:
                sim.raise_event(name, {"approved": rng.random() < 0.8}, after=rng.uniform(0, 1))
        looks += 1
        if not sim.step():
            return looks


@pytest.mark.parametrize("seed", range(0, 300, 7))
def test_a_random_runs_statuses_equal_the_ones_built_from_scratch(seed: int) -> None:
    assert compare(_random_run(seed), random.Random(seed + 2)) > 1


@pytest.mark.parametrize("name", ["route-math", "route-science", "replan", "fan_out-500"])
def test_a_routed_replanned_or_wide_runs_statuses_equal_the_ones_built_from_scratch(name: str) -> None:
    sim = SCENARIOS[name]()
    assert compare(sim, random.Random(0)) > 1
    assert sim.run.routes or sim.run.replans or sim.run.progress.sealed > 10
