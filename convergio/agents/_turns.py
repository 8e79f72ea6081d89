"""One model turn of an agent call, under the call's limits (the body of ``run_agent``'s requests).

Every request carries a ``max_output_tokens`` the token and money budgets can pay (ADR 0016),
and the time left; a short rate limit is waited out here, in the activity; the request is one
telemetry span; what it used is added to the call's usage, and a cut answer or a spent budget
ends the call with ``budget_exceeded``. ``CallState`` is what a call has spent so far; the
runner (``_runner._Run``) builds the prompt, the tool loop and the supervisor's delegation on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from pydantic import JsonValue

from convergio.providers import (
    Completion,
    CompletionRequest,
    Message,
    Provider,
    ProviderError,
    ToolSpec,
    Usage,
    count_message_tokens,
)
from convergio.telemetry import provider_span
from convergio.tools import Toolbox

from ._bound import Allowance, next_bound, prompt_bound
from ._call import AgentCall, AgentOutcome, AgentStatus
from ._guards import Guards
from ._resolve import Resolve

__all__ = ["OUTPUT_CAP", "CallState", "OnText", "Stop"]

OnText = Callable[[str], None]
"""Receives each piece of answer text as a streaming provider produces it."""

_log = logging.getLogger("convergio.agents")

RATE_LIMIT_RETRIES = 3
RATE_LIMIT_MAX_WAIT_S = 20.0
OUTPUT_CAP = 32_768
"""The largest ``max_output_tokens`` asked for, so a big budget never exceeds what models accept."""

_CLOCK_SLACK_S = 0.001
_NO_USAGE = Usage()  # frozen: a sum is a new one
_NO_GUARDS = Guards()  # checks nothing, so counts no calls: shared by the calls without guards


class Stop(Exception):
    """Ends the call early with an outcome (internal control flow, never escapes ``run_agent``)."""

    def __init__(self, outcome: AgentOutcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


class CallState:
    """The state of one call: usage so far, the clock, the model that answered; and its
    requests to the model under the limits."""

    def __init__(
        self,
        call: AgentCall,
        resolve: Resolve,
        toolbox: Toolbox,
        on_text: OnText | None,
        allowance: Allowance | None = None,
    ) -> None:
        self.call = call
        self.allowance = allowance
        self.resolve = resolve
        self.toolbox = toolbox
        # Deltas would reach listeners before the output guards saw the whole answer.
        self.on_text = None if call.agent.guards else on_text
        self.guards = _NO_GUARDS
        self.provider_kind = call.agent.provider
        self.agent = call.agent
        self.limits = call.limits
        self.started = time.monotonic()
        seconds = call.limits.max_seconds
        self.deadline = None if seconds is None else self.started + seconds
        self.usage = _NO_USAGE
        self.tool_log: list[dict[str, JsonValue]] = []  # what the run view shows of the tool calls
        self.model = call.agent.model or ""
        self.turns = 0

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def _outcome(
        self,
        status: AgentStatus,
        *,
        output: str | None = None,
        error: str | None = None,
        calls: Sequence[dict[str, str]] = (),
    ) -> AgentOutcome:
        return AgentOutcome(
            status=status,
            output=output,
            error=error,
            usage=self._usage().to_dict(),
            calls=list(calls),
            tools=self.tool_log,
            provider=self.provider_kind,
            model=self.model,
        )

    def _stop(self, status: AgentStatus, error: str, output: str | None = None) -> Stop:
        return Stop(self._outcome(status, output=output, error=error))

    def _usage(self) -> Usage:
        """What the call used: the model's tokens and tool calls, plus the guards' calls (billed)."""
        calls = self.guards.calls
        return self.usage + Usage(tool_calls=calls) if calls else self.usage

    def _call_with_rate_limit(self, provider: Provider, request: CompletionRequest) -> Completion:
        """Wait out short rate limits here, in the activity: the orchestrator never sees them.

        A wait the provider asks for (``retry-after``) is honoured when it fits the time left
        and ``RATE_LIMIT_MAX_WAIT_S``; otherwise the error goes up and the node's retry policy
        takes over. Sleeping in an activity is safe: only orchestrators must be deterministic.
        """
        for wait_index in range(RATE_LIMIT_RETRIES + 1):
            try:
                return self._traced_complete(provider, request)
            except ProviderError as exc:
                wait = exc.retry_after_s if exc.retry_after_s is not None else 2.0**wait_index
                left = self._seconds_left()
                fits = wait <= RATE_LIMIT_MAX_WAIT_S and (left is None or wait < left)
                if exc.code != "rate_limited" or wait_index == RATE_LIMIT_RETRIES or not fits:
                    raise
                _log.info(
                    "agent %s/%s: rate limited, waiting %.1f s", self.call.run_id, self.call.node_id, wait
                )
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _traced_complete(self, provider: Provider, request: CompletionRequest) -> Completion:
        """One provider call inside a span: model, tokens, finish reason, or the error's code."""
        where = self.call
        with provider_span(
            system=provider.name,
            model=request.model or self.model,
            tenant=where.tenant,
            run_id=where.run_id,
            node=where.node_id,
            attempt=where.attempt,
            max_output_tokens=request.max_output_tokens,
        ) as span:
            span.capture_prompt(request.messages)
            completion = self._streamed(provider, request) if self.on_text else provider.complete(request)
            span.set_response(
                model=completion.model,
                finish_reason=completion.finish_reason,
                input_tokens=completion.usage.prompt_tokens,
                output_tokens=completion.usage.completion_tokens,
            )
            span.capture_completion(completion.text)
        return completion

    def _streamed(self, provider: Provider, request: CompletionRequest) -> Completion:
        """The answer, passing each text delta on as it arrives (a stream ends with the completion)."""
        assert self.on_text is not None
        for event in provider.stream(request):
            if event.completion is not None:
                return event.completion
            self.on_text(event.delta)
        raise ProviderError("bad_response", "the stream ended without a completion")

    def _complete(
        self,
        provider: Provider,
        messages: list[Message],
        tools: tuple[ToolSpec, ...],
        *,
        max_output_tokens: int | None = None,
    ) -> Completion:
        max_tokens = self.limits.max_tokens
        cap: int | None = None
        budget_bound = False  # whether the cap we pass is what the budget leaves
        if max_tokens is not None:  # (counted only then: a token budget is what needs the count)
            prompt_tokens = count_message_tokens(messages)
            left = max_tokens - self.usage.total_tokens
            if prompt_tokens >= left:
                raise self._stop(
                    "budget_exceeded",
                    f"token budget: the next prompt needs {prompt_tokens} tokens, "
                    f"{max(left, 0)} of {max_tokens} left",
                )
            cap = min(left - prompt_tokens, OUTPUT_CAP)
            budget_bound = cap == left - prompt_tokens
        if max_output_tokens is not None and (cap is None or max_output_tokens < cap):
            cap, budget_bound = max_output_tokens, False
        # Every request carries a bound the token and money budgets can pay (ADR 0016).
        asked = self.agent.model or provider.default_model
        bound = next_bound(
            provider.name, asked, cap, prompt_bound(messages, tools), self.allowance, self.usage
        )
        if bound.max_tokens < 1:
            raise self._stop("budget_exceeded", bound.reason or "no output tokens left in the budget")
        budget_bound = (budget_bound and bound.max_tokens == cap) or bound.by_money
        cap = bound.max_tokens
        request = CompletionRequest(
            model=bound.model or self.agent.model,
            messages=tuple(messages),
            tools=tools,
            max_output_tokens=cap,
            options=self.agent.options,
            attempt=self.call.attempt,
            timeout_s=self._seconds_left(),
        )
        started = time.monotonic()
        try:
            completion = self._call_with_rate_limit(provider, request)
        except ProviderError as exc:
            if exc.code == "timeout" and self._out_of_time():
                raise self._time_spent() from None
            if exc.retryable:
                raise
            raise self._stop("failed", f"{exc.code}: {exc.message}") from None
        self.turns += 1
        self.model = completion.model
        spent = completion.usage
        # The tokens only: the runner counts tool calls itself (providers report none).
        self.usage += (
            Usage(spent.prompt_tokens, spent.completion_tokens, estimated=spent.estimated)
            if spent.tool_calls
            else spent
        )
        _log.debug(
            "agent %s/%s turn %d: %d prompt + %d completion tokens, %d tool call(s), %s, %.0f ms",
            self.call.run_id,
            self.call.node_id,
            self.turns,
            spent.prompt_tokens,
            spent.completion_tokens,
            len(completion.tool_calls),
            completion.finish_reason,
            (time.monotonic() - started) * 1000,
        )
        # Cut by the cap the budget set, or a provider that counted more than our estimate.
        cut = budget_bound and completion.finish_reason == "length"
        if cut and bound.by_money:
            raise self._stop(
                "budget_exceeded",
                f"spending budget: the answer was cut at the {cap} output tokens it could pay",
                output=completion.text or None,
            )
        if max_tokens is not None and (cut or self.usage.total_tokens > max_tokens):
            raise self._stop(
                "budget_exceeded",
                f"token budget of {max_tokens} reached ({self.usage.total_tokens} used)",
                output=completion.text or None,
            )
        return completion

    def _seconds_left(self) -> float | None:
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._time_spent()
        return left

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline - _CLOCK_SLACK_S

    def _time_spent(self) -> Stop:
        return self._stop("budget_exceeded", f"time budget of {self.limits.max_seconds:g}s spent")
