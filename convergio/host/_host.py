"""``EmbeddedHost``: load an app folder the way Core Tools does and serve it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from ._durable_api import PREFIX
from ._engine import Engine, EngineConfig
from ._entities import ENTITIES_UNSUPPORTED
from ._functions import AppLoadError, FunctionIndex, load_app
from ._gate import body_limit_from_env
from ._keys import KEYS_FILE, HostKeys, load_host_keys
from ._server import build_asgi_app
from ._store import Store
from ._versioning import Versioning, VersioningError
from ._workers import WorkerProcesses

__all__ = ["EmbeddedHost", "HostConfig"]

log = logging.getLogger("convergio.host")

_SETTING_REF = re.compile(r"^%([^%]+)%$")
_NOT_RUN = {"entityTrigger": ENTITIES_UNSUPPORTED}


@dataclass(frozen=True, slots=True)
class HostConfig:
    """How to run one app. ``port=0`` picks a free port.

    ``max_request_body_size`` (bytes) defaults to ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT``, else
    the Functions host's 100 MB. ``store``: the task hub's SQLite file, ``home``'s by default;
    hosts given the same file share the task hub (ADR 0023).
    """

    app: Path = Path("function_app.py")
    home: Path = Path(".convergio")
    host: str = "127.0.0.1"
    port: int = 7071
    engine: EngineConfig = field(default_factory=EngineConfig)
    max_request_body_size: int | None = None
    store: Path | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.max_request_body_size is not None and self.max_request_body_size <= 0:
            raise ValueError("max_request_body_size must be positive")


def _load_local_settings(folder: Path) -> None:
    """Core Tools exports ``local.settings.json`` ``Values``; the environment wins."""
    path = folder / "local.settings.json"
    if not path.is_file():
        return
    values = _read_json(path).get("Values", {})
    for key, value in values.items():
        os.environ.setdefault(key, str(value))


def _host_json(folder: Path) -> dict[str, Any]:
    path = folder / "host.json"
    return _read_json(path) if path.is_file() else {}


def _read_json(path: Path, **options: Any) -> dict[str, Any]:
    """A settings file's JSON object; a file that is not one is an error naming it and the line."""
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"), **options)
    except json.JSONDecodeError as exc:
        raise AppLoadError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError as exc:
        raise AppLoadError(f"{path} is not UTF-8 text: {exc.reason} (byte {exc.start})") from None
    if not isinstance(value, dict):
        raise AppLoadError(f"{path} must hold a JSON object, not {type(value).__name__}")
    return value


def _versioning(folder: Path) -> Versioning:
    """``extensions.durableTask``'s versioning settings (ADR 0020), numbers read as their text."""
    path = folder / "host.json"
    if not path.is_file():
        return Versioning()
    raw = _read_json(path, parse_int=str, parse_float=str)
    durable = (
        raw.get("extensions", {}).get("durableTask", {}) if isinstance(raw.get("extensions"), dict) else {}
    )
    try:
        return Versioning.from_durable_task(durable if isinstance(durable, dict) else {})
    except VersioningError as exc:
        raise AppLoadError(f"{path}: {exc}") from None


def _resolve(value: str, default: str) -> str:
    found = _SETTING_REF.match(value or "")
    if found:
        return os.environ.get(found.group(1), default)
    return value or default


class EmbeddedHost:
    """Runs one Functions app: its HTTP triggers, orchestrators and activities."""

    def __init__(self, config: HostConfig) -> None:
        self.config = config
        folder = config.app.resolve().parent
        _load_local_settings(folder)
        extensions = _host_json(folder).get("extensions", {})
        self.route_prefix = str(extensions.get("http", {}).get("routePrefix", "api"))
        self.hub = _resolve(extensions.get("durableTask", {}).get("hubName", ""), "ConvergioHub")
        self.body_limit = config.max_request_body_size or body_limit_from_env()
        self.keys: HostKeys = load_host_keys(config.home)
        self.index: FunctionIndex = load_app(config.app)
        self.store_path = config.store or config.home / "durable.sqlite3"
        self.store = Store(self.store_path)
        engine = dataclasses.replace(config.engine, versioning=_versioning(folder))  # host.json decides
        self.engine = Engine(self.index, self.store, engine)
        self.workers = WorkerProcesses(  # the engine's workers count this process (ADR 0023)
            engine.workers - 1,
            app=config.app,
            store=self.store_path,
            concurrency=engine.activity_concurrency,
            lease_s=engine.lease_s,
            on_results=self.engine.record_results,
            on_lost=self.engine.release_worker,
            run_here=self.engine.run_here,
            host_idle=self.engine.pool_idle,
        )
        self.engine.on_shared_work = self.workers.assign
        self.engine.finished.listeners.append(self.workers.finished)
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and without it
        # every small answer (headers, then body) waits out the peer's 40 ms delayed ACK (issue 22).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((config.host, config.port))
        self._socket.listen(2048)  # connections queue until the server accepts them
        self.port = self._socket.getsockname()[1]
        self.base_url = f"http://{config.host}:{self.port}"
        self.asgi = build_asgi_app(
            self.engine,
            route_prefix=self.route_prefix,
            hub=self.hub,
            base_url=lambda: self.base_url,
            keys=self.keys,
            body_limit=self.body_limit,
        )

    def describe(self) -> str:
        lines = ["Functions:"]
        prefix = f"/{self.route_prefix}" if self.route_prefix else ""
        for route in self.index.http:
            methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
            lines.append(f"  {route.name}: [{methods}] {self.base_url}{prefix}/{route.template}")
        lines += [f"  {name}: orchestrationTrigger" for name in self.index.orchestrators]
        lines += [f"  {name}: activityTrigger" for name in self.index.activities]
        lines += [
            f"  {name}: {kind} ({_NOT_RUN.get(kind, 'not run by the embedded host')})"
            for name, kind in self.index.unsupported.items()
        ]
        lines.append(
            f"Durable API: {self.base_url}{PREFIX}/  (task hub {self.hub}, history {self.store_path})"
        )
        lines.append(f"Orchestration versioning: {self.engine.config.versioning.describe()}")
        lines.append(f"Worker processes: {self.engine.config.workers} (activities; this one included)")
        lines.append(f"Host keys: {self.config.home / KEYS_FILE}  (python -m convergio keys)")
        return "\n".join(lines)

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a background thread for the duration of a ``with`` block; yields the base URL.

        For tools that need a host only while they work (``python -m convergio run``).
        """
        server = uvicorn.Server(self._server_config())
        thread = threading.Thread(target=server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self.workers.start()
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.01)
        try:
            if not server.started:
                raise RuntimeError("the embedded host did not start")
            yield self.base_url
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            self.workers.stop()
            self.store.close()

    def _server_config(self) -> uvicorn.Config:
        """uvicorn, kept as Kestrel keeps connections: 130 s idle (uvicorn's 5 s default races clients).

        The SDK's client reuses keep-alive connections to this host's Durable API. With a short
        timeout a connection the server is closing gets the next request and answers with a
        reset, most often when a handler has held the event loop (a slow store call).
        httptools and uvloop (both pinned) instead of h11 on asyncio: 6-10 % less host CPU per
        run watched over SSE (docs/performance.md, issue 22, eighth round).
        """
        return uvicorn.Config(
            self.asgi,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_keep_alive=130,
            http="httptools",
            loop="uvloop",
        )

    def serve(self) -> None:
        """Serve until interrupted (SIGINT/SIGTERM)."""
        print(self.describe(), flush=True)
        self.workers.start()  # before "Host started": a supervisor may look for them then
        print(f"Host started: {self.base_url}", flush=True)
        server = uvicorn.Server(self._server_config())
        try:
            server.run(sockets=[self._socket])
        finally:
            self.workers.stop()
            self.store.close()
            sys.stdout.flush()
