"""The education plugins installed in a real registry on the real wasmtime host, and calls to them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from convergio.plugins import PluginHost, PluginRegistry
from tests._helpers import ROOT

EDUCATION = ROOT / "plugins" / "education"
PLUGINS = ("edu-safety", "edu-format", "edu-quiz")
TENANT = "rome-primary"

Call = Callable[..., dict[str, Any]]


@pytest.fixture(scope="package")
def edu_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginRegistry]:
    with PluginHost() as host:
        registry = PluginRegistry(tmp_path_factory.mktemp("edu-plugins"), host=host)
        for name in PLUGINS:
            registry.install(TENANT, EDUCATION / name)
        yield registry


def _caller(registry: PluginRegistry, tool: str) -> Call:
    def call(**arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(registry.call_plugin_tool(TENANT, tool, arguments))
        return answer

    return call


@pytest.fixture(scope="package")
def review(edu_registry: PluginRegistry) -> Call:
    """``edu-safety.review``: ``review(text=..., stage=...)`` -> the decoded answer."""
    return _caller(edu_registry, "edu-safety.review")


@pytest.fixture(scope="package")
def fmt(edu_registry: PluginRegistry) -> Call:
    """``edu-format.format``."""
    return _caller(edu_registry, "edu-format.format")


@pytest.fixture(scope="package")
def grade(edu_registry: PluginRegistry) -> Call:
    """``edu-quiz.grade``."""
    return _caller(edu_registry, "edu-quiz.grade")
