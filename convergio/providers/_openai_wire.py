"""OpenAI chat-completions wire details, shared by OpenAI, Azure OpenAI and compatible servers.

Our messages and tools become ``/chat/completions`` JSON; answers (whole or streamed as
``chat.completion.chunk`` events) become a ``Completion``; the ``openai`` SDK's exceptions
become ``ProviderError``s. ``ChatCompletionsProvider`` runs the calls; subclasses only say
how to build the SDK client (``openai.OpenAI`` or ``openai.AzureOpenAI``) for one call.

Answers are read as the JSON objects the server sent (``to_dict`` of the SDK's lenient
models), so servers that leave fields out (many OpenAI-compatible ones do) still parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ._abort import install
from ._http import (
    CONTEXT_TOO_LONG,
    answered_model,
    bad_response,
    estimate_usage,
    parse_arguments,
    status_error,
    stream_error,
    token_count,
)
from ._sdk import SDKChatProvider, sdk_error
from ._types import (
    Completion,
    CompletionRequest,
    FinishReason,
    Message,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    import openai

__all__ = [
    "ChatCompletionsProvider",
    "messages_to_wire",
    "parse_completion",
    "tools_to_wire",
]

_PASSTHROUGH = (
    "temperature",
    "top_p",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "parallel_tool_calls",
)


def messages_to_wire(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Our conversation as chat-completions ``messages``."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            wire.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content})
        elif message.tool_calls:
            wire.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": json.dumps(call.arguments, ensure_ascii=False),
                            },
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            wire.append({"role": message.role, "content": message.content})
    return wire


def tools_to_wire(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    """Our tools as chat-completions ``function`` tools."""
    return [
        {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        for tool in tools
    ]


def _tool_call(provider: str, raw: object, position: int) -> ToolCall:
    if not isinstance(raw, Mapping):
        raise bad_response(provider, "a tool call is not an object")
    function = raw.get("function")
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
        raise bad_response(provider, "a tool call has no function name")
    call_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else f"call_{position}"
    name = function["name"]
    return ToolCall(str(call_id), name, parse_arguments(provider, name, function.get("arguments")))


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    prompt = token_count(raw.get("prompt_tokens"))
    completion = token_count(raw.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    return Usage(prompt, completion)


def _finish(provider: str, raw: object, has_calls: bool) -> FinishReason:
    if raw == "content_filter":
        raise ProviderError(
            "content_filtered", f"{provider}: the answer was withheld by the content filter", retryable=False
        )
    if raw == "length":
        return "length"
    if has_calls:
        return "tool_calls"
    return "stop"


def parse_completion(
    provider: str, data: Mapping[str, Any], request: CompletionRequest, model: str
) -> Completion:
    """A whole ``chat.completion`` answer as a ``Completion`` (first choice).

    Raises:
        ProviderError: ``content_filtered`` for a filtered answer, ``bad_response`` for an
            answer without choices, with non-text content or with bad tool calls.
    """
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise bad_response(provider, "no choices")
    message = choices[0].get("message")
    if not isinstance(message, Mapping):
        raise bad_response(provider, "the choice has no message")
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise bad_response(provider, "the message content is not text")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise bad_response(provider, "tool_calls is not a list")
    calls = tuple(_tool_call(provider, raw, n) for n, raw in enumerate(raw_calls))
    finish = _finish(provider, choices[0].get("finish_reason"), bool(calls))
    usage = _usage(data.get("usage")) or estimate_usage(request, text, calls)
    return Completion(text, calls, usage, finish, answered_model(data, model))


class _Chunks:
    """Accumulates ``chat.completion.chunk`` events into one answer."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: object = None
        self.usage: Usage | None = None
        self.model: str | None = None

    def feed(self, chunk: Mapping[str, Any]) -> str:
        """Take one chunk; return the text it adds."""
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]
        self.usage = _usage(chunk.get("usage")) or self.usage
        added = ""
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                if isinstance(delta.get("content"), str):
                    added += delta["content"]
                for raw in delta.get("tool_calls") or ():
                    self._call_delta(raw)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        if added:
            self.text.append(added)
        return added

    def _call_delta(self, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise bad_response(self.provider, "a tool call delta is not an object")
        index = raw.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            index = len(self.calls)
        entry = self.calls.setdefault(index, {"id": None, "name": None, "arguments": []})
        if isinstance(raw.get("id"), str) and raw["id"]:
            entry["id"] = raw["id"]
        function = raw.get("function")
        if isinstance(function, Mapping):
            if isinstance(function.get("name"), str) and function["name"]:
                entry["name"] = function["name"]
            arguments = function.get("arguments")
            if isinstance(arguments, dict):
                entry["arguments"].append(json.dumps(arguments))
            elif isinstance(arguments, str):
                entry["arguments"].append(arguments)

    def completion(self, request: CompletionRequest, model: str) -> Completion:
        calls = tuple(
            _tool_call(
                self.provider,
                {
                    "id": entry["id"],
                    "function": {"name": entry["name"], "arguments": "".join(entry["arguments"])},
                },
                position,
            )
            for position, (_, entry) in enumerate(sorted(self.calls.items()))
        )
        text = "".join(self.text)
        finish = _finish(self.provider, self.finish, bool(calls))
        usage = self.usage or estimate_usage(request, text, calls)
        return Completion(text, calls, usage, finish, self.model or model)


class ChatCompletionsProvider(SDKChatProvider):
    """Runs ``POST .../chat/completions`` through an ``openai`` SDK client a subclass builds per call.

    A stream asks the server to include usage. Subclasses may set ``_max_tokens_field`` and
    implement ``_client``.
    """

    _max_tokens_field = "max_completion_tokens"
    passthrough = _PASSTHROUGH
    stream_args: ClassVar[Mapping[str, Any]] = {"stream": True, "stream_options": {"include_usage": True}}

    def _client(self, timeout_s: float) -> openai.OpenAI:
        """A new SDK client for one call (key revealed here, pooled HTTP client shared)."""
        raise NotImplementedError

    @staticmethod
    def _new_pool() -> Any:
        import openai

        return install(openai.DefaultHttpxClient(follow_redirects=False))  # cancellable (ADR 0017)

    def _create(self, timeout_s: float) -> Callable[..., Any]:
        return self._client(timeout_s).chat.completions.create

    def _body(self, request: CompletionRequest, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": messages_to_wire(request.messages)}
        if request.tools:
            body["tools"] = tools_to_wire(request.tools)
        if request.max_output_tokens is not None:
            body[self._max_tokens_field] = request.max_output_tokens
        return body

    def _parse(self, data: Mapping[str, Any], request: CompletionRequest, model: str) -> Completion:
        return parse_completion(self.name, data, request, model)

    def _reader(self) -> _Chunks:
        return _Chunks(self.name)

    @staticmethod
    def _error(provider: str, exc: Exception, timeout_s: float) -> ProviderError:
        import openai

        return sdk_error(provider, exc, timeout_s, openai, openai.OpenAIError, _api_error)


def _api_error(provider: str, exc: openai.APIError) -> ProviderError:
    """An error the server answered with: an HTTP status, or an error event mid-stream."""
    import openai

    body = exc.body if isinstance(exc.body, Mapping) else {}
    code = exc.code or exc.type
    inner = body.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, Mapping) else None
    message = body.get("message")
    filtered = code == "content_filter" or inner_code == "ResponsibleAIPolicyViolation"
    too_long = code == "context_length_exceeded" or (
        isinstance(message, str) and bool(CONTEXT_TOO_LONG.search(message))
    )
    if isinstance(exc, openai.APIStatusError):
        return status_error(
            provider,
            exc.status_code,
            exc.response.headers,
            code=code,
            context_too_long=too_long,
            content_filtered=filtered,
            request_id=exc.request_id,
        )
    return stream_error(provider, code, context_too_long=too_long, content_filtered=filtered)
