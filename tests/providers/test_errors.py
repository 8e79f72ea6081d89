"""Each provider's failures, served on loopback, become the right ``ProviderError`` code.

Every error body here echoes the key and the prompt back (as a careless or hostile server
might); no message, repr or chained exception may carry either.
"""

from __future__ import annotations

import pickle
import socket
import time
from typing import Any

import pytest

from convergio.providers import CompletionRequest, Connection, Message, Provider, ProviderError
from convergio.providers._http import retry_after
from tests.providers._servers import (
    FakeAPI,
    anthropic_error,
    chat_completion,
    json_reply,
    slow_reply,
    sse_reply,
)
from tests.providers.conftest import KEY, Build, FakeSecret

PROMPT = "PROMPT-MARKER: the private notes of pupil 42"
KINDS = ("openai", "azure-openai", "anthropic", "openai-compatible")


def _connection(kind: str, url: str) -> Connection:
    if kind == "azure-openai":
        return Connection(kind, endpoint=url, deployment="dep", api_version="2024-10-21")
    if kind == "openai-compatible":
        return Connection(kind, endpoint=f"{url}/ollama/v1", model="llama3.2")
    if kind == "openai":
        return Connection(kind, endpoint=f"{url}/v1", model="gpt-4o-mini")
    return Connection(kind, endpoint=url, model="claude-test-1")


def _request(timeout_s: float | None = None) -> CompletionRequest:
    return CompletionRequest(None, (Message("user", PROMPT),), timeout_s=timeout_s)


def _error_body(kind: str, code: str | None, type_: str, message: str) -> dict[str, Any]:
    echoed = f"{message} (key {KEY}, prompt {PROMPT})"
    if kind == "anthropic":
        return anthropic_error(type_, echoed)
    return {"error": {"message": echoed, "type": type_, "param": None, "code": code}}


def _fails(provider: Provider, request: CompletionRequest, *, stream: bool = False) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        if stream:
            list(provider.stream(request))
        else:
            provider.complete(request)
    error = info.value
    for text in (str(error), repr(error), error.message):
        assert KEY not in text and "SECRET" not in text
        assert PROMPT not in text and "pupil" not in text
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.retryable, copy.retry_after_s) == (
        error.code,
        error.retryable,
        error.retry_after_s,
    )
    return error


CASES: list[tuple[str, int, dict[str, str], str | None, str, str, bool]] = [
    # (name, status, headers, openai code, anthropic type, expected code, retryable)
    ("auth", 401, {}, "invalid_api_key", "authentication_error", "auth", False),
    ("forbidden", 403, {}, None, "permission_error", "auth", False),
    ("rate", 429, {"retry-after": "7"}, "rate_limit_exceeded", "rate_limit_error", "rate_limited", True),
    ("server", 500, {}, None, "api_error", "unavailable", True),
    ("overloaded", 529, {}, None, "overloaded_error", "unavailable", True),
    ("bad", 400, {}, "invalid_value", "invalid_request_error", "bad_request", False),
    ("missing", 404, {}, "DeploymentNotFound", "not_found_error", "bad_request", False),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "headers", "code", "type_", "expected", "retryable"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_http_errors_map_to_codes_without_leaking(
    api: FakeAPI,
    build: Build,
    kind: str,
    status: int,
    headers: dict[str, str],
    code: str | None,
    type_: str,
    expected: str,
    retryable: bool,
) -> None:
    provider = build(_connection(kind, api.url), FakeSecret())
    api.queue(json_reply(_error_body(kind, code, type_, "nope"), status=status, headers=headers))

    error = _fails(provider, _request())

    assert (error.code, error.retryable) == (expected, retryable)
    assert f"HTTP {status}" in error.message
    assert len(api.seen) == 1  # the SDK did not retry by itself
    if status == 429:
        assert error.retry_after_s == 7
        assert "retry after 7s" in error.message


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_ms_wins_over_retry_after(api: FakeAPI, build: Build, kind: str) -> None:
    provider = build(_connection(kind, api.url), FakeSecret())
    headers = {"retry-after-ms": "1500", "retry-after": "30"}
    api.queue(json_reply(_error_body(kind, "rate_limit_exceeded", "rate_limit_error", "slow"), 429, headers))

    error = _fails(provider, _request())

    assert (error.code, error.retry_after_s) == ("rate_limited", 1.5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_prompt_too_long_for_the_model_is_context_too_long(api: FakeAPI, build: Build, kind: str) -> None:
    provider = build(_connection(kind, api.url), FakeSecret())
    if kind == "anthropic":
        body = _error_body(kind, None, "invalid_request_error", "prompt is too long: 210000 tokens > 200000")
    elif kind == "openai-compatible":  # vLLM-style: no code, only the message says it
        body = _error_body(
            kind, None, "BadRequestError", "This model's maximum context length is 4096 tokens"
        )
    else:
        body = _error_body(kind, "context_length_exceeded", "invalid_request_error", "too long")
    api.queue(json_reply(body, status=400))

    error = _fails(provider, _request())

    assert (error.code, error.retryable) == ("context_too_long", False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_server_that_sleeps_past_the_timeout_is_a_retryable_timeout(
    api: FakeAPI, build: Build, kind: str, stream: bool
) -> None:
    provider = build(_connection(kind, api.url), FakeSecret())
    api.queue(slow_reply(3.0, chat_completion("late")))

    started = time.monotonic()
    error = _fails(provider, _request(timeout_s=0.3), stream=stream)

    assert (error.code, error.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2.5


def test_a_stream_that_drips_past_the_timeout_is_a_timeout(api: FakeAPI, build: Build) -> None:
    provider = build(_connection("openai", api.url), FakeSecret())
    frames: list[tuple[str | None, Any]] = [(None, chat_completion("x"))] * 8
    api.queue(sse_reply(frames, pause_s=0.1))

    error = _fails(provider, _request(timeout_s=0.35), stream=True)

    assert error.code == "timeout"


@pytest.mark.parametrize("kind", KINDS)
def test_a_closed_port_is_unavailable(build: Build, kind: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = build(_connection(kind, f"http://127.0.0.1:{port}"), FakeSecret())

    error = _fails(provider, _request(timeout_s=5))

    assert (error.code, error.retryable) == ("unavailable", True)


@pytest.mark.parametrize("kind", ["openai", "azure-openai", "openai-compatible"])
def test_an_error_event_mid_stream_is_unavailable(api: FakeAPI, build: Build, kind: str) -> None:
    provider = build(_connection(kind, api.url), FakeSecret())
    error_body = _error_body(kind, "server_error", "server_error", "boom")
    api.queue(sse_reply([(None, error_body)]))

    error = _fails(provider, _request(), stream=True)

    assert (error.code, error.retryable) == ("unavailable", True)


def test_a_redirect_is_not_followed(api: FakeAPI, build: Build) -> None:
    provider = build(_connection("openai", api.url), FakeSecret())
    api.queue(json_reply({}, 307, {"location": "http://169.254.169.254/latest"}))

    error = _fails(provider, _request())

    assert error.code == "bad_request" and "HTTP 307" in error.message
    assert len(api.seen) == 1


def test_a_body_that_is_not_json_is_a_bad_response(api: FakeAPI, build: Build) -> None:
    provider = build(_connection("openai", api.url), FakeSecret())
    api.queue(json_reply(["not", "an", "object"]))

    error = _fails(provider, _request())

    assert (error.code, error.retryable) == ("bad_response", False)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "12"}, 12.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "1e9"}, 86_400.0),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after(headers, now=now) == expected
