"""The memo of validated graphs: a hit is what a fresh validation gives, and only for the same
tenant, content and catalog; a change of what validation depends on is seen."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from convergio.errors import InvalidGraph
from convergio.graph import Catalog, GraphMemo, Limits, parse_graph
from convergio.providers import PROVIDER_NAMES
from convergio.tools import TOOL_NAMES


def catalog(
    providers: set[str] = frozenset(),  # type: ignore[assignment]
    tools: frozenset[str] = TOOL_NAMES,
    graphs: dict[str, Any] | None = None,
    limits: Limits | None = None,
) -> Catalog:
    return Catalog(
        providers=frozenset(PROVIDER_NAMES | set(providers)),
        tools=tools,
        graphs=graphs or {},
        limits=limits or Limits(),
    )


def graph(**agent: Any) -> dict[str, Any]:
    first = {"id": "a", "prompt": "Hello {{ input.topic }}", **agent}
    return {"name": "g", "agents": [first, {"id": "b", "prompt": "{{ outputs.a }}", "depends_on": ["a"]}]}


def problems(call: Any) -> list[Any]:
    with pytest.raises(InvalidGraph) as caught:
        call()
    return list(caught.value.details)


def test_a_hit_is_the_validation_a_fresh_parse_gives() -> None:
    memo, cat = GraphMemo(), catalog()
    first = memo.parse("t1", graph(options={"n": 1}), cat)
    again = memo.parse("t1", json.loads(json.dumps(graph(options={"n": 1}))), cat)
    assert (memo.misses, memo.hits) == (1, 1)
    assert again is first
    fresh = parse_graph(graph(options={"n": 1}), cat)
    assert again.spec == fresh
    assert again.document == fresh.model_dump(mode="json", exclude_none=True)


def test_tenants_never_share_an_entry() -> None:
    memo, cat = GraphMemo(), catalog()
    one = memo.parse("t1", graph(), cat)
    two = memo.parse("t2", graph(), cat)
    assert (memo.misses, memo.hits, len(memo)) == (2, 0, 2)
    assert one is not two


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"n": 1}, {"n": 1.0}),
        ({"n": 1}, {"n": True}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # a spec keeps its options' order
        ({"n": "x"}, {"n": "x "}),
    ],
)
def test_only_the_same_content_hits(first: dict[str, Any], second: dict[str, Any]) -> None:
    memo, cat = GraphMemo(), catalog()
    memo.parse("t1", graph(options=first), cat)
    got = memo.parse("t1", graph(options=second), cat)
    assert memo.hits == 0
    assert json.dumps(got.document["agents"][0]["options"]) == json.dumps(second)


def test_a_provider_added_or_removed_is_seen() -> None:
    """A connection (a tenant's provider name) deleted: the graph that named it is rejected again."""
    memo, body = GraphMemo(), graph(provider="local-llm")
    with_it, without = catalog(providers={"local-llm"}), catalog()
    assert memo.parse("t1", body, with_it).spec.agents[0].provider == "local-llm"
    expected = problems(lambda: parse_graph(body, without))
    assert problems(lambda: memo.parse("t1", body, without)) == expected
    assert expected[0]["path"] == "agents[0].provider"
    assert memo.parse("t1", body, with_it).spec.agents[0].provider == "local-llm"
    assert memo.hits == 1  # the entry for the catalog with the connection is still right


def test_a_tool_removed_is_seen() -> None:
    memo, body = GraphMemo(), graph(tools=["plugin.echo"])
    memo.parse("t1", body, catalog(tools=TOOL_NAMES | {"plugin.echo"}))
    assert problems(lambda: memo.parse("t1", body, catalog()))[0]["path"] == "agents[0].tools[0]"


def test_limits_are_part_of_the_key() -> None:
    memo, body = GraphMemo(), graph()
    memo.parse("t1", body, catalog())
    found = problems(lambda: memo.parse("t1", body, catalog(limits=Limits(max_agents=1))))
    assert found == [{"path": "agents", "message": "graph has 2 agents in all; the limit is 1"}]


def test_a_named_graph_changed_or_removed_is_seen() -> None:
    sub: dict[str, Any] = {"name": "sub", "agents": [{"id": "x", "prompt": "hi"}]}
    body = {"name": "outer", "agents": [{"id": "s", "kind": "graph", "graph_ref": "sub"}]}
    memo, library = GraphMemo(), {"sub": sub}
    assert memo.parse("t1", body, catalog(graphs=library)).spec.agents[0].graph.agents[0].prompt == "hi"  # type: ignore[union-attr]
    assert memo.parse("t1", body, catalog(graphs=library)).spec is not None and memo.hits == 1
    changed = copy.deepcopy(sub)
    changed["agents"][0]["prompt"] = "bye"
    spec = memo.parse("t1", body, catalog(graphs={"sub": changed})).spec
    assert spec.agents[0].graph.agents[0].prompt == "bye"  # type: ignore[union-attr]
    broken = {"name": "sub", "agents": [{"id": "x", "prompt": "{{ outputs.y }}"}]}
    expected = problems(lambda: parse_graph(body, catalog(graphs={"sub": broken})))
    assert problems(lambda: memo.parse("t1", body, catalog(graphs={"sub": broken}))) == expected
    gone = problems(lambda: memo.parse("t1", body, catalog()))
    assert gone == [{"path": "agents[0].graph_ref", "message": "unknown graph 'sub'"}]


def test_rejected_graphs_are_not_kept_and_fail_as_before() -> None:
    memo, cat = GraphMemo(), catalog()
    bad = graph(depends_on=["b"])  # a -> b -> a
    expected = problems(lambda: parse_graph(bad, cat))
    for _ in range(2):
        assert problems(lambda: memo.parse("t1", bad, cat)) == expected
    assert len(memo) == 0
    assert expected[0]["message"].startswith("cycle: ")


def test_the_memo_is_bounded_by_agents() -> None:
    memo, cat = GraphMemo(max_agents=5), catalog()
    for n in range(4):
        memo.parse("t1", graph(options={"n": n}), cat)  # 2 agents each
    assert len(memo) == 2
    memo.parse("t1", graph(options={"n": 3}), cat)
    assert memo.hits == 1  # the newest is kept
    memo.parse("t1", graph(options={"n": 0}), cat)
    assert memo.hits == 1  # the oldest was evicted


def test_what_cannot_be_digested_is_validated_every_time() -> None:
    memo, cat = GraphMemo(), catalog()
    body = graph()
    body["description"] = lambda: None  # no digest: validated (and refused) as before, never kept
    assert problems(lambda: memo.parse("t1", body, cat))[0]["path"] == "description"
    assert len(memo) == 0
