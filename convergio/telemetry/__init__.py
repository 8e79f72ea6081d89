"""Telemetry: OpenTelemetry traces and metrics for runs, nodes, provider calls and tool calls.

``configure_telemetry`` (once, at start-up) picks Azure Monitor, OTLP/HTTP, the console or
off (the default: no exporter, no-op spans, OpenTelemetry not imported). The rest of the code
uses only the span API here, never OpenTelemetry itself::

    run <graph>                  record_run_span (at the end) or run_span (live)
    └── invoke_agent <node>      node_span / agent_call_span, one per attempt, in the activity
        ├── chat <model>         provider_span, one per provider call
        └── execute_tool <tool>  tool_span, one per tool call

The trace id and the root span id are derived from the run id, so spans made by activities in
other processes join one tree with nothing passed between them. Attributes follow the
OpenTelemetry GenAI conventions (``gen_ai.*``) plus ``convergio.*`` ids; no secrets, no
prompt or completion text unless ``capture_prompts`` is on (then redacted, in span events).
Metrics: ``convergio.tokens``, ``convergio.cost_eur``, ``convergio.node.failures`` and
``convergio.node.duration``.
"""

from convergio.telemetry._ids import run_root_span_id, run_trace_id
from convergio.telemetry._metrics import record_cost, record_node, record_tokens
from convergio.telemetry._setup import (
    configure_telemetry,
    flush_telemetry,
    reset_telemetry,
    select_exporter,
    use_providers,
)
from convergio.telemetry._spans import (
    TelemetrySpan,
    agent_call_span,
    node_span,
    provider_span,
    record_run_span,
    run_span,
    tool_span,
    tracing,
)
from convergio.telemetry._state import ExporterKind, TelemetryState

__all__ = [
    "ExporterKind",
    "TelemetrySpan",
    "TelemetryState",
    "agent_call_span",
    "configure_telemetry",
    "flush_telemetry",
    "node_span",
    "provider_span",
    "record_cost",
    "record_node",
    "record_run_span",
    "record_tokens",
    "reset_telemetry",
    "run_root_span_id",
    "run_span",
    "run_trace_id",
    "select_exporter",
    "tool_span",
    "tracing",
    "use_providers",
]
