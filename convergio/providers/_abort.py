"""Stop a provider call when its run is cancelled: before it starts, and while it is in flight.

A cancelled run must not keep paying for model calls (ADR 0017). The SDKs block their thread
in a socket read while a model thinks or streams, and a Python thread cannot be interrupted, so
the call is aborted where it waits: on its socket.

- ``abortable(should_stop)`` opens a :class:`CallScope` for the calling thread. One shared
  watcher thread asks every open scope's ``should_stop`` each ``POLL_S`` and aborts the scopes
  that answer yes.
- Aborting shuts down the sockets the scope's thread is reading or writing at that moment
  (``AbortableBackend``, wrapped around the network backend of each provider's HTTP pool by
  ``install``): the blocked read returns at once and the SDK raises. Every later connect,
  read or write of that thread fails at once too. The SDKs bundle their own ``httpx2`` and
  ``httpcore2``, so the wrapper is duck-typed to their backend interface.
- ``CallScope.wrap(provider)`` turns whatever the aborted call raised into
  ``ProviderError("cancelled")`` (not retryable), so the agent runner ends the attempt with the
  usage the provider reported for the turns that did finish, and that usage is billed.
- ``abort_sleep`` is a sleep the scope cuts short (the offline provider's latency).

Only the thread that opened a scope is affected: other runs' calls share the same pools and
never notice.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._types import Completion, CompletionRequest, Provider, ProviderError, StreamEvent

__all__ = [
    "POLL_S",
    "AbortableBackend",
    "CallScope",
    "abort_sleep",
    "abortable",
    "cancelled_error",
    "install",
]

POLL_S = 0.1
"""How often the watcher asks each open scope whether to stop."""

IDLE_AFTER_S = 2.0
"""How long the watcher keeps polling with no open scope before it waits to be woken: calls a
few milliseconds apart (a chain of agents) then never wake it, each one a thread switch."""

_log = logging.getLogger("convergio.providers")
_local = threading.local()


def cancelled_error() -> ProviderError:
    return ProviderError("cancelled", "the run was cancelled", retryable=False)


class CallScope:
    """The provider calls of one thread, until its ``abortable`` block ends."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop
        self._lock = threading.Lock()
        self._aborted = False
        self._wakeup: threading.Event | None = None  # made by the first ``sleep``: most calls never sleep
        self._sockets: set[socket.socket] = set()

    @property
    def aborted(self) -> bool:
        return self._aborted

    def abort(self) -> None:
        """Stop: fail what the thread does next, and shut the sockets it is blocked on now."""
        with self._lock:
            self._aborted = True
            wakeup = self._wakeup
            sockets = list(self._sockets)
        if wakeup is not None:
            wakeup.set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown, also under TLS: it wakes the blocked read and
                # leaves the SSL object alone (another thread is inside it).
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def check(self) -> None:
        """Raise ``ProviderError("cancelled")`` once the scope is aborted."""
        if self.aborted:
            raise cancelled_error()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            if self._aborted:
                raise cancelled_error()
            if self._wakeup is None:
                self._wakeup = threading.Event()
            wakeup = self._wakeup
        if wakeup.wait(seconds):  # set by ``abort``, which reads ``_wakeup`` under the lock
            raise cancelled_error()

    @contextlib.contextmanager
    def using(self, sock: socket.socket | None) -> Iterator[None]:
        """Mark ``sock`` as in use by this scope's thread for one read or write."""
        with self._lock:
            if self.aborted:
                raise ConnectionAbortedError("the run was cancelled")
            if sock is not None:
                self._sockets.add(sock)
        try:
            yield
        finally:
            if sock is not None:
                with self._lock:
                    self._sockets.discard(sock)

    def wrap(self, provider: Provider) -> Provider:
        """``provider``, with its calls checked first and their failures read as cancellation once aborted."""
        return _Cancellable(provider, self)


class _Cancellable:
    """A provider whose calls end ``ProviderError("cancelled")`` once its scope is aborted."""

    def __init__(self, inner: Provider, scope: CallScope) -> None:
        self.name = inner.name
        self.default_model = inner.default_model
        self._inner, self._scope = inner, scope

    def complete(self, request: CompletionRequest) -> Completion:
        self._scope.check()
        try:
            return self._inner.complete(request)
        except Exception:
            if self._scope.aborted:
                raise cancelled_error() from None
            raise

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        self._scope.check()
        try:
            yield from self._inner.stream(request)
        except Exception:
            if self._scope.aborted:
                raise cancelled_error() from None
            raise


class _Watcher:
    """One daemon thread asking the open scopes whether to stop, every ``POLL_S``."""

    def __init__(self) -> None:
        self._scopes: set[CallScope] = set()
        self._lock = threading.Lock()  # taken as is on every call: a Condition's own lock is Python code
        self._idle = threading.Condition(self._lock)
        self._waiting = False  # the loop waits for a scope (read and written under ``_lock``)
        self._opened = 0  # scopes opened so far: the loop sees calls that began and ended between polls
        self._thread: threading.Thread | None = None

    def add(self, scope: CallScope) -> None:
        with self._lock:
            self._scopes.add(scope)
            self._opened += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="call-abort", daemon=True)
                self._thread.start()
            if self._waiting:
                self._idle.notify()

    def remove(self, scope: CallScope) -> None:
        with self._lock:
            self._scopes.discard(scope)

    def _loop(self) -> None:
        opened, busy_at = -1, time.monotonic()
        while True:
            with self._lock:
                if self._scopes or self._opened != opened:
                    opened, busy_at = self._opened, time.monotonic()
                elif time.monotonic() - busy_at >= IDLE_AFTER_S:
                    while not self._scopes:
                        self._waiting = True
                        self._idle.wait()
                        self._waiting = False
                # Until then a scope opened while the loop sleeps is asked at the next poll,
                # within POLL_S, as between any two polls (the activity asks before its call).
                scopes = list(self._scopes)
            for scope in scopes:
                if scope.aborted:
                    continue
                try:
                    stop = scope.should_stop()
                except Exception:  # a store that cannot answer now: ask again next time
                    _log.warning("cannot tell whether a call should stop", exc_info=True)
                    continue
                if stop:
                    scope.abort()
            time.sleep(POLL_S)


_watcher = _Watcher()


class abortable:  # lower case: it reads as a function, ``with abortable(...) as scope``
    """Calls made by this thread inside the block stop soon after ``should_stop()`` turns true.

    A class rather than a generator-based context manager: it is entered on every agent call.
    """

    __slots__ = ("_outer", "_scope")

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self._scope = CallScope(should_stop)
        self._outer: CallScope | None = None

    def __enter__(self) -> CallScope:
        scope = self._scope
        self._outer = getattr(_local, "scope", None)
        _local.scope = scope
        _watcher.add(scope)
        return scope

    def __exit__(self, *exc: object) -> None:
        _watcher.remove(self._scope)
        _local.scope = self._outer


def _current() -> CallScope | None:
    scope: CallScope | None = getattr(_local, "scope", None)
    return scope


def abort_sleep(seconds: float) -> None:
    """``time.sleep``, cut short with ``ProviderError("cancelled")`` when the thread's scope aborts."""
    scope = _current()
    if scope is None:
        time.sleep(seconds)
    else:
        scope.sleep(seconds)


class _Stream:
    """A connection whose reads and writes the current thread's scope can cut short."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _use(self) -> contextlib.AbstractContextManager[None]:
        scope = _current()
        if scope is None:
            return contextlib.nullcontext()
        sock = self._inner.get_extra_info("socket")
        return scope.using(sock if isinstance(sock, socket.socket) else None)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with self._use():
            data: bytes = self._inner.read(max_bytes, timeout)
            return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with self._use():
            self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> _Stream:
        with self._use():
            return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class AbortableBackend:
    """A network backend (``httpcore``'s interface) whose connections the current thread's scope can abort."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _Stream:
        scope = _current()
        if scope is not None and scope.aborted:
            raise ConnectionAbortedError("the run was cancelled")
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _Stream:
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: Any) -> Any:
    """Put ``AbortableBackend`` under an httpx client's connection pool; returns the client.

    httpx does not expose the pool's network backend, so this reaches its (long stable)
    attributes; if they ever move, calls still stop at their next check, only not mid-read.
    """
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, AbortableBackend):
        return client
    if callable(getattr(backend, "connect_tcp", None)):
        pool._network_backend = AbortableBackend(backend)  # type: ignore[union-attr]
    else:
        _log.warning("provider HTTP calls cannot be aborted mid-flight: unknown httpx internals")
    return client
