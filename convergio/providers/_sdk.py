"""The call flow that the SDK-backed chat providers share: one body, one SDK call, one answer.

Anthropic's Messages API and OpenAI's chat completions differ in their wire format, not in
how a call runs: build the body, call the SDK's ``create`` (whole, or with ``stream=True``),
turn the answer (or the stream's events, under one deadline) into a ``Completion``, and turn
the SDK's exceptions into ``ProviderError``s. Both SDKs are generated from one template and
share one exception tree (``APITimeoutError``, ``APIConnectionError``, ``APIStatusError``...),
so the translation is one function too; only the reading of an error body is the provider's.
The SDKs are imported by the subclasses, at call time (cold starts stay short).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ._http import SDKProvider, as_dict, bad_response, connection_error, relay_stream, timeout_error
from ._types import Completion, CompletionRequest, ProviderError, StreamEvent

if TYPE_CHECKING:
    from types import ModuleType

    from ._connection import Connection, KeySource

__all__ = ["SDKChatProvider", "StreamReader", "sdk_error"]


class StreamReader(Protocol):
    """Accumulates one SDK stream's events into the whole answer."""

    def feed(self, event: Mapping[str, Any]) -> str:
        """Take one event (as the JSON object the server sent); return the text it adds."""
        ...

    def completion(self, request: CompletionRequest, model: str) -> Completion:
        """The answer, once the stream has ended."""
        ...


class SDKChatProvider(SDKProvider):
    """A provider that answers with one SDK ``create`` call, whole or streamed.

    Subclasses set ``default_base_url``, ``passthrough`` and ``stream_args`` and implement
    ``_create``, ``_body``, ``_parse``, ``_reader`` and ``_error``; they build their SDK
    client from ``self._base_url`` and ``self._sdk_options(timeout_s)``.

    Args:
        connection: The connection; its ``endpoint`` is the base URL (default
            ``default_base_url``).
        key: The key source (``None`` for keyless servers).
        timeout_s: Default per-call timeout in seconds.
        max_retries: Retries the SDK may make by itself.
    """

    default_base_url: ClassVar[str] = ""
    """Where a connection without an endpoint goes ("" where the endpoint is required)."""

    passthrough: ClassVar[tuple[str, ...]] = ()
    """``request.options`` sent on as they are; other options (e.g. the offline ones) are ignored."""

    stream_args: ClassVar[Mapping[str, Any]] = {"stream": True}
    """What ``create`` gets on top of the body to stream its answer."""

    def __init__(
        self, connection: Connection, key: KeySource | None, *, timeout_s: float, max_retries: int
    ) -> None:
        super().__init__(connection, key, timeout_s=timeout_s, max_retries=max_retries)
        self._base_url = connection.endpoint or self.default_base_url

    def _sdk_options(self, timeout_s: float) -> dict[str, Any]:
        """The SDK client's key (revealed here), timeout and retries, on the shared pool."""
        return {
            "api_key": self._reveal(),
            "timeout": timeout_s,
            "max_retries": self._max_retries,
            "http_client": self._http(),
        }

    def _create(self, timeout_s: float) -> Callable[..., Any]:
        """The SDK's ``create`` method, on a new client for one call."""
        raise NotImplementedError

    def _body(self, request: CompletionRequest, model: str) -> dict[str, Any]:
        """The request's wire body, without the pass-through options."""
        raise NotImplementedError

    def _parse(self, data: Mapping[str, Any], request: CompletionRequest, model: str) -> Completion:
        """A whole answer (as the JSON object the server sent) as a ``Completion``."""
        raise NotImplementedError

    def _reader(self) -> StreamReader:
        """A new accumulator for one stream's events."""
        raise NotImplementedError

    @staticmethod
    def _error(provider: str, exc: Exception, timeout_s: float) -> ProviderError:
        """The SDK's exception as a ``ProviderError`` (other exceptions are raised again)."""
        raise NotImplementedError

    def _request(self, request: CompletionRequest, model: str) -> dict[str, Any]:
        body = self._body(request, model)
        for name in self.passthrough:
            if name in request.options:
                body[name] = request.options[name]
        return body

    def complete(self, request: CompletionRequest) -> Completion:
        """Answer one request with one call.

        Args:
            request: The request.

        Returns:
            The answer, with the server's usage (estimated locally, and marked so, if it sent none).

        Raises:
            ProviderError: the call failed; see ``ProviderError`` for the codes.
        """
        model = self._model(request)
        timeout_s = self._timeout(request)
        try:
            answer = self._create(timeout_s)(**self._request(request, model))
        except Exception as exc:
            raise self._error(self.name, exc, timeout_s) from None
        return self._parse(as_dict(self.name, answer), request, model)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        """Answer one request as the server streams it.

        Args:
            request: The request.

        Yields:
            Text deltas as they arrive, then the completion (usage estimated locally, and
            marked so, when the stream carried none).

        Raises:
            ProviderError: the call failed, or the whole stream took longer than the timeout.
        """
        model = self._model(request)
        timeout_s = self._timeout(request)
        reader = self._reader()
        yield from relay_stream(
            self.name,
            lambda: self._create(timeout_s)(**self._request(request, model), **self.stream_args),
            reader.feed,
            timeout_s,
            self._error,
        )
        yield StreamEvent(completion=reader.completion(request, model))


def sdk_error(
    provider: str,
    exc: Exception,
    timeout_s: float,
    sdk: ModuleType,
    base: type[Exception],
    api_error: Callable[[str, Any], ProviderError | None],
) -> ProviderError:
    """An exception of the ``openai`` or ``anthropic`` SDK as a ``ProviderError``.

    Args:
        provider: The provider's name, for messages.
        exc: What the call raised.
        timeout_s: The call's timeout, for the ``timeout`` message.
        sdk: The SDK module (its exception classes are read from it).
        base: The SDK's base exception (``openai.OpenAIError``, ``anthropic.AnthropicError``).
        api_error: Reads an ``sdk.APIError`` the server answered with (HTTP status or an
            error event mid-stream); ``None`` leaves it to the generic ``bad_response``.

    Raises:
        Exception: ``exc`` itself when it is not an SDK error.
    """
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, sdk.APITimeoutError):
        return timeout_error(provider, timeout_s)
    if isinstance(exc, sdk.APIConnectionError):
        return connection_error(provider)
    if isinstance(exc, sdk.APIResponseValidationError):
        return bad_response(provider, f"HTTP {exc.status_code} answer does not fit the API schema")
    if isinstance(exc, sdk.APIError) and (error := api_error(provider, exc)) is not None:
        return error
    if isinstance(exc, base):
        return bad_response(provider, type(exc).__name__)
    raise exc
