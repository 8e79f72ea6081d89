"""Anthropic's Messages API through ``anthropic.Anthropic``.

Mapping to our contract:

* ``system`` messages are joined into the separate ``system`` field; the rest become
  alternating ``user``/``assistant`` turns (consecutive ones merged). An assistant turn's
  tool calls are ``tool_use`` blocks; ``tool`` messages are ``tool_result`` blocks of a
  user turn.
* ``max_tokens`` is required there: the request's ``max_output_tokens``, else
  ``DEFAULT_MAX_TOKENS``.
* Usage: prompt tokens are ``input_tokens`` plus the cache read/creation tokens (all are
  input the model read); completion tokens are ``output_tokens``.
* ``stop_reason``: ``tool_use`` -> ``tool_calls``, ``max_tokens`` and
  ``model_context_window_exceeded`` -> ``length``, ``refusal`` ->
  ``ProviderError("content_filtered")``, anything else -> ``stop``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

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
    Usage,
)

if TYPE_CHECKING:
    import anthropic

__all__ = ["ANTHROPIC_BASE_URL", "DEFAULT_MAX_TOKENS", "AnthropicProvider"]

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
"""Where an ``anthropic`` connection without an endpoint goes."""

DEFAULT_MAX_TOKENS = 4096
"""The output cap sent when a request sets none (the Messages API requires one)."""

_PASSTHROUGH = ("temperature", "top_p", "top_k", "stop_sequences")
_CACHE_FIELDS = ("cache_creation_input_tokens", "cache_read_input_tokens")


def to_wire(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    """Our conversation as the Messages API's ``system`` text and ``messages`` turns."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    turns: list[dict[str, Any]] = []
    for message in messages:
        blocks: list[dict[str, Any]] = []
        if message.role == "system":
            continue
        if message.role == "tool":
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
            if message.content:
                result["content"] = message.content
            blocks.append(result)
        elif message.content:
            blocks.append({"type": "text", "text": message.content})
        blocks.extend(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            for call in message.tool_calls
        )
        role = "assistant" if message.role == "assistant" else "user"
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _finish(provider: str, raw: object, has_calls: bool) -> FinishReason:
    if raw == "refusal":
        raise ProviderError(
            "content_filtered",
            f"{provider}: the model refused to answer (stop_reason refusal)",
            retryable=False,
        )
    if raw in ("max_tokens", "model_context_window_exceeded"):
        return "length"
    if raw == "tool_use" or has_calls:
        return "tool_calls"
    return "stop"


def _tool_call(provider: str, block: Mapping[str, Any]) -> ToolCall:
    call_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(call_id, str) or not isinstance(name, str) or not call_id or not name:
        raise bad_response(provider, "a tool_use block has no id or name")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise bad_response(provider, "the input of a tool_use block is not a JSON object")
    return ToolCall(call_id, name, arguments)


def _input_tokens(usage: Mapping[str, Any]) -> int | None:
    total = token_count(usage.get("input_tokens"))
    for name in _CACHE_FIELDS:
        if total is not None and usage.get(name) is not None:
            extra = token_count(usage.get(name))
            total = None if extra is None else total + extra
    return total


def parse_message(
    provider: str, data: Mapping[str, Any], request: CompletionRequest, model: str
) -> Completion:
    """A whole ``message`` answer as a ``Completion``.

    Raises:
        ProviderError: ``content_filtered`` for a refusal, ``bad_response`` for an answer
            without content blocks or with bad ``tool_use`` blocks.
    """
    content = data.get("content")
    if not isinstance(content, list):
        raise bad_response(provider, "no content blocks")
    text: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, Mapping):
            raise bad_response(provider, "a content block is not an object")
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            text.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(_tool_call(provider, block))
    finish = _finish(provider, data.get("stop_reason"), bool(calls))
    usage_data = data.get("usage")
    if not isinstance(usage_data, Mapping):
        usage_data = {}
    prompt = _input_tokens(usage_data)
    output = token_count(usage_data.get("output_tokens"))
    joined = "".join(text)
    if prompt is None or output is None:
        usage = estimate_usage(request, joined, tuple(calls))
    else:
        usage = Usage(prompt, output)
    return Completion(joined, tuple(calls), usage, finish, answered_model(data, model))


class _Events:
    """Accumulates Messages API stream events (``message_start`` ... ``message_stop``)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.blocks: dict[int, dict[str, Any]] = {}
        self.stop_reason: object = None
        self.model: str | None = None
        self.usage: dict[str, Any] = {}

    def feed(self, event: Mapping[str, Any]) -> str:
        """Take one event; return the text it adds."""
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), Mapping):
            message = event["message"]
            if isinstance(message.get("model"), str):
                self.model = message["model"]
            if isinstance(message.get("usage"), Mapping):
                self.usage.update(message["usage"])
        elif kind == "content_block_start" and isinstance(event.get("content_block"), Mapping):
            block = dict(event["content_block"])
            block["partial_json"] = []
            self.blocks[self._index(event)] = block
        elif kind == "content_block_delta" and isinstance(event.get("delta"), Mapping):
            return self._delta(self._index(event), event["delta"])
        elif kind == "message_delta":
            if isinstance(event.get("delta"), Mapping) and event["delta"].get("stop_reason"):
                self.stop_reason = event["delta"]["stop_reason"]
            if isinstance(event.get("usage"), Mapping):
                self.usage.update({k: v for k, v in event["usage"].items() if v is not None})
        return ""

    def _index(self, event: Mapping[str, Any]) -> int:
        index = event.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise bad_response(self.provider, "a stream event has no block index")
        return index

    def _delta(self, index: int, delta: Mapping[str, Any]) -> str:
        block = self.blocks.setdefault(index, {"type": "text", "text": "", "partial_json": []})
        if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
            block["text"] = block.get("text", "") + delta["text"]
            return str(delta["text"])
        if delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            block["partial_json"].append(delta["partial_json"])
        return ""

    def completion(self, request: CompletionRequest, model: str) -> Completion:
        content: list[dict[str, Any]] = []
        for _, block in sorted(self.blocks.items()):
            if block.get("type") == "tool_use":
                raw = "".join(block["partial_json"])
                name = str(block.get("name") or "")
                arguments = parse_arguments(self.provider, name, raw) if raw else block.get("input") or {}
                content.append({"type": "tool_use", "id": block.get("id"), "name": name, "input": arguments})
            elif block.get("type") == "text":
                content.append({"type": "text", "text": block.get("text", "")})
        data = {"content": content, "stop_reason": self.stop_reason, "usage": self.usage, "model": self.model}
        return parse_message(self.provider, data, request, model)


class AnthropicProvider(SDKChatProvider):
    """Anthropic's Messages API (``kind`` ``anthropic``): ``POST /v1/messages``.

    The key is sent as the ``x-api-key`` header; a connection without an endpoint goes to
    ``ANTHROPIC_BASE_URL``. A streamed answer's usage comes from ``message_start`` and
    ``message_delta``. Constructor arguments: as ``SDKChatProvider``.
    """

    default_base_url = ANTHROPIC_BASE_URL
    passthrough = _PASSTHROUGH

    @staticmethod
    def _new_pool() -> Any:
        import anthropic

        return install(anthropic.DefaultHttpxClient(follow_redirects=False))  # cancellable (ADR 0017)

    def _create(self, timeout_s: float) -> Callable[..., Any]:
        import anthropic

        client = anthropic.Anthropic(base_url=self._base_url, **self._sdk_options(timeout_s))
        return client.messages.create

    def _body(self, request: CompletionRequest, model: str) -> dict[str, Any]:
        system, turns = to_wire(request.messages)
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
            "messages": turns,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [
                {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
                for tool in request.tools
            ]
        return body

    def _parse(self, data: Mapping[str, Any], request: CompletionRequest, model: str) -> Completion:
        return parse_message(self.name, data, request, model)

    def _reader(self) -> _Events:
        return _Events(self.name)

    @staticmethod
    def _error(provider: str, exc: Exception, timeout_s: float) -> ProviderError:
        import anthropic

        return sdk_error(provider, exc, timeout_s, anthropic, anthropic.AnthropicError, _api_error)


def _api_error(provider: str, exc: anthropic.APIError) -> ProviderError | None:
    """An error the Messages API answered with (its body's ``error.type``), else ``None``."""
    import anthropic

    if not isinstance(exc, anthropic.APIStatusError):
        return None
    error = exc.body.get("error") if isinstance(exc.body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message")
    too_long = isinstance(message, str) and bool(CONTEXT_TOO_LONG.search(message))
    if exc.status_code < 400:
        # An ``error`` event in the middle of a stream: the HTTP status was 200.
        return stream_error(provider, kind, context_too_long=too_long)
    return status_error(
        provider,
        exc.status_code,
        exc.response.headers,
        code=kind,
        context_too_long=too_long and exc.status_code in (400, 413),
        request_id=exc.request_id,
    )
