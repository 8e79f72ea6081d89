"""The ``route_request`` activity: score a router's request against its candidates (numba kernel).

No I/O and no provider call: the candidates' descriptors come in the input, the decision
goes out and lands in the run's history, so a replay never scores again.
"""

from typing import Any

from convergio.graph import RouteCall, RouteDecision, TemplateError, decide, render_prompt, route_documents
from convergio.kernels import RoutingIndex


def route_request_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Render the router's request, rank the candidates, and return the decision as JSON."""
    route_call = RouteCall.model_validate(call)
    context = {"input": route_call.input, "outputs": route_call.outputs, "event": None, "task": None}
    try:
        request = render_prompt(route_call.prompt, context)
    except TemplateError as exc:
        return RouteDecision(status="failed", error=str(exc)).model_dump(mode="json")
    texts, owners = route_documents(route_call.candidates)
    index = RoutingIndex.build(texts, owners, len(route_call.candidates))
    best, scores = index.top_k([request], len(route_call.candidates))
    ranking = [(int(i), float(s)) for i, s in zip(best[0], scores[0], strict=True) if i >= 0]
    return decide(route_call, request, ranking).model_dump(mode="json")
