"""The cycle check: a quick count for graphs without a cycle, a path-naming search for the rest,
against the standard library's topological sort."""

from __future__ import annotations

import graphlib
import itertools
import random
from collections.abc import Mapping

import pytest

from convergio.graph import GraphSpec
from convergio.graph._validate import _acyclic, _find_cycle


def _has_cycle(spec: GraphSpec, index: Mapping[str, int]) -> bool:
    """The reference: the standard library's topological sort over the same edges."""
    edges = {node: [d for d in spec.agents[i].depends_on if d in index] for node, i in index.items()}
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError:
        return True
    return False


def _random_spec(rng: random.Random) -> GraphSpec:
    n = rng.randint(1, 12)
    ids = [f"n{rng.randint(0, n)}" for _ in range(n)]  # duplicates on purpose
    agents = [
        {
            "id": i,
            "prompt": "p",
            "depends_on": [rng.choice([*ids, "ghost"]) for _ in range(rng.randint(0, 3))],
        }
        for i in ids
    ]
    return GraphSpec.model_validate({"name": "g", "agents": agents})


@pytest.mark.parametrize("seed", range(40))
def test_the_quick_count_agrees_with_the_search(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        spec = _random_spec(rng)
        index: dict[str, int] = {}
        for i, agent in enumerate(spec.agents):
            index.setdefault(agent.id, i)
        cyclic = _has_cycle(spec, index)
        assert _acyclic(spec, index) is not cyclic
        cycle = _find_cycle(spec, index)
        assert bool(cycle) is cyclic
        if cycle:  # a real cycle, named as the error names it: [a, b, ..., a], each on the next
            assert cycle[0] == cycle[-1]
            for node, dep in itertools.pairwise(cycle):
                assert dep in spec.agents[index[node]].depends_on
