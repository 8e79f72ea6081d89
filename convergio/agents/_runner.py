"""One agent call: render the prompt, call the provider, run the tool loop, enforce the limits.

This is the body of the ``run_agent`` activity. The orchestrator decides retries, timeouts
and budgets and passes what is left in ``AgentCall.limits``; this module enforces those
limits within the call, re-raises what a retry can fix (a retryable ``ProviderError``) and
turns everything else into an ``AgentOutcome``. With the offline provider the outcome is a
function of the call alone (apart from ``max_seconds``, which measures the clock).

A supervisor makes ONE provider call per activity: the orchestrator runs the workers it
delegates to as their own durable steps and calls it again with their results in
``rounds``, so a crash never repeats a worker that already finished.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import JsonValue

from convergio.graph import TemplateError, render_prompt
from convergio.providers import (
    Completion,
    CompletionRequest,
    Message,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
    count_message_tokens,
)
from convergio.telemetry import provider_span, tool_span
from convergio.tools import (
    BUILTIN_TOOLBOX,
    Tool,
    Toolbox,
    ToolContext,
    ToolError,
    UnknownTool,
    call_tool,
    model_names,
)

from ._bound import Allowance, next_bound, prompt_bound
from ._call import AgentCall, AgentOutcome, AgentStatus, RoundCall
from ._guards import Blocked, Guards, Stage
from ._resolve import Resolve, offline_only

__all__ = ["MAX_TURNS", "OUTPUT_CAP", "OnText", "run_agent"]

OnText = Callable[[str], None]
"""Receives each piece of answer text as a streaming provider produces it."""

_log = logging.getLogger("convergio.agents")
_TOOL_LOG_ENTRIES = 20
_TOOL_LOG_CHARS = 1000

MAX_TURNS = 16
"""Model turns an ordinary agent may take (tool rounds plus the answer) before it fails."""

RATE_LIMIT_RETRIES = 3
RATE_LIMIT_MAX_WAIT_S = 20.0
OUTPUT_CAP = 32_768
"""The largest ``max_output_tokens`` asked for, so a big budget never exceeds what models accept."""

_CLOCK_SLACK_S = 0.001

_TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"task": {"type": "string"}},
    "required": ["task"],
}
_GUIDANCE = (
    "You lead a team of workers, each offered to you as a tool. Delegate by calling workers "
    "with a clear task; call several at once when their tasks are independent. When you have "
    "what you need, answer without calling any worker."
)
_FINAL_GUIDANCE = "Your workers have reported and no more calls are possible: give your final answer now."
_NO_USAGE = Usage()  # frozen: a sum is a new one
_NO_GUARDS = Guards()  # checks nothing, so counts no calls: shared by the calls without guards
_ROUTINE: frozenset[AgentStatus] = frozenset({"completed", "delegated"})
"""Outcomes logged at DEBUG; the others (a budget, a tool limit, a failure) at INFO."""


def run_agent(
    call: AgentCall,
    *,
    resolve: Resolve = offline_only,
    tools: Toolbox = BUILTIN_TOOLBOX,
    on_text: OnText | None = None,
    allowance: Allowance | None = None,
) -> AgentOutcome:
    """Run one agent call to an outcome.

    Args:
        call: The agent, its data, what a supervisor has heard so far, and the limits.
        resolve: From the agent's ``provider`` name to a provider (the tenant's connections).
        tools: Where the agent's ``tools`` and ``guards`` are found (built-ins, plugins, servers).
        on_text: When given, answers are streamed and each text delta is passed here.
        allowance: What the money budgets (the tenant's month, a managed-key cap) let each
            provider call spend; every request's ``max_output_tokens`` stays within it.

    Returns:
        The outcome; permanent errors (bad template, unknown provider, non-retryable provider
        error, a model calling unknown workers) are ``failed`` outcomes, not exceptions.

    Raises:
        ProviderError: a retryable provider error; the orchestrator retries the attempt.
    """
    run = _Run(call, resolve, tools, on_text, allowance)
    try:
        outcome = run.execute()
    except ProviderError as exc:
        _log.warning(
            "agent %s/%s attempt %d: provider error %s (retryable) after %.0f ms",
            call.run_id,
            call.node_id,
            call.attempt,
            exc.code,
            run.elapsed_ms(),
        )
        raise
    # A call that ended as asked is logged at DEBUG: its outcome is in the run's history, its
    # usage in the ledger and its span, and a line per call cost 50 us of a cold pool thread
    # (the host's own Functions log already has one per execution on Azure). ADR 0043.
    _log.log(
        logging.DEBUG if outcome.status in _ROUTINE else logging.INFO,
        "agent %s/%s attempt %d: %s after %d model turn(s), %d tokens, %d tool calls, %.0f ms",
        call.run_id,
        call.node_id,
        call.attempt,
        outcome.status,
        run.turns,
        run.usage.total_tokens,
        run.usage.tool_calls,
        run.elapsed_ms(),
    )
    return outcome


class _Stop(Exception):
    """Ends the call early with an outcome (internal control flow, never escapes)."""

    def __init__(self, outcome: AgentOutcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


class _Run:
    """The state of one call: usage so far, the clock, the model that answered."""

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

    def execute(self) -> AgentOutcome:
        try:
            provider = self._provider()
            if self.agent.guards:
                self.guards = Guards(list(self._bind(self.agent.guards, provider).values()))
            prompt = self._prompt()
            _log.debug("agent %s/%s: prompt of %d chars", self.call.run_id, self.call.node_id, len(prompt))
            if self.agent.kind == "supervisor":
                return self._supervise(provider, prompt)
            outcome = self._tool_loop(provider, prompt)
        except _Stop as stop:
            return stop.outcome
        if outcome.output is not None:
            try:
                output = self._guarded(outcome.output, "output")
            except _Stop as stop:
                return stop.outcome
            if output != outcome.output:  # redacted (a copy costs more than the comparison)
                outcome = outcome.model_copy(update={"output": output})
        usage = self._usage().to_dict()  # with the output guards' calls
        if usage == outcome.usage and "estimated" not in usage:  # (validation made its True a 1)
            return outcome
        return outcome.model_copy(update={"usage": usage})

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

    def _stop(self, status: AgentStatus, error: str, output: str | None = None) -> _Stop:
        return _Stop(self._outcome(status, output=output, error=error))

    def _provider(self) -> Provider:
        if self.agent.kind == "graph":
            raise self._stop("failed", "a sub-graph node is run by its own orchestration, not by run_agent")
        try:
            provider = self.resolve(self.call.tenant, self.agent.provider)
        except (LookupError, ValueError) as exc:  # unknown connection, refused endpoint, missing key
            raise self._stop("failed", str(exc)) from None
        self.model = self.agent.model or provider.default_model
        self.provider_kind = provider.name
        return provider

    def _prompt(self) -> str:
        source = self.agent.prompt
        if source is None:
            if self.call.task is None:
                raise self._stop("failed", "the agent has no prompt and was given no task")
            return self.call.task
        context = {"input": self.call.input, "outputs": self.call.outputs, "event": self.call.event}
        try:
            return render_prompt(source, {**context, "task": self.call.task})
        except TemplateError as exc:
            raise self._stop("failed", str(exc)) from None

    def _opening(self, prompt: str, guidance: str = "") -> list[Message]:
        system = "\n\n".join(part for part in (self.agent.instructions, guidance) if part)
        head = [Message("system", self._guarded(system, "prompt"))] if system else []
        return [*head, Message("user", self._guarded(prompt, "prompt"))]

    def _usage(self) -> Usage:
        """What the call used: the model's tokens and tool calls, plus the guards' calls (billed)."""
        calls = self.guards.calls
        return self.usage + Usage(tool_calls=calls) if calls else self.usage

    def _guarded(self, text: str, stage: Stage) -> str:
        try:
            return self.guards.check(text, stage)
        except Blocked as exc:
            raise self._stop("failed", str(exc)) from None

    # -- ordinary agents ---------------------------------------------------------------

    def _tool_loop(self, provider: Provider, prompt: str) -> AgentOutcome:
        offered = self._bind(self.agent.tools, provider)
        specs = tuple(
            ToolSpec(name=name, description=tool.description, parameters=tool.parameters)
            for name, tool in offered.items()
        )
        messages = self._opening(prompt)
        for _ in range(MAX_TURNS):
            completion = self._complete(provider, messages, specs)
            if not completion.tool_calls:
                return self._outcome("completed", output=completion.text)
            calls = completion.tool_calls
            self._check_tool_limit(len(calls))
            messages.append(Message("assistant", completion.text, tool_calls=calls))
            messages.extend(Message("tool", self._run_tool(c, offered), tool_call_id=c.id) for c in calls)
            self.usage += Usage(tool_calls=len(calls))
        raise self._stop("failed", f"no final answer after {MAX_TURNS} model turns")

    def _bind(self, names: Sequence[str], provider: Provider) -> dict[str, Tool]:
        """The named tools bound to this call, keyed by the names the model is given."""
        if not names:
            return {}
        where = self.call
        context = ToolContext(
            tenant_id=where.tenant,
            run_id=where.run_id,
            node_id=where.node_id,
            complete=lambda prompt, system, max_tokens: self._ask(provider, prompt, system, max_tokens),
            timeout_s=None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0),
        )
        try:
            bound = self.toolbox.bind(names, context)
        except (UnknownTool, ToolError) as exc:
            raise self._stop("failed", str(exc)) from None
        return {model: bound[name] for model, name in model_names(bound).items()}

    def _ask(self, provider: Provider, prompt: str, system: str | None, max_tokens: int) -> str:
        """A tool's question to the agent's own model: same provider, same budget, no tools."""
        head = [Message("system", self._guarded(system, "prompt"))] if system else []
        messages = [*head, Message("user", self._guarded(prompt, "prompt"))]
        try:
            return self._complete(provider, messages, (), max_output_tokens=max_tokens).text
        except _Stop as stop:
            raise ToolError(stop.outcome.error or stop.outcome.status) from None
        except ProviderError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from None

    def _run_tool(self, call: ToolCall, offered: dict[str, Tool]) -> str:
        tool = offered.get(call.name)
        if tool is None:
            return f"error: tool {call.name!r} is not available to this agent"
        started = time.monotonic()
        where = self.call
        with tool_span(tool=tool.name, tenant=where.tenant, run_id=where.run_id, node=where.node_id) as span:
            try:
                result = self._guarded(call_tool(tool, call.arguments), "prompt")
            except ToolError as exc:
                result = f"error: {exc}"
                span.fail(type(exc).__name__)
        if len(self.tool_log) < _TOOL_LOG_ENTRIES:  # bounded: it rides in the run's history
            arguments = json.dumps(call.arguments, ensure_ascii=False, default=str)
            self.tool_log.append(
                {
                    "name": call.name,
                    "arguments": arguments[:_TOOL_LOG_CHARS],
                    "result": result[:_TOOL_LOG_CHARS],
                }
            )
        _log.debug(
            "agent %s/%s: tool %s call %s returned %d chars in %.1f ms",
            self.call.run_id,
            self.call.node_id,
            call.name,
            call.id,
            len(result),
            (time.monotonic() - started) * 1000,
        )
        return result

    def _check_tool_limit(self, asked: int) -> None:
        limit = self.limits.max_tool_calls
        if limit is not None and self.usage.tool_calls + asked > limit:
            left = limit - self.usage.tool_calls
            raise self._stop(
                "tool_limit", f"the model asked for {asked} tool call(s); {left} of {limit} left"
            )

    # -- supervisors -------------------------------------------------------------------

    def _supervise(self, provider: Provider, prompt: str) -> AgentOutcome:
        call = self.call
        if self.agent.tools:
            raise self._stop(
                "failed", "a supervisor delegates to workers and runs no tools: give them to a worker"
            )
        messages = self._opening(prompt, _FINAL_GUIDANCE if call.final else _GUIDANCE)
        for past in call.rounds:
            if past:
                asked = tuple(ToolCall(c.id, c.worker, {"task": c.task}) for c in past)
                messages.append(Message("assistant", "", tool_calls=asked))
                messages.extend(
                    Message("tool", self._guarded(_round_result(c), "prompt"), tool_call_id=c.id)
                    for c in past
                )
        workers = () if call.final else tuple(_worker_tool(w.name, w.description) for w in call.workers)
        completion = self._complete(provider, messages, workers)
        if call.final or not completion.tool_calls:
            if not completion.text and completion.tool_calls:
                raise self._stop(
                    "failed", "the supervisor called workers on its final turn instead of answering"
                )
            return self._outcome("completed", output=completion.text)
        calls = self._delegations(completion.tool_calls)
        self._check_tool_limit(len(calls))
        self.usage += Usage(tool_calls=len(calls))
        return self._outcome("delegated", output=completion.text or None, calls=calls)

    def _delegations(self, asked: Sequence[ToolCall]) -> list[dict[str, str]]:
        known = [worker.name for worker in self.call.workers]
        calls: list[dict[str, str]] = []
        for tool_call in asked:
            if tool_call.name not in known:
                names = ", ".join(known) or "none"
                raise self._stop(
                    "failed", f"the supervisor called unknown worker {tool_call.name!r} (workers: {names})"
                )
            task = tool_call.arguments.get("task")
            if not isinstance(task, str) or not task.strip():
                raise self._stop("failed", f"the supervisor's call to {tool_call.name!r} has no task")
            if any(seen["id"] == tool_call.id for seen in calls):
                raise self._stop("failed", f"the provider returned call id {tool_call.id!r} twice")
            calls.append({"id": tool_call.id, "worker": tool_call.name, "task": task})
        return calls

    # -- the provider call, under the limits -------------------------------------------

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

    def _time_spent(self) -> _Stop:
        return self._stop("budget_exceeded", f"time budget of {self.limits.max_seconds:g}s spent")


def _worker_tool(name: str, description: str) -> ToolSpec:
    return ToolSpec(name=name, description=description or f"the worker {name}", parameters=_TASK_SCHEMA)


def _round_result(call: RoundCall) -> str:
    if call.output is not None:
        return call.output
    return f"error: {call.error or 'the worker returned nothing'}"
