"""Adaptive re-planning: the planner's contract and the validation of its revisions (ADR 0006).

When a node fails for good, the run asks the graph's planner agent (an ordinary
``run_agent`` call, so its answer is a completion in the run's history) for a
``Revision`` of the remaining work. Its answer is text; the first JSON object in
it must be a ``Revision``. ``revise`` turns it into the new graph, or says why not:

- ``replace``: a new spec for the failed node (same id, so its dependents' prompts
  still read ``outputs.<id>``), plus any new helper nodes; the node runs again;
- ``reroute``: the failed node stays failed; nodes that have not started are
  redefined, added or removed (``remove``) and ``output`` may move;
- ``stop``: the run fails with the planner's ``reason``.

A revision is validated like any graph, by ``parse_graph``, against a catalog
narrowed to the providers and tools the graph already uses plus those its
``planner`` grants, so a planner cannot give itself new powers. Nodes that have
started are never redefined (finished work is never redone), the planner itself
is never revised, and no agent's budget is raised above the one it replaces (a new
node's, above the failed node's). All of this is pure: a replay re-derives the
same graph from the same recorded answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from convergio.errors import InvalidGraph

from ._spec import AgentSpec, Budget, GraphSpec, NodeId
from ._validate import Catalog, parse_graph, path_of

__all__ = ["REPLAN_STATUSES", "Revision", "RevisionRejected", "parse_revision", "planner_task", "revise"]

REPLAN_STATUSES = frozenset({"failed", "timed_out", "budget_exceeded", "tool_limit"})
_LIMITS = ("max_tokens", "max_seconds", "max_tool_calls")


class RevisionRejected(ValueError):
    """The planner's answer is not a valid revision; the message says why."""


class Revision(BaseModel):
    """What a planner answers (as JSON) when asked to revise the plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["replace", "reroute", "stop"]
    reason: str = Field(min_length=1, max_length=2_000, description="why: shown in the run's status")
    agents: list[AgentSpec] = Field(
        default_factory=list, max_length=100, description="new or redefined nodes"
    )
    remove: list[NodeId] = Field(default_factory=list, max_length=100, description="reroute: unstarted nodes")
    output: NodeId | None = Field(default=None, description="reroute: a new output node")


def planner_task(spec: GraphSpec, failed: str, status: str, error: str, statuses: Mapping[str, str]) -> str:
    """The task the planner is given: what failed, the graph with each node's status, the contract."""
    graph = spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    for agent in graph["agents"]:
        agent["status"] = statuses.get(agent["id"], "waiting")
    return (
        f"Node {failed!r} of graph {spec.name!r} ended {status}: {error}\n"
        "Revise the plan for the remaining work. Answer with one JSON object: "
        '{"action": "replace" | "reroute" | "stop", "reason": "...", "agents": [agent specs], '
        '"remove": [ids], "output": "id"}. replace: give a new spec with the same id for the failed '
        "node (and any new nodes it needs); reroute: redefine, add or remove nodes that are still "
        "waiting; stop: end the run. Nodes that have started cannot change, and no budget may grow.\n"
        f"The graph: {json.dumps(graph, separators=(',', ':'))}"
    )


def parse_revision(text: Any) -> Revision:
    """The first JSON object in the planner's answer, as a ``Revision``.

    Raises:
        RevisionRejected: no JSON object, bad JSON, or not a revision.
    """
    answer = text if isinstance(text, str) else ""
    start = answer.find("{")
    if start < 0:
        raise RevisionRejected("the planner's answer holds no JSON object")
    try:
        data, _ = json.JSONDecoder().raw_decode(answer, start)
        return Revision.model_validate(data)
    except json.JSONDecodeError as exc:
        raise RevisionRejected(f"the planner's answer is not valid JSON: {exc.msg}") from None
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise RevisionRejected(f"revision.{path_of(err['loc'])}: {err['msg']}") from None


def revise(spec: GraphSpec, revision: Revision, failed: str, statuses: Mapping[str, str]) -> GraphSpec | None:
    """The revised graph (``None`` for ``stop``), validated as ADR 0006 says.

    Args:
        spec: The graph as it runs now.
        revision: The planner's revision.
        failed: The node whose failure asked for it.
        statuses: Every node's status now.

    Raises:
        RevisionRejected: what is wrong with it (the first problem, and how many more).
    """
    if revision.action == "stop":
        return None
    problems = list(_rule_problems(spec, revision, failed, statuses))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RevisionRejected(problems[0] + more)
    removed = set(revision.remove)
    revised = {agent.id: agent for agent in revision.agents}
    agents = [revised.pop(a.id, a) for a in spec.agents if a.id not in removed]
    agents += revised.values()
    data = spec.model_dump(mode="json", exclude_none=True)
    data["agents"] = [_inlined(a.model_dump(mode="json", exclude_none=True)) for a in agents]
    data["output"] = revision.output or spec.output
    if data["output"] in removed:
        raise RevisionRejected(f"revision.remove: {data['output']!r} is the output; name a new output")
    providers, tools = _powers(spec)
    planner = spec.planner
    catalog = Catalog(
        providers=frozenset(providers | set(planner.providers if planner else ())),
        tools=frozenset(tools | set(planner.tools if planner else ())),
    )
    try:
        return parse_graph(data, catalog)
    except InvalidGraph as exc:
        raise RevisionRejected(f"the revised graph is invalid: {exc.message}") from None


def _rule_problems(
    spec: GraphSpec, revision: Revision, failed: str, statuses: Mapping[str, str]
) -> Iterator[str]:
    by_id = {a.id: a for a in spec.agents}
    frozen = {n for n, s in statuses.items() if s != "waiting" and n != failed}
    frozen |= {w for a in spec.agents if a.id in frozen for w in a.workers}
    if spec.planner is not None:
        frozen.add(spec.planner.agent)
    ids = [a.id for a in revision.agents]
    if revision.action == "replace" and failed not in ids:
        yield f"revision.agents: a replace gives a new spec for {failed!r}"
    if revision.action == "reroute" and failed in ids:
        yield f"revision.agents: a reroute leaves {failed!r} failed; replace it to run it again"
    seen: set[str] = set()
    for i, agent in enumerate(revision.agents):
        at = f"revision.agents[{i}]"
        if agent.id in seen:
            yield f"{at}.id: {agent.id!r} is given twice"
        seen.add(agent.id)
        if agent.id in frozen:
            yield f"{at}.id: {agent.id!r} has started or is the planner; it cannot change"
        reference = by_id.get(agent.id, by_id[failed])
        raised = [name for name in _LIMITS if _raises(agent.budget, reference.budget, name)]
        if raised:
            yield f"{at}.budget: {', '.join(raised)} above that of {reference.id!r}"
    for j, node in enumerate(revision.remove):
        if node not in by_id:
            yield f"revision.remove[{j}]: unknown agent {node!r}"
        elif node in frozen or node == failed:
            yield f"revision.remove[{j}]: only nodes that have not started can be removed"


def _raises(new: Budget, old: Budget, name: str) -> bool:
    before, after = getattr(old, name), getattr(new, name)
    return before is not None and (after is None or after > before)


def _powers(spec: GraphSpec) -> tuple[set[str], set[str]]:
    """The providers and tools (guards included) a graph uses, sub-graphs included."""
    providers: set[str] = set()
    tools: set[str] = set()
    for agent in spec.agents:
        providers.add(agent.provider)
        tools.update(agent.tools, agent.guards)
        if agent.graph is not None:
            inner = _powers(agent.graph)
            providers |= inner[0]
            tools |= inner[1]
    return providers, tools


def _inlined(agent: dict[str, Any]) -> dict[str, Any]:
    """A parsed node whose named sub-graph was inlined validates again as that inline graph."""
    inner = agent.get("graph")
    if inner is not None:
        agent.pop("graph_ref", None)
        inner["agents"] = [_inlined(a) for a in inner["agents"]]
    return agent
