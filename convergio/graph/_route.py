"""Routers: the ``route_request`` activity's contract and the choice it makes (ADR 0006).

Scoring is compiled code (``convergio.kernels``), so it runs in the activity, never in
the orchestrator's replay. What the activity returns, a ``RouteDecision``, is a
completion in the run's history: a replay reads the same choice instead of scoring
again. The choice from the scores is made here, in plain code the tests pin:
the ``top_k`` best candidates scoring at least ``threshold``, else the fallback,
else the router fails (and its ``on_failure``, or the planner, takes over).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ._spec import AgentSpec, Route

__all__ = [
    "ROUTE_REQUEST",
    "Candidate",
    "RouteCall",
    "RouteDecision",
    "decide",
    "route_documents",
    "route_input",
]

ROUTE_REQUEST = "route_request"
_SHOWN = 10  # scores kept in the decision: the best few, not a thousand candidates'


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Candidate(_Model):
    """What a router knows of one candidate: its descriptor."""

    id: str
    description: str = ""
    examples: list[str] = Field(default_factory=list)


class RouteCall(_Model):
    """The ``route_request`` activity's input: the request template, its data, the candidates."""

    run_id: str
    node_id: str
    prompt: str
    input: JsonValue = None
    outputs: dict[str, JsonValue] = Field(default_factory=dict)
    candidates: list[Candidate] = Field(min_length=1)
    route: Route


class RouteDecision(_Model):
    """The ``route_request`` activity's output (the node's outcome, like ``run_agent``'s)."""

    status: str = Field(description="completed, or failed when nothing can be chosen")
    output: dict[str, JsonValue] | None = Field(
        default=None, description="{request, chosen}: what dependents see"
    )
    chosen: list[str] = Field(default_factory=list)
    scores: dict[str, float] = Field(
        default_factory=dict, description="the best candidates' scores, best first"
    )
    fallback: bool = False
    error: str | None = None
    usage: dict[str, int] = Field(default_factory=dict)


def route_input(
    run_id: str, router: AgentSpec, agents: Mapping[str, AgentSpec], run_input: Any, outputs: dict[str, Any]
) -> dict[str, Any]:
    """The activity input for one router (the orchestrator's side of the contract)."""
    assert router.route is not None and router.prompt is not None  # validation guarantees both
    candidates = [
        Candidate(id=c, description=agents[c].description, examples=agents[c].examples).model_dump()
        for c in router.route.candidates
    ]
    return {
        "run_id": run_id,
        "node_id": router.id,
        "prompt": router.prompt,
        "input": run_input,
        "outputs": outputs,
        "candidates": candidates,
        "route": router.route.model_dump(mode="json"),
    }


def route_documents(candidates: Sequence[Candidate]) -> tuple[list[str], list[int]]:
    """One profile text per candidate: its name, description and examples together.

    One profile beat one document per example on the labelled samples (benchmarks/routing.py):
    short examples match each other's question words ("how do I") more than their topic.
    """
    texts = [
        " ".join((c.id.replace("_", " ").replace("-", " ") + ":", c.description, *c.examples))
        for c in candidates
    ]
    return texts, list(range(len(candidates)))


def decide(call: RouteCall, request: str, ranking: Sequence[tuple[int, float]]) -> RouteDecision:
    """Choose from ``ranking`` (candidate index, score; best first, ties by index).

    Returns:
        The decision: the ``top_k`` best at or over the threshold, else the fallback,
        else a ``failed`` outcome naming the best score.
    """
    route = call.route
    ids = [c.id for c in call.candidates]
    scores = {ids[i]: round(score, 6) for i, score in ranking[:_SHOWN]}
    chosen = [ids[i] for i, score in ranking if score >= route.threshold][: route.top_k]
    fallback = not chosen and route.fallback is not None
    if fallback:
        chosen = [route.fallback or ""]
    if not chosen:
        best = f"{ids[ranking[0][0]]!r} scored {ranking[0][1]:.3f}" if ranking else "no candidate scored"
        error = f"no candidate reached the threshold {route.threshold:g} ({best}) and there is no fallback"
        return RouteDecision(status="failed", scores=scores, error=error)
    return RouteDecision(
        status="completed",
        output={"request": request, "chosen": list(chosen)},
        chosen=chosen,
        scores=scores,
        fallback=fallback,
    )
