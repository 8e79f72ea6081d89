"""A cancelled run's calls stop: the scope, its sleep and the shared watcher (ADR 0017, ADR 0036)."""

from __future__ import annotations

import threading
import time

import pytest

from convergio.providers import CallScope, ProviderError, _abort, abortable
from convergio.providers._abort import POLL_S, _current, abort_sleep


def test_an_abort_from_another_thread_ends_a_sleep_at_once() -> None:
    # The scope makes its wake-up event only when it first sleeps (most calls never do).
    scope = CallScope(lambda: False)
    threading.Timer(0.05, scope.abort).start()
    began = time.monotonic()
    with pytest.raises(ProviderError) as info:
        scope.sleep(5)
    assert info.value.code == "cancelled"
    assert time.monotonic() - began < 2


def test_a_scope_aborted_before_it_sleeps_or_calls_fails_at_once() -> None:
    scope = CallScope(lambda: False)
    scope.abort()
    assert scope.aborted
    began = time.monotonic()
    with pytest.raises(ProviderError):
        scope.sleep(5)
    with pytest.raises(ProviderError):
        scope.check()
    assert time.monotonic() - began < 1


def test_a_scope_that_slept_is_still_aborted_later() -> None:
    scope = CallScope(lambda: False)
    scope.sleep(0.001)  # makes the wake-up event
    threading.Timer(0.05, scope.abort).start()
    began = time.monotonic()
    with pytest.raises(ProviderError):
        scope.sleep(5)
    assert time.monotonic() - began < 2


@pytest.mark.parametrize("idle_after_s", [0.0, 60.0])
def test_the_watcher_stops_a_call_when_asked_also_after_it_went_idle(
    idle_after_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between calls the watcher has no scope: it waits to be woken (0), or polls on (60, the
    # usual case between calls of a busy host); either way the next scope's call is stopped.
    monkeypatch.setattr(_abort, "IDLE_AFTER_S", idle_after_s)
    for _ in range(3):
        stop = threading.Event()
        with abortable(stop.is_set) as scope:
            assert _current() is scope
            threading.Timer(0.05, stop.set).start()
            began = time.monotonic()
            with pytest.raises(ProviderError) as info:
                abort_sleep(5)
            assert info.value.code == "cancelled"
            assert time.monotonic() - began < 30 * POLL_S  # well before the 5 s sleep ends
        assert _current() is None
        time.sleep(2 * POLL_S)  # the watcher finds no scope and waits


def test_nested_scopes_restore_the_outer_one() -> None:
    with abortable(lambda: False) as outer:
        with abortable(lambda: False) as inner:
            assert _current() is inner
        assert _current() is outer
    assert _current() is None


def test_calls_between_polls_do_not_wake_the_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short calls one after another (a chain of agents) leave it polling: none of them wakes it."""
    monkeypatch.setattr(_abort, "IDLE_AFTER_S", 60.0)
    with abortable(lambda: False):
        time.sleep(2 * POLL_S)  # the watcher is running and has seen a scope
    notified: list[int] = []
    watcher = _abort._watcher
    monkeypatch.setattr(watcher, "_idle", _CountingCondition(watcher._idle, notified))
    for _ in range(50):
        with abortable(lambda: False):
            pass
        time.sleep(0.005)
    assert notified == []
    assert not watcher._waiting


class _CountingCondition:
    def __init__(self, inner: threading.Condition, notified: list[int]) -> None:
        self._inner, self._notified = inner, notified

    def notify(self, n: int = 1) -> None:
        self._notified.append(n)
        self._inner.notify(n)

    def wait(self, timeout: float | None = None) -> bool:
        return self._inner.wait(timeout)
