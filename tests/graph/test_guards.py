"""Guards in a spec: checked against the tools a tenant has, and folded into every agent."""

from __future__ import annotations

import pytest

from convergio.errors import InvalidGraph
from convergio.graph import Catalog, parse_graph

CATALOG = Catalog(providers=frozenset({"offline"}), tools=frozenset({"redact", "check", "calculator"}))


def test_a_graphs_guards_come_first_in_every_agent_and_in_its_sub_graphs() -> None:
    spec = parse_graph(
        {
            "name": "g",
            "guards": ["redact"],
            "agents": [
                {"id": "a", "prompt": "x", "guards": ["check", "redact"]},
                {
                    "id": "s",
                    "kind": "graph",
                    "depends_on": ["a"],
                    "guards": ["check"],
                    "graph": {"name": "inner", "agents": [{"id": "b", "prompt": "y"}]},
                },
            ],
        },
        CATALOG,
    )
    a, sub = spec.agents
    assert a.guards == ["redact", "check"]
    assert sub.graph is not None and sub.graph.agents[0].guards == ["redact", "check"]
    assert parse_graph(spec.model_dump(), CATALOG) == spec  # folding twice changes nothing


def test_unknown_guards_are_named_with_their_paths() -> None:
    with pytest.raises(InvalidGraph) as info:
        parse_graph(
            {
                "name": "g",
                "guards": ["nope"],
                "agents": [{"id": "a", "prompt": "x", "guards": ["x", "check"]}],
            },
            CATALOG,
        )
    assert [p["path"] for p in info.value.details] == ["guards[0]", "agents[0].guards[0]"]
