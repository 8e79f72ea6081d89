"""The memo of validated graphs: a hit is what a fresh validation gives, and only for the same
tenant, content and catalog; a change of what validation depends on is seen. The orchestrator's
memo of run graphs (``run_spec``): a hit is what validating and dumping again gives."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from convergio.errors import InvalidGraph
from convergio.graph import AgentSpec, Catalog, GraphMemo, GraphSpec, Limits, parse_graph
from convergio.graph._memo import _agents_in, _Bounded, run_spec
from convergio.providers import PROVIDER_NAMES
from convergio.tools import TOOL_NAMES
from tests.graph._sim import Sim, answer


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
    assert again.text == json.dumps(again.document)  # the start sends it as the SDK would (ADR 0053)


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


# -- the orchestrator's memo (run_spec) ---------------------------------------------------


def test_a_runs_graph_is_validated_once_per_content_and_equals_a_fresh_validation() -> None:
    body = graph(options={"n": 41})
    first = run_spec(body)
    again = run_spec(json.loads(json.dumps(body)))
    assert again is first
    assert first.spec == GraphSpec.model_validate(body)
    assert run_spec(graph(options={"n": 41.0})) is not first  # 1 and 1.0 are different graphs
    assert run_spec(graph(options={"n": 41.0})).spec.agents[0].options == {"n": 41.0}


def test_an_agents_json_is_its_dump_made_once_and_only_for_the_graphs_own_agents() -> None:
    entry = run_spec(graph(options={"n": 42}, tools=["calculator"]))
    for agent in entry.spec.agents:
        made = entry.agent_json(agent)
        assert made == agent.model_dump(mode="json", exclude_none=True)
        assert json.dumps(made) == json.dumps(agent.model_dump(mode="json", exclude_none=True))
        assert entry.agent_json(agent) is made
    # an agent of the same id from elsewhere (a re-plan) is dumped as it is, and never kept
    other = AgentSpec.model_validate({"id": "a", "prompt": "again {{ input }}"})
    assert entry.agent_json(other) == other.model_dump(mode="json", exclude_none=True)
    assert entry.agent_json(entry.spec.agents[0])["prompt"] == "Hello {{ input.topic }}"


def test_a_graph_the_orchestrator_cannot_validate_raises_and_is_not_kept() -> None:
    bad = {"name": "g", "agents": [{"id": "a", "retry": {"attempts": 0}}]}
    for _ in range(2):
        with pytest.raises(ValidationError):
            run_spec(bad)


def test_runs_of_one_graph_start_the_same_calls_as_without_the_memo() -> None:
    """A hit changes nothing the orchestrator does: every call's input is what validating the
    graph again and dumping each agent gives (the replay of any run decides the same)."""
    body = {
        "name": "same",
        "agents": [
            {"id": "a", "prompt": "p {{ input }}", "options": {"x": [1, 2.5]}, "retry": {"attempts": 2}},
            {"id": "b", "prompt": "{{ outputs.a }}", "depends_on": ["a"], "retry": {"attempts": 2}},
        ],
    }
    calls = []
    for _ in range(2):
        sim = Sim(json.loads(json.dumps(body)), lambda call: (0.1, call["attempt"] > 1, answer(call)[2]))
        sim.finish()
        calls.append(json.dumps(sim.calls))
        spec = GraphSpec.model_validate(sim.request["graph"])
        agents = {a.id: a.model_dump(mode="json", exclude_none=True) for a in spec.agents}
        assert all(call["agent"] == agents[call["node_id"]] for call in sim.calls)
        assert len(sim.calls) == 4  # each agent failed once, then completed
    assert calls[0] == calls[1]


def test_the_runs_memo_is_bounded_by_agents() -> None:
    memo: _Bounded[str] = _Bounded(max_weight=5, max_entries=3)
    for n in range(4):
        memo.put(n, f"v{n}", 2)
    assert len(memo) == 2 and memo.get(0) is None and memo.get(3) == "v3"
    memo.put("big", "too big", 6)  # over the bound alone: never kept
    assert memo.get("big") is None and len(memo) == 2
    memo.get(2)  # the oldest is now 3
    memo.put("c", "x", 1)
    memo.put("d", "y", 1)  # four entries: over max_entries, the least recently used goes
    assert memo.get(3) is None and memo.get(2) == "v2" and len(memo) == 3


def test_a_runs_graph_weighs_its_sub_graphs_agents_too() -> None:
    inner = {"name": "inner", "agents": [{"id": f"i{n}", "prompt": "p"} for n in range(7)]}
    agents = [{"id": "sub", "kind": "graph", "graph": inner}, {"id": "x", "prompt": "p"}]
    outer = {"name": "outer", "agents": agents}
    assert _agents_in(run_spec(outer).spec) == 9  # two agents, one of them holding seven
