"""Connections and ``build_provider``: validation, key handling, lazy SDK imports, sharing."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from convergio.providers import (
    CompletionRequest,
    Connection,
    KeySource,
    Message,
    OfflineProvider,
    Provider,
    Usage,
    build_provider,
)
from tests.providers._servers import FakeAPI, anthropic_message, chat_completion, json_reply
from tests.providers.conftest import KEY, Build, FakeSecret


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "gemini"}, "kind must be one of"),
        ({"kind": "openai-compatible"}, "needs an endpoint"),
        ({"kind": "azure-openai", "endpoint": "https://x.openai.azure.com"}, "needs an api_version"),
        ({"kind": "azure-openai", "api_version": "2024-10-21"}, "needs an endpoint"),
        ({"kind": "openai", "deployment": "d"}, "azure-openai connections only"),
        ({"kind": "openai", "endpoint": "api.openai.com"}, "http"),
        ({"kind": "openai", "endpoint": "file:///etc/passwd"}, "http"),
        ({"kind": "openai", "model": "  "}, "non-empty string"),
    ],
)
def test_connections_refuse_impossible_shapes(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Connection(**fields)


def test_build_provider_checks_its_arguments() -> None:
    openai = Connection("openai")
    with pytest.raises(ValueError, match="needs a key"):
        build_provider(openai, None)
    with pytest.raises(ValueError, match="reveal"):
        build_provider(openai, "sk-plain-string")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        build_provider(openai, FakeSecret(), timeout_s=0)
    with pytest.raises(ValueError, match="max_retries"):
        build_provider(openai, FakeSecret(), max_retries=-1)


def test_an_offline_connection_builds_the_simulator() -> None:
    provider = build_provider(Connection("offline"), None)
    assert isinstance(provider, OfflineProvider)


@pytest.mark.parametrize(
    ("connection", "name", "model"),
    [
        (Connection("openai", model="gpt-4o-mini"), "openai", "gpt-4o-mini"),
        (Connection("anthropic", model="claude-test-1"), "anthropic", "claude-test-1"),
        (
            Connection(
                "azure-openai", endpoint="https://s.openai.azure.com", deployment="d", api_version="v"
            ),
            "azure-openai",
            "d",
        ),
        (Connection("openai-compatible", endpoint="http://127.0.0.1:11434/v1"), "openai-compatible", ""),
    ],
)
def test_providers_hold_no_plain_key_and_reveal_it_only_per_call(
    build: Build, connection: Connection, name: str, model: str
) -> None:
    secret = FakeSecret()
    provider = build(connection, secret)

    assert isinstance(provider, Provider)
    assert (provider.name, provider.default_model) == (name, model)
    assert secret.reveals == 0
    assert KEY not in repr(provider) and KEY not in str(provider)
    assert all(KEY not in repr(value) for value in vars(provider).values())


def test_one_provider_serves_concurrent_calls(api: FakeAPI, build: Build) -> None:
    secret = FakeSecret()
    provider = build(Connection("openai", endpoint=f"{api.url}/v1", model="gpt-4o-mini"), secret)
    api.queue(*[json_reply(chat_completion("ok", usage=(3, 1))) for _ in range(16)])
    request = CompletionRequest(None, (Message("user", "hi"),))

    with ThreadPoolExecutor(max_workers=8) as pool:
        completions = list(pool.map(lambda _: provider.complete(request), range(16)))

    assert all(c.usage == Usage(3, 1) for c in completions)
    assert len(api.seen) == 16 and secret.reveals == 16
    assert {seen.headers["authorization"] for seen in api.seen} == {f"Bearer {KEY}"}


def test_key_rotation_takes_effect_on_the_next_call(api: FakeAPI, build: Build) -> None:
    class Rotating:
        def __init__(self) -> None:
            self.value = "sk-old"

        def reveal(self) -> str:
            return self.value

    key = Rotating()
    assert isinstance(key, KeySource)
    provider = build(Connection("openai", endpoint=f"{api.url}/v1", model="m"), key)
    api.queue(json_reply(chat_completion("a")), json_reply(chat_completion("b")))
    request = CompletionRequest(None, (Message("user", "hi"),))

    provider.complete(request)
    key.value = "sk-new"
    provider.complete(request)

    assert [seen.headers["authorization"] for seen in api.seen] == ["Bearer sk-old", "Bearer sk-new"]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_provider_dropped_without_close_closes_its_connections(api: FakeAPI, kind: str) -> None:
    endpoint = f"{api.url}/v1" if kind == "openai" else api.url
    provider = build_provider(Connection(kind, endpoint=endpoint, model="m"), FakeSecret())  # type: ignore[arg-type]
    answer = chat_completion("x") if kind == "openai" else anthropic_message([{"type": "text", "text": "x"}])
    api.queue(json_reply(answer))
    provider.complete(CompletionRequest(None, (Message("user", "hi"),)))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del provider
        gc.collect()

    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_the_offline_default_never_imports_the_sdks() -> None:
    script = textwrap.dedent(
        """
        import sys
        from convergio.providers import (
            CompletionRequest, Connection, Message, build_provider, check_endpoint, get_provider
        )
        request = CompletionRequest(None, (Message("user", "hello"),))
        get_provider("offline").complete(request)
        list(build_provider(Connection("offline"), None).stream(request))
        check_endpoint("http://127.0.0.1:1", allowed_hosts=(), local_mode=True)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("openai", "anthropic", "httpx2"))
        print(loaded)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
