"""``convergio._json.too_deep`` (the level-at-a-time walk) equals the plain recursive definition."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from convergio import _json


def depth(value: Any) -> int:
    """Nesting depth of lists and dicts: a scalar 0, ``[]`` 1."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def shape(rng: random.Random, levels: int) -> Any:
    if levels == 0 or rng.random() < 0.2:
        return rng.choice([1, "[{", None, 2.5, True])
    if rng.random() < 0.5:
        return [shape(rng, levels - 1) for _ in range(rng.randint(0, 3))]
    return {str(i): shape(rng, levels - 1) for i in range(rng.randint(0, 3))}


def test_it_agrees_with_the_definition_on_random_documents() -> None:
    rng = random.Random(22)
    for _ in range(3000):
        value, limit = shape(rng, rng.randint(0, 10)), rng.randint(1, 9)
        assert _json.too_deep(value, limit) is (depth(value) > limit), (value, limit)


@pytest.mark.parametrize("levels", [63, 64, 65, 1000])
def test_the_limit_is_exact(levels: int) -> None:
    text = "[" * levels + "]" * levels
    if levels > _json.MAX_DEPTH:
        with pytest.raises(_json.TooDeep, match="deeper than 64"):
            _json.loads(text)
    else:
        assert depth(_json.loads(text)) == levels


def test_a_deep_branch_among_wide_shallow_ones_is_found() -> None:
    wide: dict[str, Any] = {"nodes": [{"id": i, "params": {"t": [1, 2]}} for i in range(500)]}
    assert not _json.too_deep(json.loads(json.dumps(wide)))
    wide["nodes"][250]["params"]["t"] = json.loads("[" * 70 + "]" * 70)
    assert _json.too_deep(wide)
