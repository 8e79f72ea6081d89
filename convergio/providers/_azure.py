"""Azure OpenAI through ``openai.AzureOpenAI``: deployments, ``api-version`` and the ``api-key`` header.

Calls go to ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...``.
The deployment is the request's model when it names one, else the connection's
``deployment`` (then its ``model``). Azure's content filter shows up as a 400 with code
``content_filter`` or as ``finish_reason: content_filter``; both become
``ProviderError("content_filtered")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._openai_wire import ChatCompletionsProvider

if TYPE_CHECKING:
    import openai

    from ._connection import Connection, KeySource

__all__ = ["AzureOpenAIProvider"]


class AzureOpenAIProvider(ChatCompletionsProvider):
    """An Azure OpenAI resource (``kind`` ``azure-openai``).

    Args:
        connection: The connection: ``endpoint`` is the resource URL, ``api_version`` the API
            version, ``deployment`` the default deployment.
        key: The key source (sent as the ``api-key`` header).
        timeout_s: Default per-call timeout in seconds.
        max_retries: Retries the SDK may make by itself.
    """

    def __init__(
        self, connection: Connection, key: KeySource | None, *, timeout_s: float, max_retries: int
    ) -> None:
        super().__init__(connection, key, timeout_s=timeout_s, max_retries=max_retries)
        self.default_model = connection.deployment or connection.model or ""
        self._api_version = connection.api_version or ""

    def _client(self, timeout_s: float) -> openai.OpenAI:
        import openai

        return openai.AzureOpenAI(
            azure_endpoint=self._base_url, api_version=self._api_version, **self._sdk_options(timeout_s)
        )
