"""Validation rules for routers and the planner (ADR 0006): path-named problems, pure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._spec import GraphSpec

__all__ = ["off_dag", "planner_problems", "router_problems"]

Problems = Iterator[tuple[str, str]]


def off_dag(spec: GraphSpec) -> set[str]:
    """Agents that are not scheduled as graph nodes: supervisors' workers and the planner."""
    return {w for a in spec.agents for w in a.workers} | ({spec.planner.agent} if spec.planner else set())


def router_problems(spec: GraphSpec) -> Problems:
    """Each router names candidates that depend on it, belong to no other router, and are plain nodes."""
    index = {a.id: i for i, a in enumerate(spec.agents)}
    owner: dict[str, str] = {}
    outside = off_dag(spec)
    for i, agent in enumerate(spec.agents):
        at = f"agents[{i}]"
        if agent.kind != "router":
            if agent.route is not None:
                yield f"{at}.route", "route needs kind: router"
            continue
        if agent.route is None:
            yield f"{at}.route", "a router needs route.candidates"
            continue
        if agent.tools or agent.workers:
            yield f"{at}.kind", "a router scores its candidates; it has no tools or workers"
        route = agent.route
        for j, candidate in enumerate(route.candidates):
            where = f"{at}.route.candidates[{j}]"
            if candidate not in index:
                yield where, f"unknown agent {candidate!r}"
            elif candidate in outside or candidate == agent.id:
                yield (
                    where,
                    f"{candidate!r} must be a graph node other than the router, a worker or the planner",
                )
            elif agent.id not in spec.agents[index[candidate]].depends_on:
                yield where, f"candidate {candidate!r} must depend on its router {agent.id!r}"
            elif candidate in owner:
                yield where, f"{candidate!r} is already a candidate of {owner[candidate]!r}"
            owner.setdefault(candidate, agent.id)
        if route.fallback is not None and route.fallback not in route.candidates:
            yield f"{at}.route.fallback", f"the fallback {route.fallback!r} must be one of the candidates"


def planner_problems(spec: GraphSpec, providers: frozenset[str], tools: frozenset[str]) -> Problems:
    """The planner is a plain agent outside the schedule, and what it may grant is known."""
    planner = spec.planner
    if planner is None:
        return
    index = {a.id: i for i, a in enumerate(spec.agents)}
    if planner.agent not in index:
        yield "planner.agent", f"unknown agent {planner.agent!r}"
        return
    agent = spec.agents[index[planner.agent]]
    at = f"agents[{index[planner.agent]}]"
    if agent.kind != "agent" or agent.depends_on or agent.await_event is not None:
        yield at, "the planner is a plain agent with no depends_on or await_event"
    if planner.agent in {w for a in spec.agents for w in a.workers}:
        yield "planner.agent", "the planner cannot be a supervisor's worker"
    for i, other in enumerate(spec.agents):
        if planner.agent in other.depends_on:
            yield f"agents[{i}].depends_on", f"{planner.agent!r} is the planner; nothing depends on it"
    if spec.output == planner.agent:
        yield "output", "the output cannot be the planner"
    for j, name in enumerate(planner.providers):
        if name not in providers:
            yield f"planner.providers[{j}]", f"unknown provider {name!r}"
    for j, name in enumerate(planner.tools):
        if name not in tools:
            yield f"planner.tools[{j}]", f"unknown tool {name!r}"
