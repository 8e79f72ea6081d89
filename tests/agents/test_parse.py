"""The activity's input parsed with each agent's spec validated once per process (ADR 0048):
the same model, the same errors, as ``AgentCall.model_validate`` on every call."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from convergio.agents import AgentCall, parse_call
from convergio.agents import _parse as memo


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    memo.forget_specs()
    yield
    memo.forget_specs()


def _call(agent: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"run_id": "r", "tenant": "t", "node_id": agent.get("id", "a"), "agent": agent, **fields}


def _parsed_both_ways(call: dict[str, Any]) -> tuple[Any, Any]:
    """(parse_call's result or error, model_validate's), on copies of one JSON text."""
    text = json.dumps(call)
    results = []
    for parse in (parse_call, AgentCall.model_validate):
        try:
            results.append(parse(json.loads(text)))
        except ValidationError as exc:
            results.append(("error", exc.errors(include_url=False)))
    return results[0], results[1]


def _random_agent(rng: random.Random) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "id": rng.choice(["a", "b", "writer"]),
        "prompt": rng.choice(["p", "{{ input.x }}"]),
    }
    optional: dict[str, Any] = {
        "options": rng.choice([{}, {"output_tokens": 16}, {"output_tokens": 16.0}, {"x": True}, {"x": 1}]),
        "tools": rng.choice([[], ["word_count"], ["word_count", "calculator"]]),
        "depends_on": rng.choice([[], ["a"], ["b", "a"]]),
        "budget": rng.choice([{}, {"max_tokens": 100}, {"max_tokens": -1}]),
        "max_rounds": rng.choice([1, 3, 0, 21, "2", 2.0]),
        "kind": rng.choice(["agent", "supervisor", "nope"]),
        "model": rng.choice([None, "sim-large", 5]),
        "retry": rng.choice([{}, {"attempts": 2, "backoff_ms": 10}]),
    }
    for key in rng.sample(sorted(optional), rng.randint(0, len(optional))):
        agent[key] = optional[key]
    return agent


def test_parse_call_equals_a_full_validation_for_random_calls_hit_or_miss() -> None:
    rng = random.Random(48)
    agents = [_random_agent(rng) for _ in range(60)]
    for _ in range(600):  # each agent comes back about ten times: hits, with other call fields
        call = _call(rng.choice(agents), attempt=rng.choice([1, 2, 0]), step=rng.choice([0, 3]))
        if rng.random() < 0.1:
            call["bogus"] = 1
        parsed, validated = _parsed_both_ways(call)
        assert parsed == validated
        if isinstance(parsed, AgentCall):
            assert parsed.model_dump_json() == validated.model_dump_json()


def test_a_hit_shares_the_spec_and_equal_content_of_other_types_does_not() -> None:
    first = parse_call(_call({"id": "a", "prompt": "p", "options": {"n": 1}}))
    again = parse_call(_call({"id": "a", "prompt": "p", "options": {"n": 1}}))
    assert again.agent is first.agent
    for other in ({"n": 1.0}, {"n": True}):  # equal in Python, not the same JSON: validated on their own
        parsed = parse_call(_call({"id": "a", "prompt": "p", "options": other}))
        assert parsed.agent is not first.agent
        assert parsed.agent.options == other and type(parsed.agent.options["n"]) is type(other["n"])
    reordered = parse_call(_call({"prompt": "p", "id": "a", "options": {"n": 1}}))
    assert reordered.agent is not first.agent and reordered.agent == first.agent


def test_a_spec_that_fails_is_not_kept_and_fails_the_same_way_again() -> None:
    bad = _call({"id": "a", "prompt": "p", "max_rounds": 0})
    for _ in range(2):
        with pytest.raises(ValidationError, match="max_rounds"):
            parse_call(bad)
    assert not memo._specs.items


def test_values_marshal_refuses_are_validated_as_before() -> None:
    class Text(str):
        pass

    call = _call({"id": "a", "prompt": Text("p")})
    assert parse_call(call) == AgentCall.model_validate(call)
    assert not memo._specs.items
    for agent in (None, "not an agent", ["a"]):  # not a dict: pydantic says why, as before
        with pytest.raises(ValidationError, match="agent"):
            parse_call({**call, "agent": agent})


def test_the_input_dict_changed_afterwards_leaves_the_kept_spec_alone() -> None:
    agent = {"id": "a", "prompt": "p", "options": {"n": [1]}, "tools": ["word_count"]}
    first = parse_call(_call(agent))
    agent["options"]["n"].append(2)  # type: ignore[index]
    agent["tools"].append("calculator")  # type: ignore[attr-defined]
    assert first.agent.options == {"n": [1]} and first.agent.tools == ["word_count"]
    same = {"id": "a", "prompt": "p", "options": {"n": [1]}, "tools": ["word_count"]}
    assert parse_call(_call(same)).agent is first.agent


def test_the_memo_is_bounded_by_entries_and_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MAX_SPECS_KEPT", 5)
    kept = [parse_call(_call({"id": "a", "prompt": f"p{n}"})).agent for n in range(20)]
    assert len(memo._specs.items) == 5
    assert parse_call(_call({"id": "a", "prompt": "p19"})).agent is kept[19]  # the newest stay
    assert parse_call(_call({"id": "a", "prompt": "p0"})).agent is not kept[0]  # the oldest went
    memo.forget_specs()
    monkeypatch.setattr(memo, "MAX_SPECS_KEPT", 1000)
    monkeypatch.setattr(memo, "SPEC_BYTES_KEPT", 400)
    for n in range(20):
        parse_call(_call({"id": "a", "prompt": f"p{n}" * 10}))
    assert 0 < memo._specs.size <= 400
    assert memo._specs.size == sum(len(key) for key in memo._specs.items)
    parse_call(_call({"id": "a", "prompt": "x" * 1000}))  # bigger than the whole memo: not kept
    assert all(b"x" * 1000 not in key for key in memo._specs.items)
