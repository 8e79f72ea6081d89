"""The handle every span context manager yields: set outcomes, usage, errors, captured text.

Without a span (telemetry off) every method returns at once and the handle stays unchanged,
so one shared instance serves every caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from convergio.telemetry._metrics import OK_STATUSES, record_cost, record_tokens

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = ["NOOP", "AttributeValue", "TelemetrySpan", "error_type"]

AttributeValue = str | bool | int | float
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FAILED_RUN = frozenset({"failed", "terminated", "canceled", "cancelled"})
_USAGE_KEYS = {
    "prompt_tokens": "gen_ai.usage.input_tokens",
    "completion_tokens": "gen_ai.usage.output_tokens",
    "tool_calls": "convergio.tool_calls",
}


class _Text(Protocol):
    """A message as the runner has it: a role and its text."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


class TelemetrySpan:
    """A handle on one span; every method does nothing while telemetry is off.

    Args:
        span: The OpenTelemetry span, or ``None`` for the do-nothing handle.
        capture: Whether prompts and completions may go into events (redacted).
        tenant: The tenant, for the metrics recorded through this handle.
        model: The model, for the metrics recorded through this handle.
        kind: ``run``, ``node`` or empty; says how ``set_outcome`` reads a status and whether
            it counts the cost (a node does; a run's cost is the sum of its nodes').
    """

    __slots__ = ("_capture", "_failed", "_kind", "_model", "_span", "_status", "_tenant")

    def __init__(
        self,
        span: Span | None,
        *,
        capture: bool = False,
        tenant: str = "",
        model: str = "",
        kind: str = "",
    ) -> None:
        self._span = span
        self._kind = kind
        self._capture = capture
        self._tenant = tenant
        self._model = model
        self._status = ""
        self._failed = False

    @property
    def recording(self) -> bool:
        """Whether this span records anything (``False`` while telemetry is off)."""
        return self._span is not None and self._span.is_recording()

    @property
    def trace_id(self) -> int:
        """The span's trace id (0 while telemetry is off), for correlating logs."""
        return 0 if self._span is None else self._span.get_span_context().trace_id

    def set_attribute(self, key: str, value: AttributeValue | Decimal | None) -> None:
        """Set one attribute; ``None`` is skipped and a ``Decimal`` becomes a float.

        Args:
            key: The attribute's name.
            value: Ids, names, counts or statuses only, never free text from users or models.
        """
        if self._span is None or value is None:
            return
        self._span.set_attribute(key, float(value) if isinstance(value, Decimal) else value)

    def set_usage(self, usage: Mapping[str, Any] | None) -> None:
        """Set token and tool-call counts from a usage dict (``prompt_tokens``, ``completion_tokens``...).

        Args:
            usage: A ``Usage.to_dict()``; unknown keys are ignored.
        """
        if self._span is None or not usage:
            return
        for key, attribute in _USAGE_KEYS.items():
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                self._span.set_attribute(attribute, value)

    def set_response(self, *, model: str, finish_reason: str, input_tokens: int, output_tokens: int) -> None:
        """Describe a provider's answer and count its tokens (span attributes and the tokens metric).

        Args:
            model: The model that answered.
            finish_reason: ``stop``, ``length`` or ``tool_calls``.
            input_tokens: Prompt tokens the provider counted.
            output_tokens: Completion tokens the provider counted.
        """
        if self._span is None:
            return
        self._span.set_attributes(
            {
                "gen_ai.response.model": model,
                "gen_ai.response.finish_reasons": (finish_reason,),
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
            }
        )
        record_tokens(
            tenant=self._tenant, model=model, input_tokens=input_tokens, output_tokens=output_tokens
        )

    def set_outcome(
        self,
        *,
        status: str,
        usage: Mapping[str, Any] | None = None,
        cost_eur: float | Decimal | None = None,
        model: str = "",
        provider: str = "",
    ) -> None:
        """Describe how a node attempt (or a run) ended; a node's status also goes to the metrics.

        For a node, a status other than ``completed`` or ``delegated`` marks the span as an
        error (the status is the description) and the cost is added to the cost metric. For a
        run, ``Failed`` and ``Terminated`` mark it as an error.

        Args:
            status: The ``AgentOutcome`` status, or the run's status.
            usage: The outcome's usage dict.
            cost_eur: What the attempt cost, in EUR.
            model: The model that answered.
            provider: The provider kind that answered.
        """
        if self._span is None:
            return
        self._status = status
        self._span.set_attribute("convergio.status", status)
        if model:
            self._span.set_attribute("gen_ai.response.model", model)
        if provider:
            self._span.set_attribute("gen_ai.system", provider)
        self.set_usage(usage)
        if cost_eur is not None:
            self._span.set_attribute("convergio.cost_eur", float(cost_eur))
            if self._kind == "node":
                record_cost(tenant=self._tenant, model=model or self._model, cost_eur=cost_eur)
        failed = status.lower() in _FAILED_RUN if self._kind == "run" else status not in OK_STATUSES
        if failed:
            self.fail(status)

    def fail(self, error_type: str) -> None:
        """Mark the span as failed with ``error_type`` (a type or code, never a message).

        Args:
            error_type: For example ``ToolError``, ``rate_limited`` or ``budget_exceeded``.
        """
        if self._span is None:
            return
        self._failed = True
        if not self._status:
            self._status = error_type
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR, error_type))

    def capture_prompt(self, messages: Iterable[_Text]) -> None:
        """With prompt capture on, add each message as a ``gen_ai.<role>.message`` event (redacted).

        Args:
            messages: The messages sent to the model.
        """
        if self._span is None or not self._capture:
            return
        from convergio.secrets import redact

        for message in messages:
            self._span.add_event(f"gen_ai.{message.role}.message", {"content": redact(message.content)})

    def capture_completion(self, text: str) -> None:
        """With prompt capture on, add the model's answer as a ``gen_ai.choice`` event (redacted).

        Args:
            text: The completion's text.
        """
        if self._span is None or not self._capture:
            return
        from convergio.secrets import redact

        self._span.add_event("gen_ai.choice", {"content": redact(text)})


NOOP = TelemetrySpan(None)
"""The do-nothing handle yielded while telemetry is off."""


def error_type(exc: BaseException) -> str:
    """An exception's code if it has a safe one (``rate_limited``), else its type's name."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and _CODE.match(code):
        return code
    return type(exc).__name__
