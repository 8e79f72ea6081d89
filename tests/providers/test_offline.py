"""The provider contract and the offline simulator: determinism, budgets, tools, failures."""

from __future__ import annotations

import pickle
import re
import time
from typing import Any

import pytest

import convergio.providers as providers
from convergio.providers import (
    MESSAGE_OVERHEAD,
    PROVIDER_NAMES,
    CompletionRequest,
    Message,
    OfflineProvider,
    Provider,
    ProviderError,
    StreamEvent,
    ToolCall,
    ToolSpec,
    UnknownProvider,
    Usage,
    count_message_tokens,
    count_tokens,
    get_provider,
)
from convergio.providers._tokens import tool_call_tokens, truncate_tokens
from convergio.tools import get_tool, run_tool

UPSTREAM = "The durable orchestrator checkpoints every finished step of the research agent."


def _request(text: str = UPSTREAM, **fields: Any) -> CompletionRequest:
    messages = (Message("system", "Be brief."), Message("user", text))
    return CompletionRequest(model=fields.pop("model", None), messages=messages, **fields)


def _tools(*names: str) -> tuple[ToolSpec, ...]:
    return tuple(get_tool(name).spec() for name in names)


def test_public_surface_is_pinned() -> None:
    assert sorted(providers.__all__) == [
        "CallScope",
        "Completion",
        "CompletionRequest",
        "Connection",
        "ConnectionKind",
        "FinishReason",
        "KeySource",
        "MESSAGE_OVERHEAD",
        "Message",
        "OfflineProvider",
        "PROVIDER_NAMES",
        "Provider",
        "ProviderError",
        "ProviderErrorCode",
        "Role",
        "StreamEvent",
        "ToolCall",
        "ToolSpec",
        "UnknownProvider",
        "Usage",
        "abortable",
        "build_provider",
        "check_endpoint",
        "count_message_tokens",
        "count_tokens",
        "get_provider",
    ]


# -- tokens and usage ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("   \n", 0), ("Hello, world! 42", 5), ("snake_case", 3), ("3.14", 3), ("abc123", 2)],
)
def test_count_tokens_counts_letter_runs_digit_runs_and_each_punctuation_mark(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


_RULE = re.compile(r"\d+|[^\W\d_]+|[^\w\s]|_")  # the documented rule, spelled out in Unicode terms


def test_ascii_text_is_tokenised_exactly_as_the_unicode_rule_says() -> None:
    # ASCII text takes a faster pattern (ADR 0036): every pair of ASCII characters, and longer
    # mixes, must give the same tokens, counts and cuts as the rule itself.
    ascii_chars = [chr(code) for code in range(128)]
    texts = [a + b for a in ascii_chars for b in ascii_chars]
    texts += [
        "".join(ascii_chars),
        "snake_case__x 3.14e-2 a1b2 \x1c\x1f\t\x0b tail",
        "é" + "".join(ascii_chars),
    ]
    for text in texts:
        ends = [match.end() for match in _RULE.finditer(text)]
        assert count_tokens(text) == len(ends), repr(text)
        for limit in range(len(ends) + 2):
            expected = "" if limit == 0 else text[: ends[limit - 1]] if limit <= len(ends) else text
            assert truncate_tokens(text, limit) == expected, (repr(text), limit)


def test_count_message_tokens_adds_a_fixed_overhead_and_the_tool_calls() -> None:
    call = ToolCall("call_1_1", "calculator", {"expression": "1 + 1"})
    messages = [
        Message("user", "Add one and one."),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "2", tool_call_id="call_1_1"),
    ]
    # '{"expression": "1 + 1"}' is  { " expression " : " 1 + 1 " }  = 11 tokens; the name is 1.
    assert tool_call_tokens(call) == 12
    assert count_message_tokens(messages) == 3 * MESSAGE_OVERHEAD + 5 + 12 + 1


def test_usage_adds_up_and_round_trips_through_its_dict_form() -> None:
    total = Usage(10, 5) + Usage(3, 2, tool_calls=1)
    assert total == Usage(prompt_tokens=13, completion_tokens=7, tool_calls=1)
    assert total.total_tokens == 20
    assert total.to_dict() == {
        "prompt_tokens": 13,
        "completion_tokens": 7,
        "total_tokens": 20,
        "tool_calls": 1,
    }
    assert Usage.from_dict(total.to_dict()) == total
    assert Usage.from_dict({}) == Usage()
    assert total + Usage() is total  # adding nothing: the same (frozen) usage
    assert sum((Usage(1, 2, 3) for _ in range(4)), Usage()) == Usage(4, 8, 12)  # built unchecked, equal
    assert hash(Usage(1, 1) + Usage(1, 1)) == hash(Usage(2, 2))


def test_estimated_usage_is_marked_in_its_dict_form_and_spreads_through_sums() -> None:
    estimated = Usage(10, 5, estimated=True)
    assert estimated.to_dict() == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "tool_calls": 0,
        "estimated": True,
    }
    assert "estimated" not in Usage(10, 5).to_dict()  # provider-counted usage keeps its old form
    assert Usage.from_dict(estimated.to_dict()) == estimated
    assert (Usage(1, 1) + estimated).estimated is True
    assert (Usage(1, 1) + Usage(2, 2)).estimated is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"estimated": "yes"}, "estimated must be a bool"),
        ({"prompt_tokens": -1}, "prompt_tokens must be an integer >= 0"),
        ({"tool_calls": 1.5}, "tool_calls must be an integer >= 0"),
        ({"cost": 3}, "unknown usage field"),
        ({"prompt_tokens": 1, "total_tokens": 5}, "total_tokens is not"),
    ],
)
def test_usage_from_dict_refuses_bad_data(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Usage.from_dict(data)


def test_messages_and_requests_refuse_impossible_shapes() -> None:
    with pytest.raises(ValueError, match="tool_call_id"):
        Message("tool", "42")
    with pytest.raises(ValueError, match="only an assistant"):
        Message("user", "hi", tool_calls=(ToolCall("c", "calculator", {}),))
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        _request(attempt=0)
    with pytest.raises(ValueError, match="max_output_tokens must be >= 1"):
        _request(max_output_tokens=0)


def test_request_options_are_a_read_only_copy() -> None:
    options = {"output_tokens": 5}
    request = _request(options=options)
    options["output_tokens"] = 9
    assert request.options["output_tokens"] == 5
    with pytest.raises(TypeError):
        request.options["output_tokens"] = 7  # type: ignore[index]


# -- errors and registry ------------------------------------------------------------------


def test_provider_error_is_retryable_by_code_and_survives_pickling() -> None:
    assert ProviderError("rate_limited", "slow down").retryable is True
    assert ProviderError("auth", "key rejected").retryable is False
    assert ProviderError("unavailable", "down", retryable=False).retryable is False
    copy = pickle.loads(pickle.dumps(ProviderError("timeout", "no answer in 2s")))
    assert (copy.code, copy.retryable, copy.message) == ("timeout", True, "no answer in 2s")
    assert str(copy) == "timeout: no answer in 2s"  # what the orchestrator sees of a failed activity
    with pytest.raises(ValueError, match="code must be one of"):
        ProviderError("oops", "x")  # type: ignore[arg-type]


def test_provider_error_codes_for_real_providers_and_retry_after() -> None:
    for code in ("context_too_long", "content_filtered", "bad_response"):
        assert ProviderError(code, "x").retryable is False  # type: ignore[arg-type]
    limited = ProviderError("rate_limited", "slow down", retry_after_s=2.5)
    copy = pickle.loads(pickle.dumps(limited))
    assert (copy.code, copy.retryable, copy.retry_after_s) == ("rate_limited", True, 2.5)
    assert "retry_after_s=2.5" in repr(copy)
    with pytest.raises(ValueError, match="retry_after_s"):
        ProviderError("rate_limited", "x", retry_after_s=-1)


def test_a_stream_event_is_either_a_delta_or_the_completion() -> None:
    completion = OfflineProvider().complete(_request(options={"output_tokens": 3}))
    assert StreamEvent(delta="Hi").completion is None
    assert StreamEvent(completion=completion).delta == ""
    with pytest.raises(ValueError, match="either"):
        StreamEvent()
    with pytest.raises(ValueError, match="either"):
        StreamEvent(delta="x", completion=completion)


def test_registry_knows_offline_and_names_the_known_providers_on_a_miss() -> None:
    assert sorted(PROVIDER_NAMES) == ["offline"]
    provider = get_provider("offline")
    assert isinstance(provider, Provider)
    assert (provider.name, provider.default_model) == ("offline", "offline-1")
    with pytest.raises(UnknownProvider, match=r"unknown provider 'openai' \(known: offline\)") as info:
        get_provider("openai")
    assert isinstance(info.value, LookupError)


# -- answers ------------------------------------------------------------------------------


def test_same_request_same_completion() -> None:
    request = _request(options={"output_tokens": 30}, tools=_tools("calculator"))
    first = OfflineProvider().complete(request)
    assert first == OfflineProvider().complete(request)
    follow_up = CompletionRequest(
        None,
        (
            *request.messages,
            Message("assistant", "", first.tool_calls),
            Message("tool", "7", tool_call_id="call_1_1"),
        ),
        request.tools,
    )
    assert OfflineProvider().complete(follow_up) == OfflineProvider().complete(follow_up)


def test_answer_carries_the_upstream_text_and_counts_its_tokens_honestly() -> None:
    request = _request(f"Review this:\n\n  {UPSTREAM}", options={"output_tokens": 20})
    completion = OfflineProvider().complete(request)
    assert completion.text.startswith("offline-1: Review this: The durable orchestrator checkpoints")
    assert completion.finish_reason == "stop"
    assert completion.tool_calls == ()
    assert count_tokens(completion.text) == 20
    assert completion.usage == Usage(count_message_tokens(request.messages), 20)
    assert completion.model == "offline-1"


def test_answer_has_exactly_output_tokens_even_from_a_short_prompt() -> None:
    completion = OfflineProvider().complete(_request("hi", options={"output_tokens": 9}))
    assert count_tokens(completion.text) == 9
    assert completion.text == "offline-1: hi hi hi hi hi"


@pytest.mark.parametrize("prompt", ["hi", "  a\u00a0b_c  3.14 ", "x" * 5 + " !?", "\u4e2d\u6587 text", "   "])
@pytest.mark.parametrize("model", [None, "m", "gpt 4: large", "_"])
def test_the_answer_is_its_prompt_repeated_and_cut_at_the_asked_size(prompt: str, model: str | None) -> None:
    # Only the last repeat is scanned to cut the answer, and its size is not counted again
    # (ADR 0036): the definition, spelled out, must still hold token for token.
    body = " ".join(prompt.split()) or "(no prompt)"
    prefix = f"{model or 'offline-1'}: "
    for size in (1, 2, 3, 4, 7, 16, 49):
        completion = OfflineProvider().complete(
            _request(prompt, model=model, options={"output_tokens": size})
        )
        assert completion.text == truncate_tokens(prefix + " ".join([body] * (size + 1)), size)
        assert completion.usage.completion_tokens == count_tokens(completion.text) == size


def test_the_requested_model_names_the_answer() -> None:
    completion = OfflineProvider().complete(_request(model="sim-large", options={"output_tokens": 8}))
    assert completion.text.startswith("sim-large: The durable")
    assert completion.model == "sim-large"


def test_max_output_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    full = OfflineProvider().complete(_request(options={"output_tokens": 30}))
    cut = OfflineProvider().complete(_request(options={"output_tokens": 30}, max_output_tokens=7))
    assert cut.finish_reason == "length"
    assert count_tokens(cut.text) == cut.usage.completion_tokens == 7
    assert full.text.startswith(cut.text)
    roomy = OfflineProvider().complete(_request(options={"output_tokens": 30}, max_output_tokens=30))
    assert roomy == full


def test_unknown_options_are_ignored_so_real_provider_graphs_run_unchanged() -> None:
    plain = OfflineProvider().complete(_request())
    assert OfflineProvider().complete(_request(options={"temperature": 0.2, "seed": 7})) == plain


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": True}, "latency_ms"),
        ({"fail_first_n": 1.5}, "fail_first_n"),
        ({"output_tokens": 0}, "output_tokens"),
        ({"tool_rounds": -1}, "tool_rounds"),
        ({"tool_calls_per_round": 0}, "tool_calls_per_round"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: dict[str, Any], name: str) -> None:
    with pytest.raises(ProviderError) as info:
        OfflineProvider().complete(_request(options=options))
    assert info.value.code == "bad_request"
    assert info.value.retryable is False
    assert f"option {name} must be" in str(info.value)


# -- failures and time --------------------------------------------------------------------


def test_fail_first_n_fails_those_attempts_then_answers() -> None:
    for attempt in (1, 2):
        with pytest.raises(ProviderError) as info:
            OfflineProvider().complete(_request(options={"fail_first_n": 2}, attempt=attempt))
        assert (info.value.code, info.value.retryable) == ("unavailable", True)
        assert UPSTREAM not in str(info.value)
    completion = OfflineProvider().complete(_request(options={"fail_first_n": 2}, attempt=3))
    assert completion.finish_reason == "stop"


def test_latency_is_honoured() -> None:
    started = time.monotonic()
    OfflineProvider().complete(_request(options={"latency_ms": 120}))
    assert time.monotonic() - started >= 0.11


def test_a_timeout_shorter_than_the_latency_raises_a_retryable_timeout_early() -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        OfflineProvider().complete(_request(options={"latency_ms": 2000}, timeout_s=0.05))
    assert (info.value.code, info.value.retryable) == ("timeout", True)
    assert 0.04 <= time.monotonic() - started < 1.5


# -- tool calls ---------------------------------------------------------------------------

NUMBERS = "We sold 12 apples and 30 pears; what is the total?"


def test_offered_tools_are_called_once_each_with_schema_valid_arguments() -> None:
    request = _request(NUMBERS, tools=_tools("calculator", "keywords"))
    completion = OfflineProvider().complete(request)
    assert completion.finish_reason == "tool_calls"
    assert completion.text == ""
    assert [(c.id, c.name) for c in completion.tool_calls] == [
        ("call_1_1", "calculator"),
        ("call_1_2", "keywords"),
    ]
    calculator, keywords = completion.tool_calls
    assert calculator.arguments == {"expression": "12 + 30"}
    assert keywords.arguments == {"text": NUMBERS}  # required only: the optional n is left out
    assert run_tool("calculator", calculator.arguments) == "42"
    assert run_tool("keywords", keywords.arguments).startswith("apples (1)")
    assert completion.usage.completion_tokens == sum(tool_call_tokens(c) for c in completion.tool_calls)


def test_calls_per_round_cycle_over_the_offered_tools() -> None:
    request = _request(NUMBERS, tools=_tools("calculator", "word_count"), options={"tool_calls_per_round": 3})
    names = [c.name for c in OfflineProvider().complete(request).tool_calls]
    assert names == ["calculator", "word_count", "calculator"]


def test_without_numbers_the_calculator_gets_one_plus_one() -> None:
    completion = OfflineProvider().complete(_request("no digits here", tools=_tools("calculator")))
    assert completion.tool_calls[0].arguments == {"expression": "1 + 1"}


def test_arguments_follow_the_schema_for_every_json_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "maxLength": 8},
            "limit": {"type": "integer", "minimum": 1, "maximum": 3},
            "strict": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["fast", "slow"]},
            "note": {"type": ["null", "string"]},
            "optional": {"type": "string"},
        },
        "required": ["query", "limit", "strict", "mode", "note"],
    }
    completion = OfflineProvider().complete(_request(tools=(ToolSpec("search", "find", schema),)))
    assert completion.tool_calls[0].arguments == {
        "query": "The dura",
        "limit": 3,
        "strict": True,
        "mode": "fast",
        "note": UPSTREAM,
    }


def test_after_tool_rounds_the_answer_reports_the_tool_results() -> None:
    tools = _tools("calculator")
    first = OfflineProvider().complete(_request(NUMBERS, tools=tools))
    messages = (
        *_request(NUMBERS).messages,
        Message("assistant", "", tool_calls=first.tool_calls),
        Message("tool", "42", tool_call_id="call_1_1"),
    )
    answer = OfflineProvider().complete(CompletionRequest(None, messages, tools))
    assert answer.finish_reason == "stop"
    assert answer.text.startswith("offline-1: calculator returned 42. We sold 12 apples")
    assert answer.usage.prompt_tokens == count_message_tokens(messages)
    second_round = OfflineProvider().complete(
        CompletionRequest(None, messages, tools, options={"tool_rounds": 2})
    )
    assert [c.id for c in second_round.tool_calls] == ["call_2_1"]


def test_no_tool_rounds_means_an_answer_even_with_tools_offered() -> None:
    completion = OfflineProvider().complete(_request(tools=_tools("calculator"), options={"tool_rounds": 0}))
    assert completion.finish_reason == "stop"
    assert completion.tool_calls == ()


def test_a_tool_turn_over_the_output_cap_is_cut_to_no_call() -> None:
    completion = OfflineProvider().complete(
        _request(NUMBERS, tools=_tools("calculator"), max_output_tokens=3)
    )
    assert (completion.finish_reason, completion.tool_calls, completion.text) == ("length", (), "")
    assert completion.usage.completion_tokens == 3
