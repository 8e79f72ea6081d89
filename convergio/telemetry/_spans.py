"""Spans for runs, nodes, provider calls and tool calls; callers never touch OpenTelemetry.

The tree of one run::

    run <graph>                        root; id derived from the run id (record_run_span / run_span)
    └── invoke_agent <node>            one per node attempt (node_span), in its activity
        ├── chat <model>               one per provider call (provider_span)
        └── execute_tool <tool>        one per tool call (tool_span)

A node span finds its parent from the run id alone (see ``_ids``), so activities need no trace
context from the orchestrator. Attributes carry ids, names, counts, statuses and error types,
never prompt or completion text, messages of exceptions or anything secret. With prompt
capture on, prompts and completions go into span events, redacted first.

While telemetry is off each span function returns one shared context manager that yields one
shared do-nothing handle, and OpenTelemetry is not even imported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from convergio.telemetry._handle import NOOP, AttributeValue, TelemetrySpan, error_type
from convergio.telemetry._ids import FORCED_IDS, root_run, run_root_span_id, run_trace_id
from convergio.telemetry._metrics import record_node
from convergio.telemetry._state import Runtime, current

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

__all__ = [
    "TelemetrySpan",
    "agent_call_span",
    "node_span",
    "provider_span",
    "record_run_span",
    "run_span",
    "tool_span",
    "tracing",
]


def tracing() -> bool:
    """Whether spans are recorded in this process: a caller skips reading what only a span would
    carry (``record_run`` reads the run's cost from the ledger for its root span alone)."""
    return current().tracer is not None


def _run_parent(run_id: str) -> Context:
    from opentelemetry import trace

    parent = trace.SpanContext(
        run_trace_id(run_id),
        run_root_span_id(run_id),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def _parent(run_id: str) -> Context | None:
    """The current span if there is one, else (given a run id) the run's root span."""
    from opentelemetry import trace

    if trace.get_current_span().get_span_context().is_valid or not run_id:
        return None
    return _run_parent(run_id)


@contextmanager
def _span(
    runtime: Runtime,
    name: str,
    attributes: Mapping[str, AttributeValue],
    *,
    context: Context | None,
    client: bool = False,
    tenant: str = "",
    model: str = "",
    kind: str = "",
    links: bool = False,
) -> Iterator[TelemetrySpan]:
    from opentelemetry import trace

    assert runtime.tracer is not None
    link_to = trace.get_current_span().get_span_context() if links else None
    with runtime.tracer.start_as_current_span(
        name,
        context=context,
        kind=trace.SpanKind.CLIENT if client else trace.SpanKind.INTERNAL,
        attributes={k: v for k, v in attributes.items() if v != ""},
        links=[trace.Link(link_to)] if link_to is not None and link_to.is_valid else None,
        record_exception=False,  # its event would carry the exception's message
        set_status_on_exception=False,
    ) as span:
        handle = TelemetrySpan(
            span, capture=runtime.state.capture_prompts, tenant=tenant, model=model, kind=kind
        )
        try:
            yield handle
        except Exception as exc:
            code = error_type(exc)
            if code != type(exc).__name__:
                span.set_attribute("convergio.error_code", code)
            handle.fail(type(exc).__name__)
            handle._status = code
            raise


class _Off(AbstractContextManager[TelemetrySpan]):
    """Every span's context manager while telemetry is off: the shared do-nothing handle, with
    no generator made and resumed twice per span (an agent call opens two)."""

    __slots__ = ()

    def __enter__(self) -> TelemetrySpan:
        return NOOP

    def __exit__(self, *exc: object) -> None:
        return None


_OFF = _Off()

_Placed = tuple[str, str, dict[str, AttributeValue]]


def _placed(operation: str, tenant: str, run_id: str, node: str) -> _Placed:
    """The root run, the node's path in it, and the attributes every span of a node's work carries."""
    root, path = root_run(run_id, node)
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": operation,
        "convergio.tenant": tenant,
        "convergio.run_id": root,
        "convergio.node": path,
    }
    return root, path, attributes


def node_span(
    *, run_id: str, node: str, tenant: str = "", graph: str = "", attempt: int = 1, step: int | None = None
) -> AbstractContextManager[TelemetrySpan]:
    """A span for one attempt of one node, a child of the run's root span found from ``run_id``.

    Use it in the activity around the agent call; call ``set_outcome`` on the handle. On exit
    the attempt's duration and, unless it succeeded, a failure are recorded as metrics. An
    exception marks the span failed with its type (and code, if it has one) and propagates.
    A span that is current when it starts (the Functions invocation's) is linked, not parent.

    Args:
        run_id: The run id (``"R/sub"`` for a node of a sub-graph of run ``R``).
        node: The node id.
        tenant: The tenant id.
        graph: The graph's name.
        attempt: The attempt number, from 1.
        step: The node's call counter (a supervisor makes several calls per attempt).

    Yields:
        The span's handle.
    """
    runtime = current()
    if runtime.tracer is None:
        return _OFF
    return _node_span(runtime, run_id, node, tenant, graph, attempt, step)


@contextmanager
def _node_span(
    runtime: Runtime, run_id: str, node: str, tenant: str, graph: str, attempt: int, step: int | None
) -> Iterator[TelemetrySpan]:
    root, path, attributes = _placed("invoke_agent", tenant, run_id, node)
    attributes |= {"gen_ai.agent.name": path, "convergio.graph": graph, "convergio.attempt": attempt}
    if step is not None:
        attributes["convergio.step"] = step
    started = time.monotonic()
    handle = NOOP
    try:
        with _span(
            runtime,
            f"invoke_agent {path}",
            attributes,
            context=_run_parent(root),
            tenant=tenant,
            kind="node",
            links=True,
        ) as handle:
            yield handle
    finally:
        record_node(
            tenant=tenant,
            graph=graph,
            status=handle._status or "error",
            duration_s=time.monotonic() - started,
        )


def agent_call_span(call: Any, *, graph: str = "") -> AbstractContextManager[TelemetrySpan]:
    """``node_span`` for an ``AgentCall`` (its run, node, tenant, attempt and step).

    Args:
        call: An ``AgentCall`` (anything with ``run_id``, ``node_id``, ``tenant``, ``attempt``, ``step``).
        graph: The graph's name.

    Returns:
        The context manager of :func:`node_span`.
    """
    return node_span(
        run_id=call.run_id,
        node=call.node_id,
        tenant=call.tenant,
        graph=graph,
        attempt=call.attempt,
        step=call.step,
    )


def provider_span(
    *,
    system: str,
    model: str,
    tenant: str = "",
    run_id: str = "",
    node: str = "",
    attempt: int | None = None,
    max_output_tokens: int | None = None,
) -> AbstractContextManager[TelemetrySpan]:
    """A span for one provider call (``chat <model>``), a child of the current span.

    With no current span, it is parented to the run's root span when ``run_id`` is given.
    Call ``set_response`` on the handle with the answer; a raised ``ProviderError`` marks the
    span failed with ``error.type`` = ``ProviderError`` and ``convergio.error_code`` = its code.

    Args:
        system: The provider (``openai``, ``anthropic``, ``offline``...).
        model: The model asked for.
        tenant: The tenant id.
        run_id: The run id.
        node: The node id.
        attempt: The node's attempt.
        max_output_tokens: The output cap sent with the request.

    Yields:
        The span's handle.
    """
    runtime = current()
    if runtime.tracer is None:
        return _OFF
    return _provider_span(runtime, system, model, tenant, run_id, node, attempt, max_output_tokens)


@contextmanager
def _provider_span(
    runtime: Runtime,
    system: str,
    model: str,
    tenant: str,
    run_id: str,
    node: str,
    attempt: int | None,
    max_output_tokens: int | None,
) -> Iterator[TelemetrySpan]:
    root, _, attributes = _placed("chat", tenant, run_id, node)
    attributes |= {"gen_ai.system": system, "gen_ai.request.model": model}
    if attempt is not None:
        attributes["convergio.attempt"] = attempt
    if max_output_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = max_output_tokens
    with _span(
        runtime, f"chat {model}", attributes, context=_parent(root), client=True, tenant=tenant, model=model
    ) as handle:
        yield handle


def tool_span(
    *, tool: str, tenant: str = "", run_id: str = "", node: str = ""
) -> AbstractContextManager[TelemetrySpan]:
    """A span for one tool (or plugin) call (``execute_tool <tool>``), a child of the current span.

    Arguments and results are never recorded. ``convergio.tool.outcome`` is ``ok`` unless the
    handle's ``fail`` was called or the body raised (then ``error``).

    Args:
        tool: The tool's registered name.
        tenant: The tenant id.
        run_id: The run id.
        node: The node id.

    Yields:
        The span's handle.
    """
    runtime = current()
    if runtime.tracer is None:
        return _OFF
    return _tool_span(runtime, tool, tenant, run_id, node)


@contextmanager
def _tool_span(runtime: Runtime, tool: str, tenant: str, run_id: str, node: str) -> Iterator[TelemetrySpan]:
    root, _, attributes = _placed("execute_tool", tenant, run_id, node)
    attributes |= {"gen_ai.tool.name": tool, "convergio.tool": tool}
    with _span(runtime, f"execute_tool {tool}", attributes, context=_parent(root), tenant=tenant) as handle:
        try:
            yield handle
        finally:
            handle.set_attribute("convergio.tool.outcome", "error" if handle._failed else "ok")


def _run_attributes(root: str, tenant: str, graph: str) -> dict[str, AttributeValue]:
    attributes = {"convergio.tenant": tenant, "convergio.run_id": root, "convergio.graph": graph}
    return {k: v for k, v in attributes.items() if v}


def _start_root(
    runtime: Runtime, root: str, graph: str, attributes: Mapping[str, AttributeValue], **kw: Any
) -> Span:
    from opentelemetry.context import Context

    assert runtime.tracer is not None
    token = FORCED_IDS.set((run_trace_id(root), run_root_span_id(root)))
    try:
        return runtime.tracer.start_span(
            f"run {graph or root}", context=Context(), attributes=attributes, **kw
        )
    finally:
        FORCED_IDS.reset(token)


def _nanos(moment: datetime | str) -> int:
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000) * 1000


def record_run_span(
    run_id: str,
    *,
    tenant: str,
    graph: str,
    started_at: datetime | str,
    finished_at: datetime | str,
    status: str,
    usage: Mapping[str, Any] | None = None,
    cost_eur: float | Decimal | None = None,
) -> None:
    """Emit a finished run's root span, with the id its node spans already point at.

    Call it once, when the run has ended (from a small activity: orchestrators must not do
    I/O). Its start and end are the run's own, so it encloses node spans emitted earlier from
    other processes. Calling it again for the same run emits a duplicate with the same id.

    Args:
        run_id: The run id (a sub-graph's ``"R/sub"`` is ``R``).
        tenant: The tenant id.
        graph: The graph's name.
        started_at: When the run started (an aware datetime or ISO 8601 text; naive is UTC).
        finished_at: When it ended.
        status: The run's status (``Completed``, ``Failed``, ``Terminated``...); a failed or
            terminated run's span is marked as an error.
        usage: The run's usage dict (``prompt_tokens``, ``completion_tokens``, ``tool_calls``).
        cost_eur: The run's total cost, in EUR (a span attribute; costs are counted per node).
    """
    runtime = current()
    if runtime.tracer is None:
        return
    root, _ = root_run(run_id)
    span = _start_root(
        runtime, root, graph, _run_attributes(root, tenant, graph), start_time=_nanos(started_at)
    )
    TelemetrySpan(span, tenant=tenant, kind="run").set_outcome(status=status, usage=usage, cost_eur=cost_eur)
    span.end(end_time=_nanos(finished_at))


@contextmanager
def run_span(run_id: str, *, tenant: str = "", graph: str = "") -> Iterator[TelemetrySpan]:
    """The run's root span, live, for code that runs a whole graph in one process (CLI, tests).

    It has the same ids as :func:`record_run_span` would give it, so node spans made inside or
    elsewhere join it. Use one or the other for a run, not both.

    Args:
        run_id: The run id.
        tenant: The tenant id.
        graph: The graph's name.

    Yields:
        The span's handle; call ``set_outcome`` with the run's status, usage and cost.
    """
    runtime = current()
    if runtime.tracer is None:
        yield NOOP
        return
    from opentelemetry import trace

    root, _ = root_run(run_id)
    span = _start_root(runtime, root, graph, _run_attributes(root, tenant, graph))
    handle = TelemetrySpan(span, tenant=tenant, kind="run")
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield handle
    except Exception as exc:
        handle.fail(type(exc).__name__)
        raise
    finally:
        span.end()
