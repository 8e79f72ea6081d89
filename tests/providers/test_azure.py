"""Azure OpenAI against a loopback server: deployment path, api-version, api-key, content filter."""

from __future__ import annotations

from typing import Any

import pytest

from convergio.providers import CompletionRequest, Connection, Message, ProviderError, Usage
from tests.providers._servers import FakeAPI, chat_completion, chat_stream, json_reply, sse_reply
from tests.providers.conftest import KEY, Build, FakeSecret

PROMPT = "Write the weekly newsletter for the science fair"
API_VERSION = "2024-10-21"


def _request(model: str | None = None) -> CompletionRequest:
    return CompletionRequest(model, (Message("user", PROMPT),))


def _azure(api: FakeAPI, build: Build) -> Any:
    connection = Connection(
        "azure-openai", endpoint=api.url, deployment="school-gpt4o", api_version=API_VERSION
    )
    return build(connection, FakeSecret())


def test_calls_go_to_the_deployment_with_the_api_version_and_the_api_key_header(
    api: FakeAPI, build: Build
) -> None:
    provider = _azure(api, build)
    assert provider.default_model == "school-gpt4o"
    api.queue(json_reply(chat_completion("Dear families...", usage=(12, 4))))

    completion = provider.complete(_request())

    seen = api.last
    assert seen.path == "/openai/deployments/school-gpt4o/chat/completions"
    assert seen.query == {"api-version": API_VERSION}
    assert seen.headers["api-key"] == KEY
    assert KEY not in seen.headers.get("authorization", "")
    assert completion.usage == Usage(12, 4)
    assert completion.text == "Dear families..."


def test_a_request_that_names_a_model_uses_it_as_the_deployment(api: FakeAPI, build: Build) -> None:
    provider = _azure(api, build)
    api.queue(json_reply(chat_completion("ok")))

    provider.complete(_request(model="school-gpt4o-mini"))

    assert api.last.path == "/openai/deployments/school-gpt4o-mini/chat/completions"


def test_a_prompt_refused_by_the_content_filter_is_content_filtered(api: FakeAPI, build: Build) -> None:
    provider = _azure(api, build)
    body = {
        "error": {
            "message": f"The response was filtered: {PROMPT}",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {}},
        }
    }
    api.queue(json_reply(body, status=400))

    with pytest.raises(ProviderError) as info:
        provider.complete(_request())

    assert (info.value.code, info.value.retryable) == ("content_filtered", False)
    assert PROMPT not in str(info.value) and KEY not in str(info.value)


def test_an_answer_cut_by_the_content_filter_is_content_filtered(api: FakeAPI, build: Build) -> None:
    provider = _azure(api, build)
    api.queue(json_reply(chat_completion("partial", finish_reason="content_filter")))

    with pytest.raises(ProviderError) as info:
        provider.complete(_request())

    assert (info.value.code, info.value.retryable) == ("content_filtered", False)


def test_streaming_works_on_the_deployment_path(api: FakeAPI, build: Build) -> None:
    provider = _azure(api, build)
    api.queue(sse_reply(chat_stream(["Dear ", "families"], usage=(12, 2))))

    events = list(provider.stream(_request()))

    assert api.last.path == "/openai/deployments/school-gpt4o/chat/completions"
    assert api.last.query == {"api-version": API_VERSION}
    assert "".join(e.delta for e in events) == "Dear families"
    assert events[-1].completion is not None and events[-1].completion.usage == Usage(12, 2)
