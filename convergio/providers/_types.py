"""The provider contract: the messages, requests and answers every model provider speaks.

One shape for OpenAI, Azure OpenAI, Anthropic, OpenAI-compatible servers and the offline
simulator, so the agent runner never knows which one it talks to. The types are plain frozen dataclasses (not
pydantic): they live only inside one activity, never cross the wire as they are, and are
built on the hot path of the tool loop.

Error tree::

    Exception
    └── ProviderError(code, retryable)   a provider call that did not produce an answer
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "Completion",
    "CompletionRequest",
    "FinishReason",
    "Message",
    "Provider",
    "ProviderError",
    "ProviderErrorCode",
    "Role",
    "StreamEvent",
    "ToolCall",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls"]
ProviderErrorCode = Literal[
    "unavailable",
    "rate_limited",
    "auth",
    "bad_request",
    "timeout",
    "context_too_long",
    "content_filtered",
    "bad_response",
    "cancelled",
]

_ROLES = frozenset(get_args(Role))
_FINISH_REASONS = frozenset(get_args(FinishReason))
_ERROR_CODES = frozenset(get_args(ProviderErrorCode))
_RETRYABLE_CODES = frozenset({"unavailable", "rate_limited", "timeout"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for.

    Attributes:
        id: The provider's id for the call; the tool's answer refers to it.
        name: The tool (or, for a supervisor, the worker) to call.
        arguments: The decoded JSON arguments.
    """

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: The text (empty for an assistant turn that only calls tools).
        tool_calls: The calls an assistant turn made.
        tool_call_id: For a ``tool`` message, the call it answers.

    Raises:
        ValueError: an unknown role, tool calls outside an assistant turn, or a ``tool``
            message without ``tool_call_id``.
    """

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"role must be one of {sorted(_ROLES)}")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message carries tool calls")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool message, and only a tool message, has a tool_call_id")
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model.

    Attributes:
        name: The name the model calls it by.
        description: What the tool does, for the model.
        parameters: The JSON Schema of the arguments (an ``object`` schema).
    """

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent and tool calls made; adds up across calls.

    Attributes:
        prompt_tokens: Input tokens, as the provider counted them.
        completion_tokens: Output tokens, as the provider counted them.
        tool_calls: Tool calls executed (or, for a supervisor, delegated). Providers report
            0; the agent runner counts the calls it runs.
        estimated: (keyword-only) True when the token counts were computed locally (``count_tokens``)
            because the provider reported none, e.g. a stream without a usage chunk. A sum
            is estimated when any part of it is.

    Raises:
        ValueError: a negative count, or an ``estimated`` that is not a bool.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    estimated: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "completion_tokens", "tool_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0")
        if not isinstance(self.estimated, bool):
            raise ValueError("estimated must be a bool")

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: object) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        if not (other.prompt_tokens or other.completion_tokens or other.tool_calls or other.estimated):
            return self  # adding nothing (frozen: sharing is safe)
        # Sums of valid counts are valid: built without ``__post_init__``'s checks.
        total = object.__new__(Usage)
        _set_usage(total, self.prompt_tokens + other.prompt_tokens)
        _set_completion(total, self.completion_tokens + other.completion_tokens)
        _set_tools(total, self.tool_calls + other.tool_calls)
        _set_estimated(total, self.estimated or other.estimated)
        return total

    def to_dict(self) -> dict[str, int]:
        """The JSON form: the three counts plus ``total_tokens``.

        ``"estimated": True`` is added only when the counts are estimated, so the form of
        provider-counted usage is unchanged (and ``bool`` is an ``int``, so the type is too).
        """
        data = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "tool_calls": self.tool_calls,
        }
        if self.estimated:
            data["estimated"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Read the form ``to_dict`` writes; missing counts are 0, ``total_tokens`` is derived.

        Raises:
            ValueError: an unknown key, a bad count, a non-bool ``estimated``, or a
                ``total_tokens`` that does not add up.
        """
        known = {"prompt_tokens", "completion_tokens", "tool_calls", "estimated"}
        unknown = sorted(set(data) - known - {"total_tokens"})
        if unknown:
            raise ValueError(f"unknown usage field(s): {', '.join(unknown)}")
        usage = cls(**{key: data[key] for key in known if key in data})
        if "total_tokens" in data and data["total_tokens"] != usage.total_tokens:
            raise ValueError("total_tokens is not prompt_tokens + completion_tokens")
        return usage


_set_usage, _set_completion, _set_tools, _set_estimated = (  # the slots' own setters (frozen)
    vars(Usage)[name].__set__ for name in ("prompt_tokens", "completion_tokens", "tool_calls", "estimated")
)


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One call to a model.

    Attributes:
        model: The model (or Azure deployment); ``None`` means the provider's default.
        messages: The conversation so far.
        tools: The tools the model may call.
        max_output_tokens: The most output tokens the model may produce; ``None``: no cap of ours.
        options: Provider-specific options (from the agent spec), passed through as they are.
        attempt: The attempt number (1 = first), as counted by the orchestrator.
        timeout_s: Answer within this many seconds or raise ``ProviderError("timeout")``.

    Raises:
        ValueError: ``attempt`` < 1, ``max_output_tokens`` < 1 or ``timeout_s`` <= 0.
    """

    model: str | None
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_output_tokens: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.attempt < 1:
            raise ValueError("attempt must be >= 1")
        if self.max_output_tokens is not None and self.max_output_tokens < 1:
            raise ValueError("max_output_tokens must be >= 1")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer to one request.

    Attributes:
        text: The answer text (may be empty when the model only calls tools).
        tool_calls: The tool calls the model asked for.
        usage: Tokens spent on this call.
        finish_reason: ``stop`` (answered), ``length`` (cut at the output cap) or
            ``tool_calls`` (waiting for tool results).
        model: The model that answered, as the provider names it.

    Raises:
        ValueError: an unknown finish reason.
    """

    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: FinishReason
    model: str

    def __post_init__(self) -> None:
        if self.finish_reason not in _FINISH_REASONS:
            raise ValueError(f"finish_reason must be one of {sorted(_FINISH_REASONS)}")
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a streamed answer: a piece of text, or (last) the whole completion.

    A stream yields zero or more text deltas, then exactly one event with ``completion``
    set, which holds the full text, the tool calls and the usage.

    Attributes:
        delta: New answer text (empty on the final event).
        completion: The finished answer; set on the final event only.

    Raises:
        ValueError: both a delta and a completion, or neither.
    """

    delta: str = ""
    completion: Completion | None = None

    def __post_init__(self) -> None:
        if bool(self.delta) == (self.completion is not None):
            raise ValueError("a stream event carries either a text delta or the completion")


@runtime_checkable
class Provider(Protocol):
    """A model provider. Implementations are stateless and safe to share between threads.

    Attributes:
        name: The name agents use in ``provider:`` (e.g. ``offline``).
        default_model: The model used when a request names none.
    """

    name: str
    default_model: str

    def complete(self, request: CompletionRequest) -> Completion:
        """Answer one request.

        Raises:
            ProviderError: the provider gave no answer; ``retryable`` says whether trying
                the same request again can help.
        """
        ...

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        """Answer one request as it is produced: text deltas, then the completion.

        The default (for classes that subclass ``Provider``) answers with ``complete`` and
        yields its whole text as one delta, then the completion.

        Raises:
            ProviderError: as ``complete``, possibly after some deltas were yielded.
        """
        completion = self.complete(request)
        if completion.text:
            yield StreamEvent(delta=completion.text)
        yield StreamEvent(completion=completion)


class ProviderError(Exception):
    """A provider call that did not produce an answer.

    The message is for operators and clients: it never carries keys, headers or prompt text.
    ``str(error)`` is ``"<code>: <message>"``, because a Durable activity hands only the
    exception's type and text back to the orchestrator.

    Codes: ``auth`` (key refused), ``rate_limited``, ``context_too_long`` (the prompt does
    not fit the model), ``content_filtered`` (the provider's safety filter refused the prompt
    or the answer), ``timeout``, ``unavailable`` (5xx, overloaded, connection failed),
    ``bad_request`` (any other refusal of the request) and ``bad_response`` (the provider
    answered something we cannot use, e.g. tool arguments that are not JSON) and ``cancelled``
    (the run was cancelled: the call was not made, or was aborted in flight; never retried).

    Args:
        code: One of the codes above.
        message: What went wrong.
        retryable: Whether the same request may succeed later; by default true for
            ``unavailable``, ``rate_limited`` and ``timeout``.
        retry_after_s: How long the provider asked us to wait before trying again, if it said.

    Raises:
        ValueError: an unknown code or a negative ``retry_after_s``.
    """

    def __init__(
        self,
        code: ProviderErrorCode,
        message: str,
        *,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        if code not in _ERROR_CODES:
            raise ValueError(f"code must be one of {sorted(_ERROR_CODES)}")
        if retry_after_s is not None and not (math.isfinite(retry_after_s) and retry_after_s >= 0):
            raise ValueError("retry_after_s must be a finite number >= 0")
        super().__init__(f"{code}: {message}")
        self.code: ProviderErrorCode = code
        self.message = message
        self.retryable = code in _RETRYABLE_CODES if retryable is None else retryable
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:
        # Activities may cross process boundaries; keep code and retryable through pickling.
        return (_rebuild_provider_error, (self.code, self.message, self.retryable, self.retry_after_s))

    def __repr__(self) -> str:
        after = "" if self.retry_after_s is None else f", retry_after_s={self.retry_after_s}"
        return (
            f"ProviderError(code={self.code!r}, retryable={self.retryable}{after}, message={self.message!r})"
        )


def _rebuild_provider_error(
    code: ProviderErrorCode, message: str, retryable: bool, retry_after_s: float | None = None
) -> ProviderError:
    return ProviderError(code, message, retryable=retryable, retry_after_s=retry_after_s)
