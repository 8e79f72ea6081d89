"""The composition root: built once per process, read without a lock after that, a failed build not kept."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from convergio import wiring
from convergio.errors import StoreUnavailable
from convergio.settings import SettingsError
from convergio.wiring import configure_logging, log_levels


def test_components_are_built_once_even_when_threads_ask_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    gate = threading.Event()

    def build(settings: Any) -> Any:
        gate.wait(5)  # every thread asks while the first build is under way
        built.append(object())
        return built[-1]

    monkeypatch.setattr(wiring, "_built", None)
    monkeypatch.setattr(wiring, "load_settings", lambda: None)
    monkeypatch.setattr(wiring, "build", build)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(wiring.components())) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(built) == 1
    assert seen == built * 8
    assert wiring.components() is built[0]


def test_a_build_that_fails_on_the_state_directory_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []
    parts = object()

    def build(settings: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise PermissionError(13, "Permission denied")
        return parts

    monkeypatch.setattr(wiring, "_built", None)
    monkeypatch.setattr(wiring, "load_settings", lambda: None)
    monkeypatch.setattr(wiring, "build", build)
    with pytest.raises(StoreUnavailable, match="state directory is unavailable"):
        wiring.components()
    assert wiring.components() is parts
    assert wiring.components() is parts
    assert len(attempts) == 2


def test_log_levels_set_convergio_loggers_and_refuse_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    assert log_levels(" convergio.agents=debug , convergio=WARNING,") == [
        ("convergio.agents", logging.DEBUG),
        ("convergio", logging.WARNING),
    ]
    assert log_levels("") == []
    for bad in ("openai=DEBUG", "convergio.agents", "convergio.agents=LOUD", "convergiox=INFO"):
        with pytest.raises(SettingsError, match="CONVERGIO_LOG_LEVELS"):
            log_levels(bad)
    monkeypatch.setenv("CONVERGIO_LOG_LEVELS", "convergio.agents=DEBUG")
    logger = logging.getLogger("convergio.agents")
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    configure_logging()
    assert logger.level == logging.DEBUG
