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
is a frozen model, ``document`` is only ever read, and ``text`` is its JSON as the Durable
SDK's client encodes it: a start sends it as it is, so a 500-agent graph (about 190 KB) is not
encoded again on the event loop for every run (ADR 0053).

The orchestrator keeps its own memo (``run_spec``): every run of a graph validated its graph
again (about 6 us an agent) and dumped each agent's spec again for its activity's input (about
5 us a call). A run's graph is a pure function of its content, so an entry is reused for the
same digest only, with no scope or catalog: the API checked those before the run started.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._spec import AgentSpec, GraphSpec
from ._validate import checked_graph

if TYPE_CHECKING:
    from ._validate import Catalog

__all__ = ["MAX_AGENTS_KEPT", "RUN_AGENTS_KEPT", "GraphMemo", "RunSpec", "Validated", "run_spec"]

MAX_AGENTS_KEPT = 10_000
"""The memo's bound, in agents of the graphs it keeps (about 3.4 KB an agent with its text: a
500-agent entry is 1.8 MB)."""
_MAX_ENTRIES = 512
RUN_AGENTS_KEPT = 2_000
"""The orchestrator's memo's bound, in agents (about 4.5 KB an agent with its JSON: 9 MB at most)."""
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Validated:
    """A valid graph, its JSON form (the orchestration input's ``graph``) and that form's text
    (``json.dumps`` with its defaults, as the SDK's ``df_dumps`` writes plain JSON); shared, read-only."""

    spec: GraphSpec
    document: dict[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class _Entry:
    validated: Validated
    inlined: tuple[tuple[str, bytes | None], ...]


def _digest(value: Any) -> bytes | None:
    """A digest of ``value``'s exact content, or ``None`` if it cannot be taken (then: no reuse)."""
    try:
        return hashlib.sha256(pickle.dumps(value, protocol=5)).digest()
    except (pickle.PicklingError, TypeError, ValueError, AttributeError, RecursionError):
        return None


class _Bounded(Generic[V]):
    """An LRU bounded by the total weight of its values and by their number; safe across threads."""

    def __init__(self, max_weight: int, max_entries: int) -> None:
        self._max_weight = max_weight
        self._max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: V, weight: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._weight -= 0 if old is None else old[1]
            if weight > self._max_weight:
                return
            self._items[key] = (value, weight)
            self._weight += weight
            while self._weight > self._max_weight or len(self._items) > self._max_entries:
                _, (_, evicted) = self._items.popitem(last=False)
                self._weight -= evicted

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._items)


class GraphMemo:
    """``checked_graph`` results by (scope, content, catalog); a bounded LRU, safe across threads."""

    def __init__(self, max_agents: int = MAX_AGENTS_KEPT, max_entries: int = _MAX_ENTRIES) -> None:
        self._items: _Bounded[_Entry] = _Bounded(max_agents, max_entries)
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
        entry = self._items.get(key) if digest is not None else None
        if entry is not None and _same_graphs(entry.inlined, catalog.graphs):
            with self._lock:
                self.hits += 1
            return entry.validated
        with self._lock:
            self.misses += 1
        checked = checked_graph(data, catalog)
        spec = checked.spec
        document = spec.model_dump(mode="json", exclude_none=True)
        validated = Validated(spec, document, json.dumps(document))
        if digest is not None:
            inlined = tuple((name, _digest(raw)) for name, raw in checked.inlined.items())
            self._items.put(key, _Entry(validated, inlined), max(1, checked.agents))
        return validated

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """A run's graph: the spec, and each of its agents' JSON made once (shared, read-only).

    ``agent_json`` is what an activity's input carries as ``agent``: the dump of the spec it is
    given. Only the graph's own agents are kept; an agent a re-plan made is dumped each time.
    """

    spec: GraphSpec
    _agents: dict[str, AgentSpec] = field(default_factory=dict)
    _json: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: GraphSpec) -> RunSpec:
        return cls(spec, {a.id: a for a in spec.agents})

    def agent_json(self, agent: AgentSpec) -> dict[str, Any]:
        """``agent.model_dump(mode="json", exclude_none=True)``, made once per agent of the graph."""
        if self._agents.get(agent.id) is not agent:
            return agent.model_dump(mode="json", exclude_none=True)
        dump = self._json.get(agent.id)
        if dump is None:  # two threads may both make it: the same value, either is kept
            dump = self._json[agent.id] = agent.model_dump(mode="json", exclude_none=True)
        return dump


_RUN_SPECS: _Bounded[RunSpec] = _Bounded(RUN_AGENTS_KEPT, _MAX_ENTRIES)


def run_spec(graph: Any) -> RunSpec:
    """``GraphSpec.model_validate(graph)``, from the memo for the same content (``_digest``).

    Validation is a pure function of the graph, so a hit is what validating again would give,
    and the orchestrator decides the same on every replay. A graph it rejects raises, as before.
    """
    digest = _digest(graph)
    entry = _RUN_SPECS.get(digest) if digest is not None else None
    if entry is None:
        entry = RunSpec.of(GraphSpec.model_validate(graph))
        if digest is not None:
            _RUN_SPECS.put(digest, entry, _agents_in(entry.spec))
    return entry


def _agents_in(spec: GraphSpec) -> int:
    """The agents a graph holds, its inline sub-graphs' included (what an entry weighs)."""
    return sum(1 + (_agents_in(a.graph) if a.graph is not None else 0) for a in spec.agents)


def _same_graphs(inlined: tuple[tuple[str, bytes | None], ...], graphs: Mapping[str, Any]) -> bool:
    """Whether every named graph the entry inlined is still in the catalog, unchanged."""
    return all(
        digest is not None and name in graphs and _digest(graphs[name]) == digest for name, digest in inlined
    )
