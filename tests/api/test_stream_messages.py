"""A node message is byte for byte ``sse("node", {"node": id, **node_payload(entry)})`` whichever
encoder writes it (pydantic-core's for ASCII payloads, ``compact`` otherwise): random entries."""

from __future__ import annotations

import random
from typing import Any

from convergio.api._stream_nodes import _ascii_json, node_message, node_payload
from convergio.streams import compact, sse

_ALPHABET = [chr(c) for c in range(128)] + ["é", "\u2028", "\u2029", "😀", "\ufeff", "ß"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 12)))


def _entry(rng: random.Random) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": rng.choice(["completed", "running", "failed", _text(rng)])}
    if rng.random() < 0.8:
        entry["attempts"] = rng.choice([0, 1, 7, 2**40, 2**64 + 3, -1])
    if rng.random() < 0.5:
        entry["started_at"] = rng.choice([None, "2026-12-06T13:00:00.123456+00:00", _text(rng)])
    if rng.random() < 0.5:
        entry["error"] = rng.choice([None, _text(rng), "boom \u2028 \x7f end"])
    if rng.random() < 0.6:
        keys = [k for k in ("prompt_tokens", "total_tokens") if rng.random() < 0.8]
        entry["usage"] = {k: rng.randrange(0, 10**6) for k in keys}
    if rng.random() < 0.3:
        entry["reused"] = rng.random() < 0.5
    if rng.random() < 0.1:
        entry["attempts"] = rng.choice(["2", 1.0, True])  # not the view's type: the model decides
    entry["rev"] = rng.randrange(0, 1000)
    return entry


def test_node_messages_are_the_merged_dict_s_message_byte_for_byte() -> None:
    rng = random.Random(22)
    for _ in range(3000):
        entry, node_id = _entry(rng), rng.choice(["w1", "a-7", _text(rng)])
        assert node_message(node_id, entry) == sse("node", {"node": node_id, **node_payload(entry)}), entry


def test_the_fast_encoder_writes_what_compact_writes_or_hands_over() -> None:
    rng = random.Random(49)
    for _ in range(3000):
        payload = {"status": _text(rng), "attempts": rng.randrange(-5, 2**70)}
        payload["error"] = rng.choice([None, _text(rng)])
        payload["reused"] = rng.random() < 0.5
        payload["usage"] = {"total_tokens": rng.randrange(0, 99)}
        assert _ascii_json(payload) == compact(payload), payload
    every_ascii = "".join(chr(c) for c in range(128))
    assert _ascii_json({"s": every_ascii}) == compact({"s": every_ascii})  # DEL: compact's \u007f
