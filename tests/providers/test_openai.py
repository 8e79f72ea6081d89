"""OpenAI chat completions against a loopback server: headers, request shape, tools, usage, streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convergio.providers import (
    CompletionRequest,
    Connection,
    Message,
    ProviderError,
    StreamEvent,
    ToolCall,
    ToolSpec,
    Usage,
    count_message_tokens,
    count_tokens,
)
from convergio.providers._tokens import tool_call_tokens
from tests.providers._servers import (
    FakeAPI,
    chat_completion,
    chat_stream,
    function_call,
    json_reply,
    sse_reply,
)
from tests.providers.conftest import KEY, Build, FakeSecret

PROMPT = "Summarise the durable orchestration of the lesson plan"
CALCULATOR = ToolSpec(
    "calculator",
    "Evaluates an arithmetic expression.",
    {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
)


def _request(**fields: Any) -> CompletionRequest:
    messages = (Message("system", "Be brief."), Message("user", PROMPT))
    return CompletionRequest(fields.pop("model", None), fields.pop("messages", messages), **fields)


def _openai(api: FakeAPI, build: Build, key: object, model: str | None = "gpt-4o-mini") -> Any:
    return build(Connection("openai", endpoint=f"{api.url}/v1", model=model), key)


def test_complete_sends_the_key_as_bearer_and_reads_the_servers_usage(
    api: FakeAPI, build: Build, secret: FakeSecret
) -> None:
    provider = _openai(api, build, secret)
    assert secret.reveals == 0  # building reveals nothing
    api.queue(json_reply(chat_completion("Fractions are parts of a whole.", usage=(31, 9))))

    completion = provider.complete(_request())

    seen = api.last
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.body["model"] == "gpt-4o-mini"
    assert seen.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": PROMPT},
    ]
    assert "stream" not in seen.body and "tools" not in seen.body
    assert completion.text == "Fractions are parts of a whole."
    assert completion.usage == Usage(31, 9)  # the server's numbers, not ours
    assert (completion.finish_reason, completion.model) == ("stop", "gpt-test")
    assert secret.reveals == 1


def test_tools_go_out_as_functions_and_tool_calls_come_back_as_dicts(api: FakeAPI, build: Build) -> None:
    provider = _openai(api, build, FakeSecret())
    call = function_call("call_abc", "calculator", '{"expression": "2 + 3"}')
    api.queue(json_reply(chat_completion(None, tool_calls=[call], finish_reason="tool_calls")))

    completion = provider.complete(_request(tools=(CALCULATOR,)))

    assert api.last.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "calculator",
                "description": "Evaluates an arithmetic expression.",
                "parameters": CALCULATOR.parameters,
            },
        }
    ]
    assert completion.tool_calls == (ToolCall("call_abc", "calculator", {"expression": "2 + 3"}),)
    assert (completion.text, completion.finish_reason) == ("", "tool_calls")


def test_a_tool_round_trip_is_sent_back_in_the_chat_completions_shape(api: FakeAPI, build: Build) -> None:
    provider = _openai(api, build, FakeSecret())
    call = ToolCall("call_abc", "calculator", {"expression": "2 + 3"})
    messages = (
        Message("user", PROMPT),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "5", tool_call_id="call_abc"),
    )
    api.queue(json_reply(chat_completion("It is 5.")))

    provider.complete(_request(messages=messages, tools=(CALCULATOR,)))

    sent = api.last.body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "calculator", "arguments": '{"expression": "2 + 3"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "call_abc", "content": "5"}


@pytest.mark.parametrize("arguments", ['{"expression": ', "[1, 2]", '"just text"'])
def test_tool_arguments_that_are_not_a_json_object_are_a_bad_response(
    api: FakeAPI, build: Build, arguments: str
) -> None:
    provider = _openai(api, build, FakeSecret())
    call = function_call("call_1", "calculator", arguments)
    api.queue(json_reply(chat_completion(None, tool_calls=[call], finish_reason="tool_calls")))

    with pytest.raises(ProviderError) as info:
        provider.complete(_request(tools=(CALCULATOR,)))

    assert (info.value.code, info.value.retryable) == ("bad_response", False)
    assert "calculator" in info.value.message and arguments not in info.value.message


def test_output_cap_model_and_sampling_options_are_sent_and_offline_options_are_not(
    api: FakeAPI, build: Build
) -> None:
    provider = _openai(api, build, FakeSecret())
    api.queue(json_reply(chat_completion("ok", finish_reason="length")))

    completion = provider.complete(
        _request(
            model="gpt-4.1",
            max_output_tokens=64,
            options={"temperature": 0.2, "seed": 7, "latency_ms": 400, "fail_first_n": 2},
        )
    )

    body = api.last.body
    assert (body["model"], body["max_completion_tokens"], body["temperature"], body["seed"]) == (
        "gpt-4.1",
        64,
        0.2,
        7,
    )
    assert "latency_ms" not in body and "fail_first_n" not in body
    assert completion.finish_reason == "length"


def test_no_model_anywhere_is_a_clear_bad_request(api: FakeAPI, build: Build) -> None:
    provider = _openai(api, build, FakeSecret(), model=None)
    with pytest.raises(ProviderError, match="no model") as info:
        provider.complete(_request())
    assert info.value.code == "bad_request"
    assert api.seen == []


def test_stream_yields_deltas_then_the_completion_with_the_servers_usage(api: FakeAPI, build: Build) -> None:
    provider = _openai(api, build, FakeSecret())
    api.queue(sse_reply(chat_stream(["Frac", "tions ", "are parts."], usage=(40, 3))))

    events = list(provider.stream(_request()))

    assert api.last.body["stream"] is True
    assert api.last.body["stream_options"] == {"include_usage": True}
    assert [e.delta for e in events[:-1]] == ["Frac", "tions ", "are parts."]
    final = events[-1].completion
    assert final is not None and final.text == "Fractions are parts."
    assert final.usage == Usage(40, 3) and not final.usage.estimated
    assert final.finish_reason == "stop"


def test_a_stream_without_usage_is_counted_locally_and_marked_estimated(api: FakeAPI, build: Build) -> None:
    provider = _openai(api, build, FakeSecret())
    api.queue(sse_reply(chat_stream(["Fractions ", "are parts."], usage=None)))
    request = _request()

    *_, last = provider.stream(request)

    assert last.completion is not None
    usage = last.completion.usage
    assert usage.estimated is True
    assert usage == Usage(
        count_message_tokens(request.messages), count_tokens("Fractions are parts."), estimated=True
    )
    assert usage.to_dict()["estimated"] is True


def test_streamed_tool_call_fragments_are_joined_into_one_call(api: FakeAPI, build: Build) -> None:
    provider = _openai(api, build, FakeSecret())
    deltas = [
        {"index": 0, "id": "call_9", "type": "function", "function": {"name": "calculator", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"expr'}},
        {"index": 0, "function": {"arguments": 'ession": "6 * 7"}'}},
    ]
    api.queue(sse_reply(chat_stream([], tool_deltas=deltas, finish_reason="tool_calls", usage=None)))
    request = _request(tools=(CALCULATOR,))

    events = list(provider.stream(request))

    assert len(events) == 1  # no text, only the completion
    final = events[0].completion
    assert final is not None
    call = ToolCall("call_9", "calculator", {"expression": "6 * 7"})
    assert final.tool_calls == (call,)
    assert final.finish_reason == "tool_calls"
    assert final.usage.completion_tokens == tool_call_tokens(call) and final.usage.estimated


def test_the_sdks_environment_never_replaces_the_connection(
    api: FakeAPI, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-platform-key-must-not-leak")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    provider = _openai(api, build, FakeSecret())
    api.queue(json_reply(chat_completion("ok")))

    provider.complete(_request())

    assert api.last.headers["authorization"] == f"Bearer {KEY}"
    assert "sk-platform" not in json.dumps(api.last.headers)


def test_the_default_stream_of_the_protocol_is_one_delta_then_the_completion() -> None:
    from convergio.providers import OfflineProvider

    request = _request(options={"output_tokens": 6})
    events = list(OfflineProvider().stream(request))
    completion = OfflineProvider().complete(request)
    assert events == [StreamEvent(delta=completion.text), StreamEvent(completion=completion)]
