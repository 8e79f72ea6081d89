"""Fixtures for the plugin tests: a real wasmtime host, a registry in ``tmp_path``, a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convergio.plugins import KVStore, PluginHost, PluginRegistry

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "examples"
TENANT = "tenant-a"


@pytest.fixture
def host() -> Iterator[PluginHost]:
    with PluginHost() as plugin_host:
        yield plugin_host


@pytest.fixture
def kv(tmp_path: Path) -> Iterator[KVStore]:
    store = KVStore(tmp_path / "kv.sqlite")
    yield store
    store.close()


@pytest.fixture
def registry(tmp_path: Path, host: PluginHost, kv: KVStore) -> PluginRegistry:
    return PluginRegistry(tmp_path / "installed", host=host, kv=kv)
