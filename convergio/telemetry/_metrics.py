"""Metrics: tokens, cost, node failures and node duration, through the OpenTelemetry metrics API.

Instruments (attribute keys in brackets):

* ``convergio.tokens`` counter, ``{token}`` [``convergio.tenant``, ``gen_ai.request.model``,
  ``gen_ai.token.type`` = ``input`` | ``output``, the direction];
* ``convergio.cost_eur`` counter, ``EUR`` [``convergio.tenant``, ``gen_ai.request.model``];
* ``convergio.node.failures`` counter, ``{failure}`` [``convergio.tenant``, ``convergio.graph``,
  ``convergio.status``];
* ``convergio.node.duration`` histogram, ``s`` [``convergio.tenant``, ``convergio.graph``,
  ``convergio.status``].

Node ids and run ids are span attributes only: as metric attributes they would multiply the
number of time series without bound. Every helper is a no-op while telemetry is off.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from convergio.telemetry._state import Instruments, current

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

__all__ = ["OK_STATUSES", "build_instruments", "record_cost", "record_node", "record_tokens"]

OK_STATUSES = frozenset({"completed", "delegated"})
"""Node statuses that are not failures."""

_DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def build_instruments(meter: Meter) -> Instruments:
    """Create the four instruments on ``meter``."""
    return Instruments(
        tokens=meter.create_counter("convergio.tokens", unit="{token}", description="model tokens used"),
        cost=meter.create_counter("convergio.cost_eur", unit="EUR", description="cost of model calls"),
        failures=meter.create_counter(
            "convergio.node.failures", unit="{failure}", description="node attempts that did not succeed"
        ),
        duration=meter.create_histogram(
            "convergio.node.duration",
            unit="s",
            description="duration of one node attempt",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS_S),
        ),
    )


def record_tokens(*, tenant: str, model: str, input_tokens: int, output_tokens: int) -> None:
    """Count tokens used by one model call.

    Args:
        tenant: The tenant id.
        model: The model that answered.
        input_tokens: Prompt tokens.
        output_tokens: Completion tokens.
    """
    instruments = current().instruments
    if instruments is None:
        return
    base = {"convergio.tenant": tenant, "gen_ai.request.model": model}
    if input_tokens:
        instruments.tokens.add(input_tokens, {**base, "gen_ai.token.type": "input"})
    if output_tokens:
        instruments.tokens.add(output_tokens, {**base, "gen_ai.token.type": "output"})


def record_cost(*, tenant: str, model: str, cost_eur: float | Decimal) -> None:
    """Add the cost of a call (EUR) to the cost counter; zero or negative costs are ignored.

    Args:
        tenant: The tenant id.
        model: The model billed.
        cost_eur: The cost in EUR.
    """
    instruments = current().instruments
    if instruments is None or cost_eur <= 0:
        return
    instruments.cost.add(float(cost_eur), {"convergio.tenant": tenant, "gen_ai.request.model": model})


def record_node(*, tenant: str, graph: str, status: str, duration_s: float) -> None:
    """Record one node attempt's duration, and a failure unless ``status`` is a success.

    Args:
        tenant: The tenant id.
        graph: The graph's name.
        status: The attempt's outcome (``completed``, ``delegated``, ``failed``,
            ``budget_exceeded``, ``tool_limit``, or an error code/type when it raised).
        duration_s: How long the attempt took, in seconds.
    """
    instruments = current().instruments
    if instruments is None:
        return
    attributes = {"convergio.tenant": tenant, "convergio.graph": graph, "convergio.status": status}
    instruments.duration.record(max(duration_s, 0.0), attributes)
    if status not in OK_STATUSES:
        instruments.failures.add(1, attributes)
