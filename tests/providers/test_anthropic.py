"""Anthropic messages against a loopback server: headers, system, tool_use blocks, usage, streams."""

from __future__ import annotations

from typing import Any

import pytest

from convergio.providers import (
    CompletionRequest,
    Connection,
    Message,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
    count_message_tokens,
    count_tokens,
)
from convergio.providers._anthropic import DEFAULT_MAX_TOKENS
from tests.providers._servers import (
    FakeAPI,
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    json_reply,
    sse_reply,
)
from tests.providers.conftest import KEY, Build, FakeSecret

PROMPT = "Plan a lesson on volcanoes for grade 4"
WORDS = ToolSpec(
    "word_count",
    "Counts the words of a text.",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)


def _request(**fields: Any) -> CompletionRequest:
    messages = (Message("system", "You are a teacher."), Message("user", PROMPT))
    return CompletionRequest(fields.pop("model", None), fields.pop("messages", messages), **fields)


def _anthropic(api: FakeAPI, build: Build) -> Any:
    return build(Connection("anthropic", endpoint=api.url, model="claude-test-1"), FakeSecret())


def test_complete_sends_the_key_and_version_headers_and_a_separate_system(api: FakeAPI, build: Build) -> None:
    provider = _anthropic(api, build)
    api.queue(json_reply(anthropic_message([{"type": "text", "text": "Volcanoes erupt."}], usage=(25, 6))))

    completion = provider.complete(_request())

    seen = api.last
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"]
    assert seen.body["system"] == "You are a teacher."
    assert seen.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]
    assert (seen.body["model"], seen.body["max_tokens"]) == ("claude-test-1", DEFAULT_MAX_TOKENS)
    assert completion.text == "Volcanoes erupt."
    assert completion.usage == Usage(25, 6)  # input_tokens / output_tokens, as the server counted
    assert completion.finish_reason == "stop"


def test_tools_go_out_with_input_schema_and_tool_use_blocks_come_back_as_calls(
    api: FakeAPI, build: Build
) -> None:
    provider = _anthropic(api, build)
    blocks = [
        {"type": "text", "text": "Let me count."},
        {"type": "tool_use", "id": "toolu_1", "name": "word_count", "input": {"text": "hot lava"}},
    ]
    api.queue(json_reply(anthropic_message(blocks, stop_reason="tool_use")))

    completion = provider.complete(_request(tools=(WORDS,), max_output_tokens=300))

    assert api.last.body["tools"] == [
        {"name": "word_count", "description": "Counts the words of a text.", "input_schema": WORDS.parameters}
    ]
    assert api.last.body["max_tokens"] == 300
    assert completion.tool_calls == (ToolCall("toolu_1", "word_count", {"text": "hot lava"}),)
    assert (completion.text, completion.finish_reason) == ("Let me count.", "tool_calls")


def test_tool_calls_and_results_become_tool_use_and_tool_result_blocks(api: FakeAPI, build: Build) -> None:
    provider = _anthropic(api, build)
    call = ToolCall("toolu_1", "word_count", {"text": "hot lava"})
    messages = (
        Message("system", "You are a teacher."),
        Message("user", PROMPT),
        Message("assistant", "Let me count.", tool_calls=(call,)),
        Message("tool", "2", tool_call_id="toolu_1"),
        Message("user", "Now finish."),
    )
    api.queue(json_reply(anthropic_message([{"type": "text", "text": "Done."}])))

    provider.complete(_request(messages=messages, tools=(WORDS,)))

    assert api.last.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me count."},
                {"type": "tool_use", "id": "toolu_1", "name": "word_count", "input": {"text": "hot lava"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "2"},
                {"type": "text", "text": "Now finish."},
            ],
        },
    ]


def test_stream_yields_text_deltas_then_the_completion_with_the_servers_usage(
    api: FakeAPI, build: Build
) -> None:
    provider = _anthropic(api, build)
    frames = anthropic_stream(
        ["Volcanoes ", "erupt."],
        tool=("toolu_7", "word_count", ['{"te', 'xt": "ash"}']),
        stop_reason="tool_use",
        usage=(30, 12),
    )
    api.queue(sse_reply(frames))

    events = list(provider.stream(_request(tools=(WORDS,))))

    assert api.last.body["stream"] is True
    assert [e.delta for e in events[:-1]] == ["Volcanoes ", "erupt."]
    final = events[-1].completion
    assert final is not None
    assert final.text == "Volcanoes erupt."
    assert final.tool_calls == (ToolCall("toolu_7", "word_count", {"text": "ash"}),)
    assert final.usage == Usage(30, 12) and not final.usage.estimated
    assert final.finish_reason == "tool_calls"


def test_a_stream_without_usage_is_counted_locally_and_marked_estimated(api: FakeAPI, build: Build) -> None:
    provider = _anthropic(api, build)
    api.queue(sse_reply(anthropic_stream(["Hot ", "rock."], usage=None)))
    request = _request()

    *_, last = provider.stream(request)

    assert last.completion is not None
    expected = Usage(count_message_tokens(request.messages), count_tokens("Hot rock."), estimated=True)
    assert last.completion.usage == expected


def test_an_error_event_in_the_middle_of_a_stream_is_retryable(api: FakeAPI, build: Build) -> None:
    provider = _anthropic(api, build)
    frames = anthropic_stream(["Volcanoes "])[:4]
    frames.append(("error", anthropic_error("overloaded_error", "Overloaded")))
    api.queue(sse_reply(frames))

    received: list[str] = []
    with pytest.raises(ProviderError) as info:
        for event in provider.stream(_request()):
            received.append(event.delta)

    assert received == ["Volcanoes "]
    assert (info.value.code, info.value.retryable) == ("unavailable", True)
    assert "overloaded_error" in info.value.message


def test_a_refusal_is_content_filtered(api: FakeAPI, build: Build) -> None:
    provider = _anthropic(api, build)
    api.queue(json_reply(anthropic_message([], stop_reason="refusal")))

    with pytest.raises(ProviderError) as info:
        provider.complete(_request())

    assert (info.value.code, info.value.retryable) == ("content_filtered", False)


def test_max_tokens_stop_is_length(api: FakeAPI, build: Build) -> None:
    provider = _anthropic(api, build)
    api.queue(json_reply(anthropic_message([{"type": "text", "text": "Volc"}], stop_reason="max_tokens")))

    assert provider.complete(_request(max_output_tokens=1)).finish_reason == "length"
