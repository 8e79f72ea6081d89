"""Fixtures for the plugin tests: a real wasmtime host, a registry in ``tmp_path``, a loopback server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

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


class LoopbackServer:
    """An ASGI app served by uvicorn on 127.0.0.1, on a port the OS picks, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="plugin-loopback", daemon=True)
        self.port = 0

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
