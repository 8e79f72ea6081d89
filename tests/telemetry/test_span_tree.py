"""The span tree of a run: one trace, a root from the run id, node spans from separate activity calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from convergio.agents import AgentCall
from convergio.graph import AgentSpec
from convergio.providers import ProviderError
from convergio.telemetry import (
    node_span,
    provider_span,
    record_run_span,
    run_root_span_id,
    run_span,
    run_trace_id,
    tool_span,
)
from tests.telemetry._activity import COST_EUR, activity
from tests.telemetry.conftest import Otel

RUN = "run-7f3a"
GRAPH = "lesson-plan"
TENANT = "rome-primary"
STARTED = datetime(2026, 11, 3, 9, 0, 0, tzinfo=UTC)


def _call(node: str, attempt: int = 1, **agent: Any) -> AgentCall:
    spec = AgentSpec(id=node, prompt="Plan a lesson on {{ input.topic }}.", **agent)
    return AgentCall(
        run_id=RUN, tenant=TENANT, node_id=node, attempt=attempt, agent=spec, input={"topic": "fractions"}
    )


def _run_the_graph(otel: Otel) -> None:
    """planner (with a tool) then writer, whose first attempt hits a simulated outage."""
    otel.new_process()
    activity(_call("planner", tools=["word_count"]), graph=GRAPH)
    otel.new_process()
    with pytest.raises(ProviderError):
        activity(_call("writer", options={"fail_first_n": 1}), graph=GRAPH)
    otel.new_process()  # the retry lands on another worker
    activity(_call("writer", attempt=2, options={"fail_first_n": 1}), graph=GRAPH)
    otel.new_process()  # the run-end activity
    record_run_span(
        RUN,
        tenant=TENANT,
        graph=GRAPH,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=42),
        status="Completed",
        usage={"prompt_tokens": 300, "completion_tokens": 120, "total_tokens": 420, "tool_calls": 1},
        cost_eur=0.0075,
    )


def _parent(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def test_one_trace_whose_root_is_derived_from_the_run_id(otel: Otel) -> None:
    _run_the_graph(otel)
    spans = otel.spans()
    assert {s.context.trace_id for s in spans if s.context} == {run_trace_id(RUN)}
    (root,) = otel.named("run ")
    assert root.name == f"run {GRAPH}"
    assert _id(root) == run_root_span_id(RUN)
    assert root.parent is None
    assert root.start_time == int(STARTED.timestamp()) * 10**9
    assert root.end_time == int((STARTED + timedelta(seconds=42)).timestamp()) * 10**9
    assert root.status.status_code is StatusCode.UNSET
    assert dict(root.attributes or {}) == {
        "convergio.tenant": TENANT,
        "convergio.run_id": RUN,
        "convergio.graph": GRAPH,
        "convergio.status": "Completed",
        "convergio.cost_eur": 0.0075,
        "gen_ai.usage.input_tokens": 300,
        "gen_ai.usage.output_tokens": 120,
        "convergio.tool_calls": 1,
    }


def test_node_spans_are_children_of_the_root_and_a_retried_node_has_two_attempts(otel: Otel) -> None:
    _run_the_graph(otel)
    nodes = otel.named("invoke_agent ")
    assert [(s.name, (s.attributes or {})["convergio.attempt"]) for s in nodes] == [
        ("invoke_agent planner", 1),
        ("invoke_agent writer", 1),
        ("invoke_agent writer", 2),
    ]
    assert {_parent(s) for s in nodes} == {run_root_span_id(RUN)}
    assert all(s.parent is not None and s.parent.is_remote for s in nodes)
    planner, failed, retried = nodes
    attributes = dict(planner.attributes or {})
    assert {
        k: attributes[k]
        for k in ("convergio.tenant", "convergio.run_id", "convergio.graph", "convergio.node")
    } == {
        "convergio.tenant": TENANT,
        "convergio.run_id": RUN,
        "convergio.graph": GRAPH,
        "convergio.node": "planner",
    }
    assert attributes["convergio.status"] == "completed"
    assert attributes["convergio.cost_eur"] == float(COST_EUR)
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["convergio.tool_calls"] == 1
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "ProviderError"
    assert (failed.attributes or {})["error.type"] == "ProviderError"
    assert (failed.attributes or {})["convergio.error_code"] == "unavailable"
    assert retried.status.status_code is StatusCode.UNSET
    assert (retried.attributes or {})["convergio.status"] == "completed"


def test_provider_and_tool_spans_sit_under_their_node_span(otel: Otel) -> None:
    _run_the_graph(otel)
    planner, failed, retried = otel.named("invoke_agent ")
    chats = otel.named("chat ")
    tools = otel.named("execute_tool ")
    by_parent: dict[int | None, list[str]] = {}
    for span in chats + tools:
        by_parent.setdefault(_parent(span), []).append(span.name)
    assert by_parent == {
        _id(planner): ["chat offline-1", "chat offline-1", "execute_tool word_count"],
        _id(failed): ["chat offline-1"],
        _id(retried): ["chat offline-1"],
    }
    first_turn = next(s for s in chats if _parent(s) == _id(planner))
    assert first_turn.kind is SpanKind.CLIENT
    attributes = dict(first_turn.attributes or {})
    assert attributes["gen_ai.system"] == "offline"
    assert attributes["gen_ai.request.model"] == "offline-1"
    assert attributes["gen_ai.response.model"] == "offline-1"
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["convergio.node"] == "planner"
    (tool,) = tools
    assert (
        dict(tool.attributes or {}).items()
        >= {"convergio.tool": "word_count", "convergio.tool.outcome": "ok"}.items()
    )
    outage = next(s for s in chats if _parent(s) == _id(failed))
    assert outage.status.status_code is StatusCode.ERROR
    assert (outage.attributes or {})["convergio.error_code"] == "unavailable"


def test_metrics_count_tokens_cost_failures_and_durations(otel: Otel) -> None:
    _run_the_graph(otel)
    tokens = {p.attributes["gen_ai.token.type"]: p.value for p in otel.metric_points("convergio.tokens")}
    chats = otel.named("chat ")
    assert tokens["input"] == sum((s.attributes or {}).get("gen_ai.usage.input_tokens", 0) for s in chats)
    assert tokens["output"] == sum((s.attributes or {}).get("gen_ai.usage.output_tokens", 0) for s in chats)
    (cost,) = otel.metric_points("convergio.cost_eur")
    assert cost.value == pytest.approx(2 * float(COST_EUR))  # two attempts finished; the failed one raised
    (failure,) = otel.metric_points("convergio.node.failures")
    assert failure.value == 1
    assert dict(failure.attributes) == {
        "convergio.tenant": TENANT,
        "convergio.graph": GRAPH,
        "convergio.status": "unavailable",
    }
    durations = otel.metric_points("convergio.node.duration")
    assert sum(p.count for p in durations) == 3


def test_a_failed_run_marks_its_root_as_an_error(otel: Otel) -> None:
    record_run_span(
        RUN,
        tenant=TENANT,
        graph=GRAPH,
        started_at="2026-11-03T09:00:00",
        finished_at="2026-11-03T09:00:05",
        status="Failed",
    )
    (root,) = otel.spans()
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "Failed"
    assert root.start_time == int(STARTED.timestamp()) * 10**9


def test_a_sub_graph_node_joins_the_parent_runs_tree(otel: Otel) -> None:
    with node_span(run_id=f"{RUN}/research", node="reader", tenant=TENANT, graph="research"):
        pass
    (span,) = otel.spans()
    assert span.context is not None and span.context.trace_id == run_trace_id(RUN)
    assert _parent(span) == run_root_span_id(RUN)
    assert (span.attributes or {})["convergio.node"] == "research/reader"
    assert (span.attributes or {})["convergio.run_id"] == RUN


def test_the_ids_are_stable_and_differ_between_runs() -> None:
    assert run_trace_id(RUN) == run_trace_id(RUN) == run_trace_id(f"{RUN}/sub")
    assert run_trace_id(RUN) != run_trace_id("run-other")
    assert run_root_span_id(RUN) != run_root_span_id("run-other")
    assert 0 < run_trace_id(RUN) < 2**128 and 0 < run_root_span_id(RUN) < 2**64


def test_a_live_run_span_has_the_same_ids_and_holds_its_nodes(otel: Otel) -> None:
    with run_span(RUN, tenant=TENANT, graph=GRAPH) as run:
        activity(_call("planner"), graph=GRAPH)
        run.set_outcome(status="Completed", usage={"prompt_tokens": 10, "completion_tokens": 5}, cost_eur=1.0)
    root = otel.named("run ")[0]
    (node,) = otel.named("invoke_agent ")
    assert _id(root) == run_root_span_id(RUN) and root.context is not None
    assert root.context.trace_id == run_trace_id(RUN)
    assert _parent(node) == _id(root)
    assert root.status.status_code is StatusCode.UNSET
    (cost,) = otel.metric_points("convergio.cost_eur")
    assert cost.value == float(COST_EUR)  # the run's own cost is an attribute; nodes are counted


def test_a_provider_span_with_no_current_span_hangs_off_the_run_root(otel: Otel) -> None:
    with provider_span(system="openai", model="gpt-4o-mini", run_id=RUN, node="planner") as span:
        span.set_response(model="gpt-4o-mini-2024", finish_reason="stop", input_tokens=3, output_tokens=4)
    (chat,) = otel.spans()
    assert _parent(chat) == run_root_span_id(RUN)


def test_a_failed_tool_call_says_error_and_nothing_else(otel: Otel) -> None:
    with tool_span(tool="calculator", run_id=RUN, node="planner") as span:
        span.fail("ToolError")
    (tool,) = otel.spans()
    assert tool.status.status_code is StatusCode.ERROR
    assert (
        dict(tool.attributes or {}).items()
        >= {"convergio.tool.outcome": "error", "error.type": "ToolError"}.items()
    )
