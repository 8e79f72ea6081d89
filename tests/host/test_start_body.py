"""A start's stored input is ``serialise`` of the body's value, whether or not it is encoded again.

The start route stores the SDK's body (a JSON string) as its own text when that text already is
what ``serialise`` writes (ADR 0053). What must hold: for any body ``read_json`` accepts, what is
stored is byte for byte ``serialise(value)``.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from convergio.host._payloads import read_json, serialise, stored_start_value

# Every kind of character a text can hold: quotes, backslashes, controls, DEL, slashes, BMP and astral.
_ALPHABET = [
    '"',
    "\\",
    "/",
    "\n",
    "\r",
    "\t",
    "\b",
    "\f",
    "\x00",
    "\x1f",
    "\x7f",
    "a",
    " ",
    "é",
    "\u2028",
    "😀",
]


def _stored(raw: bytes) -> str:
    value = read_json(raw, allow_trailing=False)
    return stored_start_value(raw, value)


def test_random_texts_posted_as_the_sdk_posts_them_store_what_serialise_writes() -> None:
    rng = random.Random(53)
    for _ in range(3000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 12)))
        for raw in (json.dumps(text), json.dumps(text, ensure_ascii=False), f" \n{json.dumps(text)}\t "):
            assert _stored(raw.encode()) == serialise(text), repr(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'"a\\/b"',  # an escaped slash: serialise writes a plain one
        b'"\\u0041"',  # a needless escape of an ASCII letter
        b'"\\u00e9 and \\\\u"',  # a real escape, and an escaped backslash before a u
        '"é"'.encode(),  # not ASCII
        b'\xef\xbb\xbf"bom"',  # a byte order mark
        b'{"graph": {"name": "g"}, "input": [1, 2.50, 1e3]}',  # not a string: encoded again
        b"  [1,  2]  ",
        b"5",
        b"null",
    ],
)
def test_other_bodies_are_serialised_again(raw: bytes) -> None:
    value: Any = read_json(raw, allow_trailing=False)
    assert _stored(raw) == serialise(value)


def test_a_graph_input_as_the_sdk_sends_it_is_stored_as_sent() -> None:
    payload = {"graph": {"name": "g", "agents": [{"id": "a", "prompt": 'Say "hi"\n\t{{ input }}'}]}}
    raw = json.dumps(json.dumps(payload)).encode()  # df_dumps, then aiohttp's json=
    assert _stored(raw) == raw.decode() == serialise(json.dumps(payload))
