"""``json.dumps``'s text to the byte, written without its circular-reference bookkeeping.

For the texts the SDK itself would make (a kept-alive session's call inputs, an orchestration's
output, ``_session_json``) and for what ``_stored_json`` leaves to ``json.dumps``; what the host
stores of its own is ``_stored_json``'s compact text (ADR 0070).

``json.dumps`` keeps the id of every container it is inside in a dict, to refuse a value that
holds itself: about a sixth of the encoding of a 4 KB status, and a third of a small event's.
Without it, such a value exhausts the recursion limit instead; then ``json.dumps`` runs again,
so the error is its own. Otherwise the text is ``json.dumps(value)``'s, from the same C
encoder with the same settings.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

__all__ = ["json_text"]

_make: Callable[..., Any] | None = getattr(json.encoder, "c_make_encoder", None)
_PROBE = {"a": [1, 2.5, None, True, "\u00e9", float("nan")]}


def _encoder() -> Callable[[Any, int], Any] | None:
    """The C encoder ``json.dumps`` builds, with its default settings but no cycle markers;
    None without the accelerator, or if its (internal) signature ever changes."""
    if _make is None:
        return None
    try:  # markers None: no cycle check; then json.dumps's defaults (ASCII, ", " and ": ", NaN)
        encode: Callable[[Any, int], Any] = _make(
            None,
            json.JSONEncoder().default,
            json.encoder.encode_basestring_ascii,
            None,
            ": ",
            ", ",
            False,
            False,
            True,
        )
        if "".join(encode(_PROBE, 0)) != json.dumps(_PROBE):
            return None
    except TypeError:
        return None
    return encode


_ENCODE = _encoder()


def json_text(value: Any) -> str:
    """``json.dumps(value)``, the same text and the same errors, a little faster."""
    if _ENCODE is None:  # no C accelerator in this interpreter
        return json.dumps(value)
    try:
        return "".join(_ENCODE(value, 0))
    except RecursionError:  # a value that holds itself, or one nested deeper than the limit
        return json.dumps(value)
