"""JSON text of what the host stores, written as the Durable extension writes it.

The extension serializes what it keeps (history events, a custom status) itself, with its own
serializer: compact text, non-ASCII characters as they are. The embedded host does the same for
what plays that part here: a step's history row and inbox messages, the action shim, the lines
of the worker pipes, and an orchestration's custom status (whose 16 KB limit the extension
measures on that text, ``_status_limit``). pydantic-core writes it (``to_json``: about twice
as fast as ``json`` on a step's history row, three times on a 2 KB status) and reads it
(``from_json``: 2 to 4 times as fast as ``json.loads``, the same values, ADR 0043). What the
SDK itself would encode (an activity's input and result, an output) keeps ``json_text``,
``json.dumps``'s text to the byte. ADR 0070.

The values and the refusals are ``json.dumps``'s. ``to_json`` writes big integers and (in its
``constants`` mode) a NaN or an infinity as ``json.dumps`` does, but it also encodes what
``json`` refuses (an ``Enum``, a ``UUID``, a dataclass: on Azure the SDK would fail the
orchestration, so a status that only works locally) and writes a ``None`` key as ``"None"``:
a value that is not plain JSON data of the exact built-in types with string keys (a walk over
it, a fifth of the encoding's cost) is written by ``json_text``, with ``json.dumps``'s text or
error, as is anything ``to_json`` refuses (a lone surrogate, which UTF-8 cannot carry).
``from_json`` reads every such text exactly but a lone surrogate's escape, which ``json.loads``
reads. So every stored text reads back as the value given.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, from_json, to_json

from ._json_text import json_text

__all__ = ["stored_bytes", "stored_text", "stored_value"]

_SCALARS = frozenset((str, int, float, bool, type(None)))


def stored_bytes(value: Any) -> bytes:
    """``value`` as compact JSON, UTF-8 (``json.dumps``'s text, or its error, where ``to_json``
    would not give the same value back: see the module doc)."""
    if _plain(value):
        try:
            return to_json(value, inf_nan_mode="constants")
        except PydanticSerializationError:
            pass
    return json_text(value).encode()


def stored_text(value: Any) -> str:
    """``stored_bytes(value)`` as text (a SQLite ``TEXT`` column)."""
    return stored_bytes(value).decode()


def stored_value(text: str | bytes) -> Any:
    """The value of a stored JSON text, whoever wrote it."""
    try:
        return from_json(text, cache_strings=False)  # no cache: tenants' text is not kept
    except ValueError:
        return json.loads(text)


def _plain(value: Any) -> bool:
    """Is ``value`` made only of ``str``, ``int``, ``float``, ``bool``, ``None``, ``list``,
    ``tuple`` and ``dict`` with ``str`` keys, exactly (no subclass), where ``to_json`` and
    ``json`` agree on the value?"""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _SCALARS and not _plain(item)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110 - not all(): its generator costs a third more per row
            if type(item) not in _SCALARS and not _plain(item):
                return False
        return True
    return kind in _SCALARS
