"""The offline provider: a deterministic model SIMULATOR, the embedded default.

It lets a graph run end to end on a laptop, in tests and in demos with no key and no
network, while behaving enough like a model for the platform around it to be exercised:
answers are derived from the prompt (so upstream outputs visibly flow downstream), tools
are called, output caps cut answers, and options simulate latency and outages.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._abort import abort_sleep
from ._tokens import count_message_tokens, count_tokens, tool_call_tokens, truncate_tokens
from ._types import (
    Completion,
    CompletionRequest,
    FinishReason,
    Message,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = ["OfflineProvider"]

_SNIPPET_TOKENS = 40
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NO_PROMPT = "(no prompt)"
_NO_PROMPT_TOKENS = count_tokens(_NO_PROMPT)


@dataclass(frozen=True, slots=True)
class _Options:
    latency_ms: float = 0
    fail_first_n: int = 0
    output_tokens: int = 48
    tool_rounds: int = 1
    tool_calls_per_round: int | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> _Options:
        latency = options.get("latency_ms", 0)
        if (
            isinstance(latency, bool)
            or not isinstance(latency, int | float)
            or not math.isfinite(latency)
            or not 0 <= latency <= 600_000
        ):
            raise _bad_option("latency_ms", "a number from 0 to 600000")
        per_round = options.get("tool_calls_per_round")
        return cls(
            latency_ms=latency,
            fail_first_n=_int_option(options, "fail_first_n", 0, 0, 100),
            output_tokens=_int_option(options, "output_tokens", 48, 1, 100_000),
            tool_rounds=_int_option(options, "tool_rounds", 1, 0, 100),
            tool_calls_per_round=None
            if per_round is None
            else _int_option(options, "tool_calls_per_round", 1, 1, 64),
        )


def _int_option(options: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad_option(name, f"an integer from {low} to {high}")
    return value


def _bad_option(name: str, expected: str) -> ProviderError:
    return ProviderError("bad_request", f"offline option {name} must be {expected}", retryable=False)


class OfflineProvider(Provider):
    """A SIMULATOR of a chat model: deterministic, no network, no randomness.

    The same request always gets the same completion. The answer is ``"<model>: "``
    followed by the tool results of the current turn (``"<tool> returned <result>; ..."``)
    and the last user message with its whitespace collapsed, repeated if needed to reach
    ``output_tokens`` tokens exactly. While fewer than ``tool_rounds`` assistant turns with
    tool calls are in the conversation and tools are offered, it calls tools instead of
    answering, with arguments generated from each tool's JSON Schema.

    Options (``request.options``; other keys are ignored, so a graph written for a real
    provider runs unchanged here):

    * ``latency_ms`` (number >= 0, default 0): sleep before answering;
    * ``fail_first_n`` (int >= 0, default 0): attempts ``<= fail_first_n`` raise a retryable
      ``ProviderError("unavailable")`` at once;
    * ``output_tokens`` (int >= 1, default 48): answer length in tokens;
    * ``tool_rounds`` (int >= 0, default 1): tool-calling turns before the final answer;
    * ``tool_calls_per_round`` (int >= 1, default one per offered tool): calls per turn,
      cycling over the offered tools.

    Usage: prompt tokens are ``count_message_tokens(request.messages)`` (tool schemas are
    free here); completion tokens are ``count_tokens`` of the answer, or the
    ``tool_call_tokens`` of the calls made. ``max_output_tokens`` cuts the answer there
    with ``finish_reason="length"``; a tool-calling turn that does not fit is cut to no
    call at all. A ``timeout_s`` shorter than the latency raises a retryable
    ``ProviderError("timeout")`` after ``timeout_s`` seconds.

    ``stream`` is the protocol's default: the whole answer as one delta, then the completion.
    """

    name: str = "offline"
    default_model: str = "offline-1"

    def answers_now(self, options: Mapping[str, Any]) -> bool:
        """Whether a call with these options answers without waiting (no simulated latency, or
        options it refuses at once): it may run on an event loop's thread (ADR 0065)."""
        latency = options.get("latency_ms", 0)  # a value ``parse`` refuses fails at once: True
        return not (type(latency) in (int, float) and math.isfinite(latency) and latency > 0)

    def complete(self, request: CompletionRequest) -> Completion:
        """Answer one request as described in the class docstring.

        Args:
            request: The request.

        Returns:
            A text answer (``stop`` or ``length``) or tool calls (``tool_calls``).

        Raises:
            ProviderError: ``bad_request`` for a bad option, ``unavailable`` for a simulated
                outage, ``timeout`` when the latency exceeds ``timeout_s``.
        """
        options = _Options.parse(request.options)
        if request.attempt <= options.fail_first_n:
            raise ProviderError(
                "unavailable",
                f"simulated outage: attempt {request.attempt} fails (fail_first_n={options.fail_first_n})",
                retryable=True,
            )
        _wait(options.latency_ms / 1000, request.timeout_s)
        model = request.model or self.default_model
        prompt_tokens = count_message_tokens(request.messages)
        rounds_done = sum(1 for m in request.messages if m.role == "assistant" and m.tool_calls)
        if request.tools and rounds_done < options.tool_rounds:
            calls = _tool_calls(request, options, rounds_done + 1)
            cost = sum(tool_call_tokens(call) for call in calls)
            cap = request.max_output_tokens
            if cap is not None and cost > cap:
                return Completion("", (), Usage(prompt_tokens, cap), "length", model)
            return Completion("", calls, Usage(prompt_tokens, cost), "tool_calls", model)
        wanted = options.output_tokens
        cap = request.max_output_tokens
        size = wanted if cap is None else min(wanted, cap)
        text = _compose(f"{model}: ", *_digest(request.messages), size)
        finish: FinishReason = "length" if cap is not None and cap < wanted else "stop"
        # ``_compose`` cuts at exactly ``size`` tokens: no need to count them again.
        return Completion(text, (), Usage(prompt_tokens, size), finish, model)


def _wait(seconds: float, timeout_s: float | None) -> None:
    # abort_sleep: a cancelled run's simulated latency ends at once, as a real call is aborted.
    if timeout_s is not None and seconds > timeout_s:
        abort_sleep(timeout_s)
        raise ProviderError("timeout", f"no answer within {timeout_s:.3f}s", retryable=True)
    if seconds > 0:
        abort_sleep(seconds)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _last_user(messages: tuple[Message, ...]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return index
    return None


def _digest(messages: tuple[Message, ...]) -> tuple[str, int]:
    """The answer's source (this turn's tool results, then the last user message) and its tokens."""
    start = _last_user(messages)
    turn = messages if start is None else messages[start:]
    parts = []
    if any(m.role == "tool" for m in turn):
        names = {call.id: call.name for message in turn for call in message.tool_calls}
        results = [
            f"{names.get(m.tool_call_id or '', 'tool')} returned {_collapse(m.content)}"
            for m in turn
            if m.role == "tool"
        ]
        parts.append("; ".join(results) + ".")
    if start is not None and (prompt := _collapse(messages[start].content)):
        parts.append(prompt)
    body = " ".join(parts)
    tokens = count_tokens(body)
    return (body, tokens) if tokens else (_NO_PROMPT, _NO_PROMPT_TOKENS)


def _compose(prefix: str, body: str, body_tokens: int, size: int) -> str:
    """``prefix`` then ``body`` (of ``body_tokens`` tokens, repeated as needed), cut to exactly
    ``size`` tokens.

    Tokens never span whitespace, ``prefix`` ends with a space and the repeats are joined by
    one: so the cut falls in the last repeat, and only that one is scanned.
    """
    missing = size - _tokens_of(prefix)
    if missing <= 0:
        return truncate_tokens(prefix, size)
    whole, rest = divmod(missing, body_tokens)
    parts = [body] * whole
    if rest:
        parts.append(truncate_tokens(body, rest))
    return prefix + " ".join(parts)


@functools.lru_cache(maxsize=64)
def _tokens_of(prefix: str) -> int:
    """The tokens of an answer's prefix (a model name: a handful per process)."""
    return count_tokens(prefix)


def _tool_calls(request: CompletionRequest, options: _Options, round_no: int) -> tuple[ToolCall, ...]:
    start = _last_user(request.messages)
    source = "" if start is None else _collapse(request.messages[start].content)
    per_round = options.tool_calls_per_round or len(request.tools)
    calls = []
    for n in range(per_round):
        tool = request.tools[n % len(request.tools)]
        calls.append(ToolCall(f"call_{round_no}_{n + 1}", tool.name, _arguments(tool, source)))
    return tuple(calls)


def _arguments(tool: ToolSpec, source: str) -> dict[str, Any]:
    value = _value(tool.parameters, "", source, depth=0)
    return value if isinstance(value, dict) else {}


def _value(schema: Mapping[str, Any], name: str, source: str, depth: int) -> Any:
    """A value for a schema: required properties only, derived from the prompt."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" and depth < 4:
        properties = schema.get("properties", {})
        return {
            key: _value(properties.get(key, {}), key, source, depth + 1)
            for key in schema.get("required", [])
            if isinstance(key, str)
        }
    if kind == "array" and depth < 4:
        item = _value(schema.get("items", {}), name, source, depth + 1)
        return [item] * int(schema.get("minItems", 0))
    if kind in ("integer", "number"):
        count = max(count_tokens(source), 1)
        if isinstance(schema.get("maximum"), int | float):
            count = min(count, schema["maximum"])
        if isinstance(schema.get("minimum"), int | float):
            count = max(count, schema["minimum"])
        return count
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if name == "expression":
        return _expression(source)
    snippet = truncate_tokens(source, _SNIPPET_TOKENS) or "offline"
    if isinstance(schema.get("maxLength"), int):
        snippet = snippet[: schema["maxLength"]]
    return snippet


def _expression(source: str) -> str:
    numbers = _NUMBER.findall(source)[:4]
    if len(numbers) >= 2:
        return " + ".join(numbers)
    if numbers:
        return f"{numbers[0]} * 2"
    return "1 + 1"
