"""The cycle check: a quick count for graphs without a cycle, the same path-naming search for the rest."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

import pytest

from convergio.graph import GraphSpec
from convergio.graph._validate import _acyclic, _find_cycle


def _dfs_cycle(spec: GraphSpec, index: Mapping[str, int]) -> list[str]:
    """The search as it was before the quick count: the reference."""
    colour: dict[str, int] = {}
    for root in index:
        if root in colour:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(spec.agents[index[root]].depends_on))]
        colour[root] = 1
        while stack:
            node, deps = stack[-1]
            dep = next((d for d in deps if d in index), None)
            if dep is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(dep) == 1:
                trail = [n for n, _ in stack]
                return [*trail[trail.index(dep) :], dep]
            elif dep not in colour:
                colour[dep] = 1
                stack.append((dep, iter(spec.agents[index[dep]].depends_on)))
    return []


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
        reference = _dfs_cycle(spec, index)
        assert _acyclic(spec, index) == (reference == [])
        assert _find_cycle(spec, index) == reference
