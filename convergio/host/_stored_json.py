"""JSON text of what the host stores, written as the Durable extension writes it.

The extension serializes what it keeps (history events, a custom status) itself, with its own
serializer: compact text, non-ASCII characters as they are. The embedded host does the same for
what plays that part here: a step's history row and inbox messages, the action shim, the lines
of the worker pipes, and an orchestration's custom status (whose 16 KB limit the extension
measures on that text, ``_status_limit``). orjson writes it, about 4 to 8 times as fast as
``json`` (a step's history row, a 1.3 KB status); pydantic-core's ``from_json`` reads it, 2 to
4 times as fast as ``json.loads`` and the same values (ADR 0043). Together about 5 % of a
node's CPU on the product path (ADR 0070). What the SDK itself would encode (an activity's
input and result, an output) keeps ``json_text``, ``json.dumps``'s text to the byte.

The values and the refusals are ``json.dumps``'s: orjson writes a NaN or an infinity as
``null`` and encodes an ``Enum`` or a ``UUID``, which ``json`` refuses, so a value that is not
plain JSON data of the built-in types (a walk over it, a sixth of the encoding's cost) is
written by ``json_text``, as is anything orjson refuses (an integer past 64 bits, a string with
a lone surrogate, a key that is not a string), with ``json.dumps``'s errors. ``from_json``
reads that text exactly (big integers, ``NaN``); what it refuses (a lone surrogate's escape)
``json.loads`` reads. So every stored text reads back as the value given.
"""

from __future__ import annotations

import json
from math import isfinite
from typing import Any

import orjson
from pydantic_core import from_json

from ._json_text import json_text

__all__ = ["stored_bytes", "stored_text", "stored_value"]

_SCALARS = frozenset((str, int, bool, type(None)))


def stored_bytes(value: Any) -> bytes:
    """``value`` as compact JSON, UTF-8 (``json.dumps``'s text, or its error, where orjson would
    not give the same value back: see the module doc)."""
    if _plain(value):
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return json_text(value).encode()


def stored_text(value: Any) -> str:
    """``stored_bytes(value)`` as text (a SQLite ``TEXT`` column)."""
    if _plain(value):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            pass
    return json_text(value)


def stored_value(text: str | bytes) -> Any:
    """The value of a row's JSON text, whoever wrote it."""
    try:
        return from_json(text, cache_strings=False)  # no cache: tenants' text is not kept
    except ValueError:
        return json.loads(text)


def _plain(value: Any) -> bool:
    """Is ``value`` made only of ``str``, ``int``, ``bool``, ``None``, finite ``float``, ``dict``,
    ``list`` and ``tuple``, exactly (no subclass, no NaN or infinity), where orjson and ``json``
    agree on the value? (orjson would also write an ``Enum`` or a ``UUID``, which ``json``
    refuses, and a NaN as ``null``.)"""
    kind = type(value)
    if kind is float:
        return isfinite(value)
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return kind in _SCALARS
    for item in value:  # noqa: SIM110 - not all(): its generator costs a third more per row
        if type(item) not in _SCALARS and not _plain(item):
            return False
    return True
