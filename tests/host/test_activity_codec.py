"""An activity's input and output read and written exactly as the SDK's ActivityTriggerConverter
does (ADR 0035): the same values, the same texts, the same errors, in loose and strict mode."""

from __future__ import annotations

import json
import math
import random
import struct
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from convergio.host._codec import decode_input, encode_output


class Point:
    """A custom object as the SDK round-trips it (``to_json``/``from_json``)."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x

    def __hash__(self) -> int:
        return self.x

    @staticmethod
    def to_json(obj: Point) -> dict[str, int]:
        return {"x": obj.x}

    @staticmethod
    def from_json(data: dict[str, int]) -> Point:
        return Point(data["x"])


class Tagged(dict[str, Any]):
    """A dict that also has ``to_json``: loose mode encodes it as a dict, strict mode as an envelope."""

    @staticmethod
    def to_json(obj: Tagged) -> dict[str, Any]:
        return dict(obj)


def _sdk_decode(text: str | None) -> Any:
    value = "null" if text is None else text
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=value), trigger_metadata=None)


def _sdk_encode(value: Any) -> str:
    return str(ActivityTriggerConverter.encode(value, expected_type=None).value)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call returns, or the type and message of what it raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's one-time advisories
        try:
            return "value", call()
        except Exception as exc:
            return "error", (type(exc), str(exc))


ENVELOPE = json.dumps({"__class__": "Point", "__module__": __name__, "__data__": {"x": 3}})
TEXTS = [
    None,
    "null",
    "7",
    '"plain"',
    '{"a": [1, 2.5, true, null, {"b": "c"}], "d": "\\n\\"x\\""}',
    ENVELOPE,
    json.dumps({"outer": json.loads(ENVELOPE)}),
    ENVELOPE.replace("__class__", "\\u005f\\u005fclass__"),  # the key escaped: still an envelope
    json.dumps({"__class__": "Point"}),  # not an envelope: the dict as it is
    json.dumps({"text": "caf\u00e9 \u2603"}),  # ensure_ascii escapes, no envelope
    '{"__class__": "Nope", "__module__": "no.such.module", "__data__": 1}',  # the SDK's ValueError
    "not json at all",  # the SDK's string fallback
    '{"unterminated": ',
    "[" * 100_000 + "]" * 100_000,  # too deep: the SDK's ValueError
    "NaN",
    "[" * 300 + "]" * 300,  # deeper than from_json goes, not than json: the converter's answer
    "\ufeff{}",  # a byte order mark: the SDK's string fallback
    '"a\x01b"',  # a raw control character: invalid, the string fallback
    "[1e400, -1e400, -0, -0.0, 9007199254740993, 123456789012345678901234567890, 4.9e-324]",
    '{"k": 1, "k": 2, "j": 3}',  # a repeated key: the last value, at the first place
]
VALUES: list[Any] = [
    None,
    0,
    "text with \u00e9",
    {"a": [1, 2.5, {"b": None}], "nan": float("nan")},
    Point(4),
    {"nested": [Point(5)]},
    Tagged(k=1),
    {1: "int key", 2.5: "float key", None: "null key"},
    {"unencodable": {1, 2}},
    object(),
]


MODES = {"loose": None, "strict": "1", "loose, set": "no", "strict, spelled": " True "}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SDK's typing mode, from its variable (unset, or set to what it reads as on or off)."""
    if (value := MODES[request.param]) is not None:
        monkeypatch.setenv("AZURE_FUNCTIONS_DURABLE_STRICT_TYPING", value)
    return str(request.param)


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_an_input_decodes_as_the_sdk_decodes_it(mode: str, text: str | None) -> None:
    assert _same(_outcome(lambda: decode_input(text)), _outcome(lambda: _sdk_decode(text)))


def _same(mine: Any, sdk: Any) -> bool:
    """Equal, and of the same types all the way down, a NaN matching a NaN (``json`` returns one
    shared NaN object, so ``==`` on containers held only by identity)."""
    if isinstance(mine, float) and isinstance(sdk, float) and math.isnan(mine) and math.isnan(sdk):
        return True
    if type(mine) is not type(sdk):
        return False
    if isinstance(mine, dict):
        return list(mine) == list(sdk) and all(_same(mine[k], sdk[k]) for k in mine)
    if isinstance(mine, list | tuple):
        return len(mine) == len(sdk) and all(_same(a, b) for a, b in zip(mine, sdk, strict=True))
    return bool(mine == sdk)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_an_output_encodes_as_the_sdk_encodes_it(mode: str, value: Any) -> None:
    mine, sdk = _outcome(lambda: encode_output(value)), _outcome(lambda: _sdk_encode(value))
    assert mine == sdk
    if mode.startswith("loose") and isinstance(value, Tagged):
        assert mine == ("value", '{"k": 1}')  # the case where strict mode differs is really exercised


def test_random_documents_decode_and_encode_as_the_sdk_does() -> None:
    """Random JSON with the envelope's keys, escapes and non-ASCII text, both ways."""
    rng = random.Random(35)
    keys = ["__class__", "__module__", "__data__", "a", "\u00e9", "x y", '"q"', "\\"]

    def document(depth: int) -> Any:
        kind = rng.randrange(6 if depth < 4 else 3)
        if kind == 0:
            number = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]  # any double
            return rng.choice([None, True, 1, -2.5, 10**20, -(10**30), number, rng.random() * 10**300])
        if kind in (1, 2):
            return "".join(rng.choice('ab_\u00e9\u2603"\\\n') for _ in range(rng.randrange(6)))
        if kind == 3:
            return [document(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(keys): document(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(2000):
        value = document(0)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        assert _same(_outcome(partial(decode_input, text)), _outcome(partial(_sdk_decode, text)))
        assert _outcome(partial(encode_output, value)) == _outcome(partial(_sdk_encode, value))


def test_plain_documents_skip_the_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the module: a plain activity input and output do not pay the SDK's hooks."""
    _outcome(lambda: _sdk_decode("1"))  # the SDK's one-time notice is given by the SDK itself

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the converter was used")

    monkeypatch.setattr(ActivityTriggerConverter, "decode", refuse)
    monkeypatch.setattr(ActivityTriggerConverter, "encode", refuse)
    assert decode_input('{"node_id": "a", "n": [1, 2]}') == {"node_id": "a", "n": [1, 2]}
    assert (
        encode_output({"status": "ok", "usage": {"tokens": 3}}) == '{"status": "ok", "usage": {"tokens": 3}}'
    )
