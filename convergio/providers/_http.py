"""Shared plumbing of the providers that reach a model over HTTP through an official SDK.

* ``SDKProvider``: the base class. It keeps the connection, the ``KeySource`` (never the
  key itself) and one pooled HTTP client that carries no credentials; each call builds a
  cheap SDK client on top of that pool, revealing the key only there.
* Error normalisation: an HTTP status, a few headers and a short code from the body become
  a ``ProviderError``. Messages name the provider, the status and at most a code that
  matches a strict pattern; never the body, the prompt, the headers or the key.
* ``estimate_usage``: local token counts, marked ``estimated``, for answers that came
  without usage.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._tokens import count_message_tokens, count_tokens, tool_call_tokens
from ._types import CompletionRequest, Provider, ProviderError, StreamEvent, ToolCall, Usage

if TYPE_CHECKING:
    from ._connection import Connection, KeySource

__all__ = [
    "CONTEXT_TOO_LONG",
    "SDKProvider",
    "answered_model",
    "as_dict",
    "bad_response",
    "connection_error",
    "estimate_usage",
    "parse_arguments",
    "relay_stream",
    "retry_after",
    "safe_token",
    "status_error",
    "stream_error",
    "timeout_error",
    "token_count",
]

_SAFE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_MAX_RETRY_AFTER_S = 86_400.0

CONTEXT_TOO_LONG = re.compile(
    r"context[_ ]length|maximum context|context window|context limit|prompt is too long|too many tokens",
    re.IGNORECASE,
)
"""Phrases of 400 answers that mean the prompt does not fit the model (matched, never echoed)."""

_NO_KEY = "unused"
"""What a keyless OpenAI-compatible connection sends as its bearer token (the SDK needs one)."""


class _Pool:
    """One provider's lazily opened, credential-free HTTP client, shared by its calls."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._client: Any = None

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class SDKProvider(Provider):
    """Base of the SDK-backed providers: connection, key source, pooled client, timeouts.

    Subclasses implement ``complete``, ``stream`` and ``_new_pool`` and build their SDK
    client with ``self._http()`` as its ``http_client`` and ``self._reveal()`` as its key.
    The pooled connections close with ``close()``, on leaving a ``with`` block, or when the
    provider is garbage-collected, whichever comes first.

    Args:
        connection: The connection it serves.
        key: Where the key comes from (``None`` for keyless servers).
        timeout_s: The default per-call timeout in seconds.
        max_retries: Retries the SDK may make by itself (0: ours decide).
    """

    name: str
    default_model: str

    def __init__(
        self, connection: Connection, key: KeySource | None, *, timeout_s: float, max_retries: int
    ) -> None:
        self.name = connection.kind
        self.default_model = connection.model or ""
        self._connection = connection
        self._key = key
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._pool = _Pool(type(self)._new_pool)
        weakref.finalize(self, self._pool.close)

    def __repr__(self) -> str:
        c = self._connection
        return (
            f"{type(self).__name__}(kind={c.kind!r}, endpoint={c.endpoint!r}, model={self.default_model!r})"
        )

    def __enter__(self) -> SDKProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled HTTP connections (the provider reopens them if used again)."""
        self._pool.close()

    @staticmethod
    def _new_pool() -> Any:
        """A new credential-free HTTP client for the SDK (redirects off)."""
        raise NotImplementedError

    def _http(self) -> Any:
        return self._pool.get()

    def _reveal(self) -> str:
        return _NO_KEY if self._key is None else self._key.reveal()

    def _timeout(self, request: CompletionRequest) -> float:
        return request.timeout_s if request.timeout_s is not None else self._timeout_s

    def _model(self, request: CompletionRequest) -> str:
        model = request.model or self.default_model
        if not model:
            raise ProviderError(
                "bad_request",
                f"{self.name}: no model: name one in the agent or in the connection",
                retryable=False,
            )
        return model


def safe_token(value: object) -> str | None:
    """``value`` if it is a short identifier-like string (safe to put in a message), else ``None``."""
    if isinstance(value, str) and _SAFE_TOKEN.fullmatch(value):
        return value
    return None


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait as the answer's headers ask (``retry-after-ms``, then ``retry-after``).

    ``retry-after`` may be seconds or an HTTP date. Unparseable or absent headers give
    ``None``; values are clipped to 0..86400.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    seconds: float | None = None
    if (millis := _number(lowered.get("retry-after-ms"))) is not None:
        seconds = millis / 1000
    elif (raw := lowered.get("retry-after")) is not None:
        seconds = _number(raw)
        if seconds is None:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
            seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds is None:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def status_error(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    *,
    code: str | None = None,
    context_too_long: bool = False,
    content_filtered: bool = False,
    request_id: str | None = None,
) -> ProviderError:
    """Normalise an HTTP error answer.

    Args:
        provider: The provider's name, for the message.
        status: The HTTP status.
        headers: The answer's headers (only ``retry-after``/``retry-after-ms`` are read).
        code: The error code or type from the body; shown only if ``safe_token`` accepts it.
        context_too_long: The body says the prompt does not fit the model.
        content_filtered: The body says a content filter refused the request.
        request_id: The provider's request id, shown (if safe) to help operators.

    Returns:
        ``auth`` for 401/403, ``rate_limited`` for 429, ``timeout`` for 408,
        ``unavailable`` for 409 and 5xx, ``context_too_long`` / ``content_filtered`` as
        flagged, ``bad_request`` for other statuses.
    """
    detail = f"{provider} answered HTTP {status}"
    if shown := safe_token(code):
        detail += f" ({shown})"
    if shown_id := safe_token(request_id):
        detail += f", request id {shown_id}"
    wait = retry_after(headers)
    if content_filtered:
        return ProviderError("content_filtered", f"{detail}: refused by the content filter", retryable=False)
    if context_too_long:
        return ProviderError("context_too_long", f"{detail}: the prompt is too long for the model")
    if status in (401, 403):
        return ProviderError("auth", f"{detail}: the key was refused or lacks access", retryable=False)
    if status == 429:
        after = "" if wait is None else f"; retry after {wait:g}s"
        return ProviderError("rate_limited", f"{detail}: rate limited{after}", retry_after_s=wait)
    if status == 408:
        return ProviderError("timeout", f"{detail}: the server timed out")
    if status == 409 or status >= 500:
        return ProviderError("unavailable", f"{detail}: try again later", retry_after_s=wait)
    if status == 404:
        return ProviderError("bad_request", f"{detail}: check the model or deployment name and the endpoint")
    return ProviderError("bad_request", f"{detail}: the request was refused", retryable=False)


def stream_error(
    provider: str, code: str | None, *, context_too_long: bool = False, content_filtered: bool = False
) -> ProviderError:
    """Normalise an error event sent in the middle of a stream (after an HTTP 200).

    Returns:
        ``content_filtered`` / ``context_too_long`` as flagged, else a retryable ``unavailable``.
    """
    shown = safe_token(code)
    detail = f"{provider} reported an error mid-stream" + (f" ({shown})" if shown else "")
    if content_filtered:
        return ProviderError("content_filtered", f"{detail}: refused by the content filter", retryable=False)
    if context_too_long:
        return ProviderError("context_too_long", f"{detail}: the prompt is too long for the model")
    return ProviderError("unavailable", f"{detail}: try again later")


def timeout_error(provider: str, timeout_s: float) -> ProviderError:
    """A retryable ``timeout``: no (complete) answer within ``timeout_s`` seconds."""
    return ProviderError("timeout", f"{provider}: no answer within {timeout_s:g}s")


def connection_error(provider: str) -> ProviderError:
    """A retryable ``unavailable``: the server could not be reached or dropped the connection."""
    return ProviderError("unavailable", f"{provider}: could not connect to the endpoint")


def bad_response(provider: str, what: str) -> ProviderError:
    """A non-retryable ``bad_response``: the answer cannot be used (``what`` says why)."""
    return ProviderError("bad_response", f"{provider}: unusable answer: {what}", retryable=False)


def parse_arguments(provider: str, name: str, raw: object) -> dict[str, Any]:
    """A tool call's arguments: a JSON object (as text, or already decoded); ``""`` is ``{}``.

    Raises:
        ProviderError: ``bad_response`` when they are not a JSON object.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    label = safe_token(name) or "a tool"
    if not isinstance(raw, str):
        raise bad_response(provider, f"the arguments of the call to {label} are not a JSON object")
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad_response(provider, f"the arguments of the call to {label} are not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_response(provider, f"the arguments of the call to {label} are not a JSON object")
    return value


def relay_stream(
    provider: str,
    open_stream: Callable[[], AbstractContextManager[Iterable[object]]],
    feed: Callable[[Mapping[str, Any]], str],
    timeout_s: float,
    translate: Callable[[str, Exception, float], ProviderError],
) -> Iterator[StreamEvent]:
    """An SDK stream's text deltas, under one deadline for the whole stream, SDK errors translated.

    Args:
        provider: The provider's name, for errors.
        open_stream: Opens the SDK's stream (a context manager over its events).
        feed: Takes each event as a JSON object and returns the new answer text ("" for none).
        timeout_s: The whole stream must end within this many seconds.
        translate: The SDK's exception to a ``ProviderError``.

    Raises:
        ProviderError: the call failed, or the stream outlasted the timeout.
    """
    deadline = time.monotonic() + timeout_s
    try:
        with open_stream() as stream:
            for event in stream:
                added = feed(as_dict(provider, event))
                if added:
                    yield StreamEvent(delta=added)
                if time.monotonic() > deadline:
                    raise timeout_error(provider, timeout_s)
    except ProviderError:
        raise
    except Exception as exc:
        raise translate(provider, exc, timeout_s) from None


def as_dict(provider: str, value: object) -> Mapping[str, Any]:
    """An SDK model (or a plain mapping) as the JSON object the server sent.

    Raises:
        ProviderError: ``bad_response`` when the answer is not a JSON object.
    """
    if isinstance(value, Mapping):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        data = to_dict(warnings=False)
        if isinstance(data, Mapping):
            return data
    raise bad_response(provider, "not a JSON object")


def estimate_usage(request: CompletionRequest, text: str, calls: tuple[ToolCall, ...]) -> Usage:
    """Usage counted locally (``estimated=True``) for an answer that reported none."""
    completion = count_tokens(text) + sum(tool_call_tokens(call) for call in calls)
    return Usage(count_message_tokens(request.messages), completion, estimated=True)


def answered_model(data: Mapping[str, Any], fallback: str) -> str:
    """The model the answer names, or ``fallback`` when it names none."""
    model = data.get("model")
    return model if isinstance(model, str) and model else fallback


def token_count(value: object) -> int | None:
    """A token count from a usage object: a non-negative int, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
