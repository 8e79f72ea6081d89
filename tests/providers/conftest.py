"""Fixtures for provider tests: the loopback fake APIs, a key source, providers that get closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from convergio.providers import Connection, Provider, build_provider
from tests.providers._servers import FakeAPI, LoopbackServer

KEY = "sk-test-SECRET-0123456789abcdef"
"""The tenant's key in these tests; no message, repr or error may ever show it."""

_SDK_ENVIRONMENT = (
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_ENDPOINT",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_CUSTOM_HEADERS",
)


class FakeSecret:
    """A ``KeySource`` that counts how often the key is revealed."""

    def __init__(self, value: str = KEY) -> None:
        self._value = value
        self.reveals = 0

    def reveal(self) -> str:
        self.reveals += 1
        return self._value

    def __repr__(self) -> str:
        return "'**********'"


@pytest.fixture(autouse=True)
def _no_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs read these; the providers must not depend on them."""
    for name in _SDK_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def _api_server() -> Iterator[FakeAPI]:
    api = FakeAPI()
    with LoopbackServer(api.app) as server:
        api.url = server.url
        yield api


@pytest.fixture
def api(_api_server: FakeAPI) -> Iterator[FakeAPI]:
    """The fake provider APIs on loopback, with no requests seen and no replies queued."""
    _api_server.reset()
    yield _api_server
    _api_server.reset()


@pytest.fixture
def secret() -> FakeSecret:
    return FakeSecret()


Build = Callable[..., Provider]


@pytest.fixture
def build() -> Iterator[Build]:
    """``build_provider`` whose providers are closed after the test."""
    built: list[Provider] = []

    def make(connection: Connection, key: object, **options: object) -> Provider:
        provider = build_provider(connection, key, **options)  # type: ignore[arg-type]
        built.append(provider)
        return provider

    yield make
    for provider in built:
        close = getattr(provider, "close", None)
        if close is not None:
            close()
