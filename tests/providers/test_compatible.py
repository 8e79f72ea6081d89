"""An Ollama-style OpenAI-compatible server at a custom base URL, with and without a key."""

from __future__ import annotations

from typing import Any

from convergio.providers import (
    CompletionRequest,
    Connection,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
    count_message_tokens,
    count_tokens,
)
from tests.providers._servers import FakeAPI, chat_completion, chat_stream, json_reply, sse_reply
from tests.providers.conftest import KEY, Build, FakeSecret

PROMPT = "Name three planets"
LOOKUP = ToolSpec(
    "lookup", "Looks a planet up.", {"type": "object", "properties": {"name": {"type": "string"}}}
)


def _request(**fields: Any) -> CompletionRequest:
    return CompletionRequest(None, (Message("user", PROMPT),), **fields)


def _ollama(api: FakeAPI, build: Build, key: object = None) -> Any:
    return build(Connection("openai-compatible", endpoint=f"{api.url}/ollama/v1", model="llama3.2"), key)


def test_a_keyless_server_at_a_custom_base_url_gets_a_placeholder_not_a_key(
    api: FakeAPI, build: Build
) -> None:
    provider = _ollama(api, build)
    api.queue(json_reply(chat_completion("Mercury, Venus, Earth.", usage=(9, 6), model="llama3.2")))

    completion = provider.complete(_request(max_output_tokens=50))

    seen = api.last
    assert seen.path == "/ollama/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer unused"
    assert seen.body["model"] == "llama3.2"
    assert seen.body["max_tokens"] == 50 and "max_completion_tokens" not in seen.body
    assert completion.usage == Usage(9, 6)
    assert (provider.name, completion.model) == ("openai-compatible", "llama3.2")


def test_a_server_with_a_key_receives_it(api: FakeAPI, build: Build) -> None:
    provider = _ollama(api, build, FakeSecret())
    api.queue(json_reply(chat_completion("ok")))

    provider.complete(_request())

    assert api.last.headers["authorization"] == f"Bearer {KEY}"


def test_a_stream_without_a_usage_chunk_is_estimated(api: FakeAPI, build: Build) -> None:
    provider = _ollama(api, build)
    api.queue(sse_reply(chat_stream(["Mercury, ", "Venus."], usage=None)))
    request = _request()

    events = list(provider.stream(request))

    assert api.last.body["stream_options"] == {"include_usage": True}  # asked for, not given
    final = events[-1].completion
    assert final is not None
    assert final.usage == Usage(
        count_message_tokens(request.messages), count_tokens("Mercury, Venus."), estimated=True
    )


def test_tool_calls_without_ids_or_with_decoded_arguments_still_map(api: FakeAPI, build: Build) -> None:
    provider = _ollama(api, build)
    calls: list[dict[str, Any]] = [
        {"type": "function", "function": {"name": "lookup", "arguments": {"name": "Mars"}}},
        {"id": "c2", "type": "function", "function": {"name": "lookup", "arguments": ""}},
    ]
    api.queue(json_reply(chat_completion("", tool_calls=calls, finish_reason="stop")))

    completion = provider.complete(_request(tools=(LOOKUP,)))

    assert completion.tool_calls == (
        ToolCall("call_0", "lookup", {"name": "Mars"}),
        ToolCall("c2", "lookup", {}),
    )
    assert completion.finish_reason == "tool_calls"
