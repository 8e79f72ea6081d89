"""Validated graphs kept for the same graph posted again: a bounded memo of ``checked_graph``.

Clients start many runs of one graph with new inputs. Validating it again each time (pydantic,
the graph rules, every prompt's template) was most of ``POST /runs``' own CPU for a wide graph,
and dumping the spec to JSON for the orchestration's input was most of what the start did on
the event loop (issue 22). A result is reused only for the same

- **scope**: the tenant. Two tenants never share an entry, even when their catalogs agree;
- **content**: a digest of the graph exactly as given (``pickle`` keeps types, key order and
  float bits, so ``1`` and ``1.0``, ``True`` and ``1``, ``{"1": x}`` and ``{1: x}`` differ;
  equal text decodes to equal bytes). Key order is kept on purpose: a spec keeps the order of
  its ``options`` and ``input_schema``, and a reordered graph is validated on its own;
- **catalog**: its providers, tools and limits are part of the key (a connection, plugin or
  MCP server added or removed, or the managed connection switched, makes another key); the
  named graphs it inlined are compared on every hit with what the catalog holds now.

Only accepted graphs are kept: a rejected one is validated again each time, with the same
errors, and nothing of it stays. The key holds a tenant id, a digest and names (providers,
connections, tools): no key, secret or graph text. Entries are shared and read-only: ``spec``
is a frozen model and ``document`` is only ever serialised.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._validate import checked_graph

if TYPE_CHECKING:
    from ._spec import GraphSpec
    from ._validate import Catalog

__all__ = ["MAX_AGENTS_KEPT", "GraphMemo", "Validated"]

MAX_AGENTS_KEPT = 10_000
"""The memo's bound, in agents of the graphs it keeps (about 3 KB an agent: a 500-agent entry is 1.6 MB)."""
_MAX_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class Validated:
    """A valid graph and its JSON form (the orchestration input's ``graph``); shared, read-only."""

    spec: GraphSpec
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Entry:
    validated: Validated
    inlined: tuple[tuple[str, bytes | None], ...]
    weight: int


def _digest(value: Any) -> bytes | None:
    """A digest of ``value``'s exact content, or ``None`` if it cannot be taken (then: no reuse)."""
    try:
        return hashlib.sha256(pickle.dumps(value, protocol=5)).digest()
    except (pickle.PicklingError, TypeError, ValueError, AttributeError, RecursionError):
        return None


class GraphMemo:
    """``checked_graph`` results by (scope, content, catalog); a bounded LRU, safe across threads."""

    def __init__(self, max_agents: int = MAX_AGENTS_KEPT, max_entries: int = _MAX_ENTRIES) -> None:
        self._max_agents = max_agents
        self._max_entries = max_entries
        self._items: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._agents = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parse(self, scope: str, data: Any, catalog: Catalog) -> Validated:
        """``data`` validated against ``catalog`` for ``scope``, from the memo when it holds it.

        Raises:
            InvalidGraph: as ``parse_graph`` (a rejected graph is never kept).
        """
        digest = _digest(data)
        key = (scope, digest, catalog.providers, catalog.tools, catalog.limits)
        with self._lock:
            entry = self._items.get(key) if digest is not None else None
            if entry is not None:
                self._items.move_to_end(key)
        if entry is not None and _same_graphs(entry.inlined, catalog.graphs):
            with self._lock:
                self.hits += 1
            return entry.validated
        with self._lock:
            self.misses += 1
        checked = checked_graph(data, catalog)
        spec = checked.spec
        validated = Validated(spec, spec.model_dump(mode="json", exclude_none=True))
        if digest is not None:
            inlined = tuple((name, _digest(raw)) for name, raw in checked.inlined.items())
            self._put(key, _Entry(validated, inlined, max(1, checked.agents)))
        return validated

    def _put(self, key: Hashable, entry: _Entry) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._agents -= 0 if old is None else old.weight
            if entry.weight > self._max_agents:
                return
            self._items[key] = entry
            self._agents += entry.weight
            while self._agents > self._max_agents or len(self._items) > self._max_entries:
                _, evicted = self._items.popitem(last=False)
                self._agents -= evicted.weight

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._agents = 0

    def __len__(self) -> int:
        return len(self._items)


def _same_graphs(inlined: tuple[tuple[str, bytes | None], ...], graphs: Mapping[str, Any]) -> bool:
    """Whether every named graph the entry inlined is still in the catalog, unchanged."""
    return all(
        digest is not None and name in graphs and _digest(graphs[name]) == digest for name, digest in inlined
    )
