"""A tenant's named connection (its non-secret half) and the factory that builds its provider.

The key travels separately, as a ``KeySource``: an object that reveals the key only when
asked. Providers keep the ``KeySource`` and unwrap it inside the SDK client construction of
each call, so no provider attribute, repr or error ever holds the key as plain text.

The SDKs (``openai``, ``anthropic``) are imported only when a provider of theirs is built,
so the offline default never loads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable
from urllib.parse import urlsplit

from ._types import Provider

__all__ = ["Connection", "ConnectionKind", "KeySource", "build_provider"]

ConnectionKind = Literal["openai", "azure-openai", "anthropic", "openai-compatible", "offline"]

_KINDS = frozenset(get_args(ConnectionKind))
_KEYED_KINDS = frozenset({"openai", "azure-openai", "anthropic"})


@runtime_checkable
class KeySource(Protocol):
    """Anything that hands out a provider key on demand (e.g. ``convergio.secrets.Secret``).

    Implementations should keep the key out of their own ``repr``.
    """

    def reveal(self) -> str:
        """Return the key as plain text; call it only where the key is used."""
        ...


@dataclass(frozen=True, slots=True)
class Connection:
    """The non-secret part of a tenant's named provider connection.

    Attributes:
        kind: ``openai``, ``azure-openai``, ``anthropic``, ``openai-compatible`` (Ollama,
            MLX, vLLM... at ``endpoint``) or ``offline``.
        endpoint: The base URL. Optional for ``openai`` (``https://api.openai.com/v1``) and
            ``anthropic`` (``https://api.anthropic.com``); for ``azure-openai`` the resource
            URL (``https://NAME.openai.azure.com``); for ``openai-compatible`` the URL the
            server's ``/chat/completions`` hangs off (e.g. ``http://127.0.0.1:11434/v1``).
        deployment: Azure only: the deployment used when a request names no model.
        api_version: Azure only: the ``api-version`` query parameter (required there).
        model: The model used when a request names none.

    Raises:
        ValueError: an unknown kind, an endpoint that is not an http(s) URL, a missing
            ``endpoint`` (``azure-openai``, ``openai-compatible``) or ``api_version``
            (``azure-openai``), or Azure-only fields on another kind.
    """

    kind: ConnectionKind
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}")
        for name in ("endpoint", "deployment", "api_version", "model"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty string or None")
        if self.endpoint is not None and not _is_http_url(self.endpoint):
            raise ValueError("endpoint must be an http(s) URL with a host")
        if self.kind in ("azure-openai", "openai-compatible") and self.endpoint is None:
            raise ValueError(f"a {self.kind} connection needs an endpoint")
        if self.kind == "azure-openai" and self.api_version is None:
            raise ValueError("an azure-openai connection needs an api_version")
        if self.kind != "azure-openai" and (self.deployment is not None or self.api_version is not None):
            raise ValueError("deployment and api_version apply to azure-openai connections only")


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def build_provider(
    connection: Connection,
    key: KeySource | None,
    *,
    timeout_s: float = 60,
    max_retries: int = 0,
) -> Provider:
    """Build the provider a connection describes.

    The endpoint is taken as it is: check it first with ``check_endpoint`` (hosted mode
    must). Redirects are never followed, so an allowed endpoint cannot bounce a call to an
    internal address.

    Args:
        connection: What to talk to.
        key: The key (``None`` for ``offline``, optional for ``openai-compatible``, required
            otherwise). It is revealed only when each call builds its SDK client.
        timeout_s: Seconds a call may wait for the server when the request sets no
            ``timeout_s`` of its own.
        max_retries: Retries the SDK may make by itself. Keep 0: retry policy belongs to the
            orchestrator, which sees ``ProviderError.retryable`` and ``retry_after_s``.

    Returns:
        A provider; its ``name`` is the connection's kind.

    Raises:
        ValueError: a missing key, a bad ``timeout_s`` or a negative ``max_retries``.
    """
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError("timeout_s must be > 0")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be an integer >= 0")
    if connection.kind == "offline":
        from ._offline import OfflineProvider

        return OfflineProvider()
    if key is None and connection.kind in _KEYED_KINDS:
        raise ValueError(f"a {connection.kind} connection needs a key")
    if key is not None and not isinstance(key, KeySource):
        raise ValueError("key must have a reveal() method")
    if connection.kind == "anthropic":
        from ._anthropic import AnthropicProvider

        return AnthropicProvider(connection, key, timeout_s=timeout_s, max_retries=max_retries)
    if connection.kind == "azure-openai":
        from ._azure import AzureOpenAIProvider

        return AzureOpenAIProvider(connection, key, timeout_s=timeout_s, max_retries=max_retries)
    from ._openai import OpenAIProvider

    return OpenAIProvider(connection, key, timeout_s=timeout_s, max_retries=max_retries)
