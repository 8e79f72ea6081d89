"""JSON from untrusted bytes (request bodies, plugin output), bounded in nesting depth.

``json.loads`` recurses once per nesting level: a body of a million ``[`` raised RecursionError,
which escaped every handler as a 500, and moderately deep documents broke later code that
recurses (pydantic, Jinja, ``json.dumps``). Nothing Convergio reads needs more than a few dozen
levels, so deeper documents are refused as ``TooDeep``, a ``ValueError`` every caller already
turns into a clear client error. ``NaN`` and ``Infinity`` are not JSON and are refused too.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "TooDeep", "loads", "too_deep"]

MAX_DEPTH = 64


class TooDeep(ValueError):
    """The document nests arrays and objects deeper than allowed."""


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``raw``; raises ``TooDeep`` past ``max_depth`` levels, ``ValueError`` if not JSON."""
    try:
        value = json.loads(raw, parse_constant=_constant)
    except RecursionError:
        raise TooDeep(f"JSON nests deeper than {max_depth} levels") from None
    if too_deep(value, max_depth):
        raise TooDeep(f"JSON nests deeper than {max_depth} levels")
    return value


def too_deep(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and dicts deeper than ``max_depth`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
