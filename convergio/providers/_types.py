"""The provider contract: the messages, requests and answers every model provider speaks.

One shape for OpenAI, Azure OpenAI, Anthropic and the offline simulator, so the agent
runner never knows which one it talks to. The types are plain frozen dataclasses (not
pydantic): they live only inside one activity, never cross the wire as they are, and are
built on the hot path of the tool loop.

Error tree::

    Exception
    └── ProviderError(code, retryable)   a provider call that did not produce an answer
"""

from __future__ import annotations

from collections.abc import Mapping
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
    "ToolCall",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls"]
ProviderErrorCode = Literal["unavailable", "rate_limited", "auth", "bad_request", "timeout"]

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

    Raises:
        ValueError: a negative count.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "completion_tokens", "tool_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0")

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: object) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            tool_calls=self.tool_calls + other.tool_calls,
        )

    def to_dict(self) -> dict[str, int]:
        """The JSON form: the three counts plus ``total_tokens``."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "tool_calls": self.tool_calls,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Read the form ``to_dict`` writes; missing counts are 0, ``total_tokens`` is derived.

        Raises:
            ValueError: an unknown key, a bad count, or a ``total_tokens`` that does not add up.
        """
        known = {"prompt_tokens", "completion_tokens", "tool_calls"}
        unknown = sorted(set(data) - known - {"total_tokens"})
        if unknown:
            raise ValueError(f"unknown usage field(s): {', '.join(unknown)}")
        usage = cls(**{key: data[key] for key in known if key in data})
        if "total_tokens" in data and data["total_tokens"] != usage.total_tokens:
            raise ValueError("total_tokens is not prompt_tokens + completion_tokens")
        return usage


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


class ProviderError(Exception):
    """A provider call that did not produce an answer.

    The message is for operators and clients: it never carries keys, headers or prompt text.
    ``str(error)`` is ``"<code>: <message>"``, because a Durable activity hands only the
    exception's type and text back to the orchestrator.

    Args:
        code: ``unavailable``, ``rate_limited``, ``auth``, ``bad_request`` or ``timeout``.
        message: What went wrong.
        retryable: Whether the same request may succeed later; by default true for
            ``unavailable``, ``rate_limited`` and ``timeout``.

    Raises:
        ValueError: an unknown code.
    """

    def __init__(self, code: ProviderErrorCode, message: str, *, retryable: bool | None = None) -> None:
        if code not in _ERROR_CODES:
            raise ValueError(f"code must be one of {sorted(_ERROR_CODES)}")
        super().__init__(f"{code}: {message}")
        self.code: ProviderErrorCode = code
        self.message = message
        self.retryable = code in _RETRYABLE_CODES if retryable is None else retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Activities may cross process boundaries; keep code and retryable through pickling.
        return (_rebuild_provider_error, (self.code, self.message, self.retryable))

    def __repr__(self) -> str:
        return f"ProviderError(code={self.code!r}, retryable={self.retryable}, message={self.message!r})"


def _rebuild_provider_error(code: ProviderErrorCode, message: str, retryable: bool) -> ProviderError:
    return ProviderError(code, message, retryable=retryable)
