"""The run stream's node table and its ``node`` messages (``_stream``).

A stream keeps the nodes it shows in a ``NodeTable``, folded read by read from the status' tail
and the progress records (ADR 0014, 0066): a node keeps what it last showed until a newer
version of it comes, and only the nodes whose status or attempt count changed are sent again.
A ``node`` message is the node's view (``NodeView`` without its cost) with its id in front,
encoded without a model per node: a wide run sends a thousand of them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import to_json

from convergio.graph import TERMINAL
from convergio.streams import compact, sse, sse_text

from . import _models as m

__all__ = ["NodeTable", "node_message", "node_payload"]


class NodeTable:
    """The nodes a stream shows: the graph's agents, then each newer version of a node as it comes.

    A version is newer when its ``rev`` is at least the known one's (as ``convergio.graph.fold``
    decides); a node absent from a tail keeps what it last showed. ``events`` sends only the nodes
    whose status or attempt count changed since they were last sent.
    """

    def __init__(self, agents: Iterable[str]) -> None:
        self._items: dict[str, tuple[int, Mapping[str, Any]]] = {a: (0, _WAITING) for a in agents}
        self._changed: dict[str, None] = dict.fromkeys(self._items)  # an ordered set: spec order first
        self._sent: dict[str, tuple[Any, Any]] = {}

    def fold(self, nodes: Mapping[str, Any]) -> None:
        """Take the newer versions among ``nodes`` (a status tail's or a record's)."""
        for node_id, value in nodes.items():
            if not isinstance(value, Mapping):
                continue
            rev = value.get("rev", 0)
            known = self._items.get(node_id)
            if known is None or (rev >= known[0] and value != known[1]):
                self._items[node_id] = (rev, value)
                self._changed[node_id] = None

    def replace(self, nodes: Mapping[str, Any]) -> None:
        """The run ended: ``nodes`` (its whole table, when known) replace what was folded, and
        every node is looked at again by the next ``events``."""
        for node_id, value in nodes.items():
            if isinstance(value, Mapping):
                self._items[node_id] = (value.get("rev", 0), value)
        self._changed = dict.fromkeys(self._items)

    def events(self, *, cancelled: bool = False) -> list[str]:
        """``node`` messages for the changed nodes; ``cancelled``: those not finished show cancelled."""
        out: list[str] = []
        for node_id in self._changed:
            entry = self._items[node_id][1]
            if cancelled and entry.get("status") not in TERMINAL:
                entry = {**entry, "status": "cancelled"}
            shown = (entry.get("status"), entry.get("attempts", 0))
            if self._sent.get(node_id) != shown:
                self._sent[node_id] = shown
                out.append(node_message(node_id, entry))
        self._changed = {}
        return out


_WAITING: Mapping[str, Any] = {"status": "waiting"}


def node_message(node_id: str, entry: Mapping[str, Any]) -> str:
    """``sse("node", {"node": node_id, **node_payload(entry)})``, the payload encoded on its own.

    Byte for byte that message: the node's id is spliced in front of the payload's own JSON (a
    wide run sends a thousand such messages, and the merged dict was encoded again each time),
    and the graph's baseline (every node of a new stream's first read) is encoded once.
    """
    if entry is _WAITING:
        body = _waiting_body()
    elif (copied := _copied(entry)) is not None:
        body = _ascii_json(copied)
    else:
        body = compact(node_payload(entry))
    if body == "{}":  # nothing to splice after (a payload always has the view's fields)
        return sse("node", {"node": node_id})
    return sse_text("node", f'{{"node":{compact(node_id)},{body[1:]}')


@functools.cache
def _waiting_body() -> str:
    return compact(node_payload(_WAITING))


def node_payload(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the run view shows of a node (``NodeView``, its cost aside) from its status entry.

    An entry of the types the view declares is copied over the view's defaults: a wide run's
    stream sends a thousand node events, and validating then dumping a model for each took
    three times as long. Anything else goes through the model, which decides (coerces, refuses).
    """
    copied = _copied(entry)
    if copied is None:
        return m.NodeView.model_validate(entry).model_dump(exclude={"cost_eur"})
    return copied


def _copied(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry over the view's defaults when every field has the view's type (str, int, bool,
    None, a usage of ints), else None."""
    defaults, usage_defaults = _node_defaults()
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        value = entry.get(key, default)
        if key == "usage":
            value = _usage_payload(value, usage_defaults)
            if value is None:
                return None
        elif type(value) is not type(default) and not (default is None and type(value) is str):
            return None
        out[key] = value
    return out if type(entry.get("status")) is str else None


def _ascii_json(payload: dict[str, Any]) -> str:
    """``compact(payload)`` for a copied payload (no floats), by pydantic-core's encoder at a
    fifth of the cost: byte for byte the same unless a string holds DEL or a non-ASCII character,
    which ``compact`` escapes and it does not (``test_stream_messages`` compares them)."""
    out = to_json(payload)
    return out.decode() if out.isascii() and b"\x7f" not in out else compact(payload)


def _usage_payload(value: Any, defaults: dict[str, int]) -> dict[str, int] | None:
    if not isinstance(value, dict) or any(type(value.get(k, 0)) is not int for k in defaults):
        return None
    return {k: value.get(k, v) for k, v in defaults.items()}


@functools.cache
def _node_defaults() -> tuple[dict[str, Any], dict[str, int]]:
    """``NodeView``'s fields with their defaults (``status``: a str), in its order; its usage's."""
    defaults = m.NodeView(status="").model_dump(exclude={"cost_eur"})
    return defaults, defaults["usage"]
