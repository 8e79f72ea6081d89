"""The host's JSON text without the cycle bookkeeping: ``json.dumps``'s text and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convergio.host._json_text import json_text


@pytest.mark.parametrize(
    "value",
    [
        {"graph": "g", "nodes": {"a": {"status": "running", "usage": {"total_tokens": 39}}}, "error": None},
        {"EventType": 4, "EventId": 3, "IsPlayed": False, "Input": '{"q": "\\"é\\" \U0001f600"}'},
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
        [float("nan"), float("inf"), -float("inf"), -0.0, 1e300, 2**70, -(2**70)],
        ("tuple", ["list", ("nested",)]),
        "a top-level string with \u2028 and \x00",
        None,
        [],
        {},
    ],
)
def test_the_text_is_json_dumps_text(value: Any) -> None:
    assert json_text(value) == json.dumps(value)


def _error(encode: Any, value: Any) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:
        encode(value)
    return caught.type, str(caught.value)


def test_a_value_that_holds_itself_fails_as_json_dumps_fails() -> None:
    status: dict[str, Any] = {"nodes": []}
    status["nodes"].append(status)
    assert (
        _error(json_text, status) == _error(json.dumps, status) == (ValueError, "Circular reference detected")
    )


def test_a_value_json_cannot_encode_fails_as_json_dumps_fails() -> None:
    for value in ({"when": object()}, {("a", "b"): 1}, [{1, 2}]):
        assert _error(json_text, value)[0] is _error(json.dumps, value)[0] is TypeError
        assert (
            _error(json_text, value)[1].split(" at 0x")[0] == _error(json.dumps, value)[1].split(" at 0x")[0]
        )
