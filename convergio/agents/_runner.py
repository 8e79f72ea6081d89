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
from collections.abc import Sequence
from typing import Any

from convergio.graph import TemplateError, render_prompt
from convergio.providers import Message, Provider, ProviderError, ToolCall, ToolSpec, Usage
from convergio.telemetry import tool_span
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

from ._bound import Allowance
from ._call import AgentCall, AgentOutcome, AgentStatus, RoundCall
from ._guards import Blocked, Guards, Stage
from ._resolve import Resolve, offline_only
from ._turns import OUTPUT_CAP, CallState, OnText, Stop

__all__ = ["MAX_TURNS", "OUTPUT_CAP", "OnText", "run_agent"]

_log = logging.getLogger("convergio.agents")
_TOOL_LOG_ENTRIES = 20
_TOOL_LOG_CHARS = 1000

MAX_TURNS = 16
"""Model turns an ordinary agent may take (tool rounds plus the answer) before it fails."""

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


class _Run(CallState):
    """One call: its prompt, its tools and guards, its tool loop or its supervisor's turn."""

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
        except Stop as stop:
            return stop.outcome
        if outcome.output is not None:
            try:
                output = self._guarded(outcome.output, "output")
            except Stop as stop:
                return stop.outcome
            if output != outcome.output:  # redacted (a copy costs more than the comparison)
                outcome = outcome.model_copy(update={"output": output})
        usage = self._usage().to_dict()  # with the output guards' calls
        if usage == outcome.usage and "estimated" not in usage:  # (validation made its True a 1)
            return outcome
        return outcome.model_copy(update={"usage": usage})

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
        except Stop as stop:
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


def _worker_tool(name: str, description: str) -> ToolSpec:
    return ToolSpec(name=name, description=description or f"the worker {name}", parameters=_TASK_SCHEMA)


def _round_result(call: RoundCall) -> str:
    if call.output is not None:
        return call.output
    return f"error: {call.error or 'the worker returned nothing'}"
