"""OpenAI, and any OpenAI-compatible server (Ollama, MLX, vLLM...), through ``openai.OpenAI``.

Both speak ``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>``. The
compatible kind differs only in its base URL (the connection's ``endpoint``), an optional
key, and the output cap it sends (``max_tokens``, which such servers understand, instead of
OpenAI's newer ``max_completion_tokens``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._openai_wire import ChatCompletionsProvider

if TYPE_CHECKING:
    import openai

    from ._connection import Connection, KeySource

__all__ = ["OPENAI_BASE_URL", "OpenAIProvider"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
"""Where an ``openai`` connection without an endpoint goes."""


class OpenAIProvider(ChatCompletionsProvider):
    """OpenAI's API or an OpenAI-compatible server (``kind`` ``openai`` / ``openai-compatible``).

    Args:
        connection: The connection; its ``endpoint`` is the base URL (default
            ``OPENAI_BASE_URL`` for ``openai``).
        key: The key source; ``None`` only for a compatible server that needs no key (a
            placeholder bearer token is sent, as the SDK requires one).
        timeout_s: Default per-call timeout in seconds.
        max_retries: Retries the SDK may make by itself.
    """

    default_base_url = OPENAI_BASE_URL

    def __init__(
        self, connection: Connection, key: KeySource | None, *, timeout_s: float, max_retries: int
    ) -> None:
        super().__init__(connection, key, timeout_s=timeout_s, max_retries=max_retries)
        if connection.kind == "openai-compatible":
            self._max_tokens_field = "max_tokens"

    def _client(self, timeout_s: float) -> openai.OpenAI:
        import openai

        return openai.OpenAI(base_url=self._base_url, **self._sdk_options(timeout_s))
