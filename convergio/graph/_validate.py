"""Graph validation: everything wrong with a spec, each problem with its path.

``parse_graph`` is the only way a spec enters the system: pydantic checks the
shapes, then the rules below check the graph as a whole. A graph that fails
here starts nothing and stores nothing. Named sub-graphs (``graph_ref``) are
resolved and inlined, so an orchestration carries a self-contained spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from convergio.errors import InvalidGraph, InvalidRequest, Problem

from ._a2a import a2a_problems
from ._rules import off_dag, planner_problems, router_problems
from ._schema import BudgetExceeded, schema_problems, validation_errors
from ._template import TEMPLATE_NAMES, TemplateError, check_template

if TYPE_CHECKING:
    from ._spec import AgentSpec, GraphSpec

__all__ = ["Catalog", "Checked", "Limits", "checked_graph", "parse_graph", "validate_input", "path_of"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits; a graph over them is refused before anything runs."""

    max_agents: int = 1000
    max_depth: int = 4


@dataclass(frozen=True, slots=True)
class Catalog:
    """What a graph may refer to outside itself."""

    providers: frozenset[str]
    tools: frozenset[str]
    graphs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    limits: Limits = Limits()


def path_of(loc: tuple[int | str, ...] | list[Any]) -> str:
    """``("agents", 2, "budget")`` → ``agents[2].budget``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_graph(data: Any, catalog: Catalog) -> GraphSpec:
    """Validate a spec and return it with named sub-graphs inlined.

    Raises:
        InvalidGraph: one problem or more, each naming the path of the bad field.
    """
    return checked_graph(data, catalog).spec


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid graph, and what its validation read outside the graph itself (for ``GraphMemo``)."""

    spec: GraphSpec
    inlined: Mapping[str, Any]
    """The named graphs (``graph_ref``) it inlined, by name, as the catalog held them."""
    agents: int
    """Agents in all, sub-graphs included."""


def checked_graph(data: Any, catalog: Catalog) -> Checked:
    """``parse_graph`` with what the result depends on besides ``data`` and the catalog's names.

    Raises:
        InvalidGraph: as ``parse_graph``.
    """
    checker = _Checker(catalog)
    spec = checker.parse(data, prefix="", depth=1, refs=())
    if spec is not None and checker.count > catalog.limits.max_agents:
        checker.add(
            "agents", f"graph has {checker.count} agents in all; the limit is {catalog.limits.max_agents}"
        )
    if checker.problems or spec is None:
        raise InvalidGraph.from_problems(checker.problems)
    return Checked(spec, dict(checker.inlined), checker.count)


def validate_input(spec: GraphSpec, value: Any) -> None:
    """Check a run input against the graph's ``input_schema``.

    Raises:
        InvalidRequest: the first violations, each with its path under ``input``.
    """
    if spec.input_schema is None:
        return
    try:
        errors = validation_errors(spec.input_schema, value)
    except BudgetExceeded as exc:
        raise InvalidRequest(f"input: {exc}", details=[{"path": "input", "message": str(exc)}]) from None
    except ValueError as exc:
        raise InvalidRequest(str(exc), details=[{"path": "input_schema", "message": str(exc)}]) from None
    if errors:
        details = [{"path": path_of(["input", *where]), "message": message} for where, message in errors]
        raise InvalidRequest(f"{details[0]['path']}: {details[0]['message']}", details=details)


class _Checker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.problems: list[Problem] = []
        self.count = 0
        self.inlined: dict[str, Any] = {}

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def parse(
        self, data: Any, *, prefix: str, depth: int, refs: tuple[str, ...], guards: tuple[str, ...] = ()
    ) -> GraphSpec | None:
        from ._spec import GraphSpec  # the models on first parse, not when the API is indexed

        try:
            spec = GraphSpec.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                self.add(_join(prefix, path_of(err["loc"])), err["msg"])
            return None
        if depth > self.catalog.limits.max_depth:
            self.add(
                prefix or "agents", f"sub-graphs nest deeper than {self.catalog.limits.max_depth} levels"
            )
            return None
        self.count += len(spec.agents)
        self._tool_names(spec.guards, _join(prefix, "guards"))
        guards = tuple(_unique((*guards, *spec.guards)))
        outside = off_dag(spec)  # once per graph: per agent it made a 500-agent parse quadratic
        agents = [
            self._agent(spec, i, a, prefix, depth, refs, guards, a.id in outside)
            for i, a in enumerate(spec.agents)
        ]
        self._graph_rules(spec, prefix)
        return spec.model_copy(update={"agents": agents, "output": spec.output or _sole_sink(spec)})

    def _graph_rules(self, spec: GraphSpec, prefix: str) -> None:
        index: dict[str, int] = {}
        for i, agent in enumerate(spec.agents):
            if agent.id in index:
                self.add(
                    _join(prefix, f"agents[{i}].id"),
                    f"duplicate id {agent.id!r} (also agents[{index[agent.id]}])",
                )
            index.setdefault(agent.id, i)
        workers = {w for a in spec.agents for w in a.workers}
        for i, agent in enumerate(spec.agents):
            for j, dep in enumerate(agent.depends_on):
                where = _join(prefix, f"agents[{i}].depends_on[{j}]")
                if dep not in index:
                    self.add(where, f"unknown agent {dep!r}")
                elif dep in workers:
                    self.add(where, f"{dep!r} is a supervisor's worker; depend on its supervisor instead")
            for j, worker in enumerate(agent.workers):
                self._worker_rules(spec, index, agent, worker, _join(prefix, f"agents[{i}].workers[{j}]"))
        events: dict[str, str] = {}
        for i, agent in enumerate(spec.agents):
            if agent.await_event is not None:
                name = agent.await_event.name
                if name in events:
                    where = _join(prefix, f"agents[{i}].await_event.name")
                    self.add(where, f"event {name!r} is already awaited by {events[name]!r}")
                events.setdefault(name, agent.id)
        planned = planner_problems(spec, self.catalog.providers, self.catalog.tools)
        for path, message in (*router_problems(spec), *planned):
            self.add(_join(prefix, path), message)
        cycle = _find_cycle(spec, index)
        if cycle:
            self.add(_join(prefix, f"agents[{index[cycle[0]]}].depends_on"), "cycle: " + " -> ".join(cycle))
        if spec.output is not None:
            if spec.output not in index:
                self.add(_join(prefix, "output"), f"unknown agent {spec.output!r}")
            elif spec.output in workers:
                self.add(_join(prefix, "output"), "the output cannot be a supervisor's worker")
        elif len(sinks := _sinks(spec)) > 1:
            self.add(_join(prefix, "output"), "required: several agents end the graph: " + ", ".join(sinks))
        if spec.input_schema is not None:
            for problem in schema_problems(spec.input_schema, _join(prefix, "input_schema")):
                self.add(problem["path"], problem["message"])

    def _worker_rules(
        self, spec: GraphSpec, index: Mapping[str, int], boss: AgentSpec, worker: str, where: str
    ) -> None:
        if worker not in index:
            self.add(where, f"unknown agent {worker!r}")
            return
        agent = spec.agents[index[worker]]
        if worker == boss.id or agent.kind != "agent":
            self.add(where, f"{worker!r} must be a plain agent other than the supervisor")
        elif agent.depends_on or agent.await_event is not None:
            self.add(
                where, f"worker {worker!r} runs when its supervisor calls it: no depends_on or await_event"
            )
        owners = [a.id for a in spec.agents if worker in a.workers]
        if len(owners) > 1 and owners[0] != boss.id:
            self.add(where, f"worker {worker!r} already belongs to supervisor {owners[0]!r}")

    def _tool_names(self, names: list[str], at: str) -> None:
        for j, tool in enumerate(names):
            if tool not in self.catalog.tools:
                self.add(f"{at}[{j}]", f"unknown tool {tool!r}")

    def _agent(
        self,
        spec: GraphSpec,
        i: int,
        agent: AgentSpec,
        prefix: str,
        depth: int,
        refs: tuple[str, ...],
        guards: tuple[str, ...],
        is_worker: bool,  # a worker or the planner (off the DAG): it is given a task
    ) -> AgentSpec:
        at = _join(prefix, f"agents[{i}]")
        if agent.provider not in self.catalog.providers:
            known = ", ".join(sorted(self.catalog.providers))
            self.add(f"{at}.provider", f"unknown provider {agent.provider!r} (known: {known})")
        self._tool_names(agent.tools, f"{at}.tools")
        self._tool_names(agent.guards, f"{at}.guards")
        if agent.workers and agent.kind != "supervisor":
            self.add(f"{at}.workers", "only a supervisor has workers")
        if agent.kind == "supervisor" and not agent.workers:
            self.add(f"{at}.workers", "a supervisor needs at least one worker")
        if agent.kind == "supervisor" and agent.tools:
            self.add(f"{at}.tools", "a supervisor delegates to its workers; give the tools to a worker")
        if agent.kind != "graph" and (agent.graph is not None or agent.graph_ref is not None):
            self.add(f"{at}.kind", "graph and graph_ref need kind: graph")
        for path, message in a2a_problems(agent, at, self.catalog.providers):
            self.add(path, message)
        if agent.kind == "graph":
            return self._subgraph(agent, at, depth, refs, (*guards, *agent.guards))
        if agent.prompt is None and not is_worker:
            self.add(f"{at}.prompt", "prompt is required")
        if agent.prompt is not None:
            self._prompt(agent, at, is_worker)
        merged = _unique((*guards, *agent.guards))
        # A copy only when the graph's guards add to the agent's own (500 copies were a tenth of a wide parse)
        return agent if merged == agent.guards else agent.model_copy(update={"guards": merged})

    def _prompt(self, agent: AgentSpec, at: str, is_worker: bool) -> None:
        try:
            names, deps = check_template(agent.prompt or "")
        except TemplateError as exc:
            self.add(f"{at}.prompt", str(exc))
            return
        for name in sorted(names - TEMPLATE_NAMES):
            self.add(
                f"{at}.prompt", f"unknown name {name!r}; a prompt sees {', '.join(sorted(TEMPLATE_NAMES))}"
            )
        for dep in sorted(deps - set(agent.depends_on)):
            self.add(f"{at}.prompt", f"uses outputs.{dep} but {dep!r} is not in depends_on")
        if "event" in names and agent.await_event is None:
            self.add(f"{at}.prompt", "uses event but the agent declares no await_event")
        if "task" in names and not is_worker:
            self.add(f"{at}.prompt", "uses task but the agent is no supervisor's worker or planner")

    def _subgraph(
        self, agent: AgentSpec, at: str, depth: int, refs: tuple[str, ...], guards: tuple[str, ...]
    ) -> AgentSpec:
        if agent.tools or agent.workers:
            self.add(f"{at}.kind", "a sub-graph node has no tools or workers of its own")
        if (agent.graph is None) == (agent.graph_ref is None):
            self.add(f"{at}.graph", "a sub-graph node needs exactly one of graph or graph_ref")
            return agent
        if agent.graph_ref is not None:
            ref = agent.graph_ref
            if ref in refs:
                self.add(f"{at}.graph_ref", "named graphs refer to each other: " + " -> ".join((*refs, ref)))
                return agent
            if ref not in self.catalog.graphs:
                self.add(f"{at}.graph_ref", f"unknown graph {ref!r}")
                return agent
            raw: Any = self.catalog.graphs[ref]
            self.inlined[ref] = raw
            refs = (*refs, ref)
        else:
            raw = agent.graph.model_dump() if agent.graph else None
        inner = self.parse(raw, prefix=f"{at}.graph", depth=depth + 1, refs=refs, guards=guards)
        return agent.model_copy(update={"graph": inner}) if inner else agent


def _unique(names: tuple[str, ...]) -> list[str]:
    """Names in first-seen order: a graph's guards run before an agent's own, each once."""
    return list(dict.fromkeys(names))


def _join(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix else path


def _sinks(spec: GraphSpec) -> list[str]:
    workers = off_dag(spec)
    needed = {d for a in spec.agents for d in a.depends_on}
    return [a.id for a in spec.agents if a.id not in needed and a.id not in workers]


def _sole_sink(spec: GraphSpec) -> str | None:
    sinks = _sinks(spec)
    return sinks[0] if len(sinks) == 1 else None


def _acyclic(spec: GraphSpec, index: Mapping[str, int]) -> bool:
    """Whether the known dependencies form no cycle (Kahn's count: one pass over the edges, no DFS)."""
    waiting = [0] * len(spec.agents)
    needed_by: dict[str, list[int]] = {}
    for i, agent in enumerate(spec.agents):
        if index.get(agent.id) != i:
            continue  # a duplicate id: the DFS below sees only the first, and so does this count
        for dep in agent.depends_on:
            if dep in index:
                waiting[i] += 1
                needed_by.setdefault(dep, []).append(i)
    ready = [i for i in index.values() if not waiting[i]]
    done = 0
    while ready:
        done += 1
        for j in needed_by.get(spec.agents[ready.pop()].id, ()):
            waiting[j] -= 1
            if not waiting[j]:
                ready.append(j)
    return done == len(index)


def _find_cycle(spec: GraphSpec, index: Mapping[str, int]) -> list[str]:
    """One dependency cycle as ``[a, b, ..., a]``, or ``[]`` (iterative DFS, when there is one)."""
    if _acyclic(spec, index):
        return []
    colour: dict[str, int] = {}
    for root in index:
        if root in colour:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(spec.agents[index[root]].depends_on))]
        colour[root] = 1
        while stack:
            node, deps = stack[-1]
            dep = next((d for d in deps if d in index), None)
            if dep is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(dep) == 1:
                trail = [n for n, _ in stack]
                return [*trail[trail.index(dep) :], dep]
            elif dep not in colour:
                colour[dep] = 1
                stack.append((dep, iter(spec.agents[index[dep]].depends_on)))
    return []
