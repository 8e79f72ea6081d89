"""What the host stores as JSON (``_stored_json``, ADR 0070): the extension's compact text, and
``json.dumps``'s values and refusals, whatever the value holds."""

from __future__ import annotations

import enum
import json
import math
import random
import uuid
from collections import OrderedDict
from typing import Any

import pytest

from convergio.host._events import EventType, new_event
from convergio.host._status_limit import custom_status_error
from convergio.host._stored_json import stored_bytes, stored_text, stored_value


class _Colour(enum.Enum):
    RED = 1


class _Level(enum.IntEnum):
    HIGH = 3


class _Name(str):
    pass


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


EDGES: list[Any] = [
    {"EventType": 5, "Result": '{"q": "é \\ud83d\\ude00"}', "IsPlayed": False, "Input": None},
    [1.5, -0.0, 1e-07, 1e22, 5e-324, 1.7976931348623157e308],
    {"nan": float("nan"), "inf": [float("inf"), {"deep": -float("inf")}]},
    {"big": 2**70, "small": -(2**63) - 1, "edge": 2**64 - 1},
    {7: "int key", True: "bool key", None: "none key", 2.5: "float key"},
    "lone \ud800 surrogate",
    {"s": '\u2028\u0000\x7f"\\/'},
    (1, [2, (3,)]),
    {"level": _Level.HIGH, "name": _Name("n")},
    OrderedDict(a=float("nan")),
    [],
    {},
    None,
]


@pytest.mark.parametrize("value", EDGES, ids=range(len(EDGES)))
def test_every_value_reads_back_as_json_dumps_and_loads_give_it(value: Any) -> None:
    expected = json.loads(json.dumps(value))
    assert _same(stored_value(stored_text(value)), expected)
    assert _same(stored_value(stored_bytes(value)), expected)
    assert stored_bytes(value).decode() == stored_text(value)


def test_plain_data_is_written_compact_and_in_utf8_as_the_extension_writes_it() -> None:
    event = new_event(
        EventType.TASK_COMPLETED, "2026-12-07T10:00:00.000000Z", TaskScheduledId=3, Result='"été"'
    )
    assert stored_text(event) == (
        '{"EventType":5,"EventId":-1,"IsPlayed":false,"Timestamp":"2026-12-07T10:00:00.000000Z",'
        '"TaskScheduledId":3,"Result":"\\"été\\""}'
    )
    assert stored_text({"a": [1, 2.5, None]}) == '{"a":[1,2.5,null]}'


@pytest.mark.parametrize("value", [{"c": _Colour.RED}, [uuid.UUID(int=7)], {"x": {1, 2}}, b"bytes", object()])
def test_what_json_refuses_is_refused_with_its_error(value: Any) -> None:
    """orjson would write an Enum or a UUID; the SDK's json.dumps refuses them, and so does this."""
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    for encode in (stored_text, stored_bytes):
        with pytest.raises(TypeError) as got:
            encode(value)
        assert str(got.value) == str(expected.value)


def test_a_text_json_dumps_wrote_reads_the_same() -> None:
    """Rows an older host wrote (``json.dumps``'s text, escapes and spaces) read as before."""
    rng = random.Random(70)
    alphabet = ["a", "é", "\u2028", "\ud83d\ude00", '"', "\\", "\n", " "]
    for _ in range(300):
        value = {
            "s": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))),
            "n": rng.choice([rng.randint(-(2**80), 2**80), rng.uniform(-1e300, 1e300), rng.random()]),
            "l": [rng.randint(0, 9) for _ in range(rng.randint(0, 4))],
        }
        assert _same(stored_value(json.dumps(value)), json.loads(json.dumps(value)))


def test_a_custom_status_is_measured_as_the_extension_measures_it() -> None:
    """5,000 accented letters are 10 KB of UTF-16 as the extension writes them (under its 16 KB);
    ``json.dumps``'s escapes (six characters each) would have counted 60 KB and refused it."""
    status = {"note": "é" * 5000}
    assert custom_status_error(stored_text(status)) is None
    assert custom_status_error(json.dumps(status)) is not None
    assert custom_status_error(stored_text({"note": "é" * 9000})) is not None  # 18 KB: refused
