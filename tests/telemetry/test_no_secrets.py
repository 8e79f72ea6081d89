"""No secrets and no prompt text in spans: not in attributes, not in events, not in error statuses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from convergio.agents import AgentCall, run_agent
from convergio.graph import AgentSpec
from convergio.providers import Completion, CompletionRequest, ProviderError, StreamEvent
from convergio.telemetry import agent_call_span, node_span
from tests.telemetry._activity import activity
from tests.telemetry.conftest import Otel

OPENAI_KEY = "sk-proj-Q7mZ2xKp9LbW4vTn8RcY1sHd"
AZURE_KEY = "Zx81QmPv7KdT3wLs9BnY2cRf6HjA0gEu"
SECRET_PROSE = "the pupils in class 4B"
PROMPT = f"Summarise notes about {SECRET_PROSE}. Use api_key={AZURE_KEY} and {OPENAI_KEY} to fetch more."
FORBIDDEN = (OPENAI_KEY, AZURE_KEY, OPENAI_KEY[3:], SECRET_PROSE, "Summarise notes")


def _call(**agent: Any) -> AgentCall:
    spec = AgentSpec(id="summariser", prompt=PROMPT, instructions="Be brief.", **agent)
    return AgentCall(run_id="run-secret", tenant="school", node_id="summariser", agent=spec)


def _values(spans: list[ReadableSpan]) -> Iterator[str]:
    """Every attribute, event attribute, event name, status text and span name, as text."""
    for span in spans:
        yield span.name
        yield span.status.description or ""
        for value in (span.attributes or {}).values():
            yield str(value)
        for event in span.events:
            yield event.name
            for value in (event.attributes or {}).values():
                yield str(value)


def _leaks(spans: list[ReadableSpan], forbidden: tuple[str, ...]) -> list[str]:
    return [value for value in _values(spans) for bad in forbidden if bad in value]


def test_with_capture_off_no_prompt_text_or_key_reaches_any_span(otel: Otel) -> None:
    outcome = activity(_call(tools=["word_count"]), graph="notes")
    assert outcome.status == "completed"
    assert OPENAI_KEY in (outcome.output or "") or SECRET_PROSE in (
        outcome.output or ""
    )  # the data was there
    spans = otel.spans()
    assert len(spans) >= 4
    assert _leaks(spans, FORBIDDEN) == []
    assert all(not span.events for span in spans)


def test_with_capture_on_the_prompt_is_in_events_but_redacted(otel_capturing: Otel) -> None:
    activity(_call(), graph="notes")
    (chat,) = otel_capturing.named("chat ")
    events = {event.name: dict(event.attributes or {}) for event in chat.events}
    assert set(events) == {"gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"}
    user = str(events["gen_ai.user.message"]["content"])
    assert SECRET_PROSE in user  # the opt-in does what it says
    assert "sk-**********" in user and "api_key=**********" in user
    assert _leaks(otel_capturing.spans(), (OPENAI_KEY, AZURE_KEY, OPENAI_KEY[3:])) == []


@dataclass
class _Refusing:
    """A provider whose errors quote the key, as a careless SDK might."""

    name: str = "openai"
    default_model: str = "gpt-4o-mini"

    def complete(self, request: CompletionRequest) -> Completion:
        raise ProviderError("auth", f"invalid key {OPENAI_KEY} for {SECRET_PROSE}", retryable=False)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError


def test_error_messages_never_reach_spans_only_types_and_codes(otel_capturing: Otel) -> None:
    refusing = _Refusing()
    outcome = activity(_call(provider="school-gpt"), graph="notes", resolve=lambda tenant, name: refusing)
    assert outcome.status == "failed"
    (chat,) = otel_capturing.named("chat ")
    assert (chat.attributes or {})["convergio.error_code"] == "auth"
    assert chat.status.description == "ProviderError"
    (node,) = otel_capturing.named("invoke_agent ")
    assert node.status.description == "failed"
    assert not [e for s in otel_capturing.spans() for e in s.events if e.name == "exception"]
    assert _leaks(otel_capturing.spans(), (OPENAI_KEY, OPENAI_KEY[3:], "invalid key")) == []


def test_an_exception_escaping_a_node_span_leaves_only_its_type(otel: Otel) -> None:
    try:
        with node_span(run_id="run-secret", node="n"):
            raise RuntimeError(f"boom {OPENAI_KEY}")
    except RuntimeError:
        pass
    (span,) = otel.spans()
    assert span.status.description == "RuntimeError"
    assert not span.events
    assert _leaks([span], (OPENAI_KEY, "boom")) == []


def test_agent_call_span_without_telemetry_costs_nothing_and_runs_the_same() -> None:
    with agent_call_span(_call(), graph="notes") as span:
        outcome = run_agent(_call())
        span.set_outcome(status=outcome.status, usage=outcome.usage, cost_eur=1)
    assert not span.recording and span.trace_id == 0
    assert outcome.status == "completed"
