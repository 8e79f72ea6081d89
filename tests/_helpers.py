"""Test helpers: a real embedded host in a subprocess, and polling."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DOCS_APP = ROOT / "tests" / "apps" / "docs_app" / "function_app.py"
TERMINAL = {"Completed", "Failed", "Terminated"}


class HostProcess:
    """``python -m convergio start`` on a free port, as a user would run it."""

    def __init__(
        self,
        app: Path,
        home: Path | None,
        env: dict[str, str] | None = None,
        *,
        wrap: list[str] | None = None,
        python: str = sys.executable,
    ) -> None:
        """``home`` None: no ``--home`` (the settings decide); ``wrap``: a command that execs the rest.

        ``python``: the interpreter (another one than the tests', e.g. with only a package's own
        dependencies on its path).
        """
        self.app, self.home, self.wrap, self.python = app, home, wrap or [], python
        self.env = {**os.environ, "CONVERGIO_REPLAY_VERIFY": "1", **(env or {})}
        self.lines: list[str] = []
        self.base_url = ""
        self.keys_file: Path | None = None
        self.process: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None

    def start(self, timeout: float = 30) -> HostProcess:
        home = [] if self.home is None else ["--home", str(self.home)]
        self.process = subprocess.Popen(
            [
                *self.wrap,
                self.python,
                "-m",
                "convergio",
                "start",
                "--app",
                str(self.app),
                "--port",
                "0",
                *home,
            ],
            cwd=self.app.parent if self.wrap else ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.lines.append(line.rstrip())
                if line.startswith("Host keys: "):
                    self.keys_file = Path(line.split(": ", 1)[1].split()[0])
                if line.startswith("Host started: "):
                    self.base_url = line.split(": ", 1)[1].strip()
                    ready.set()
            self.process.stdout.close()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("host did not start:\n" + "\n".join(self.lines))
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def key(self, name: str = "durabletask_extension") -> str:
        """One of the host's keys, from its home: ``master``, ``default`` (function) or a system key."""
        assert self.keys_file is not None, "the host has not printed where its keys are"
        data = json.loads(self.keys_file.read_text())
        if name == "master":
            return str(data["masterKey"])
        return str({**data["functionKeys"], **data["systemKeys"]}[name])

    def durable_url(self, path: str = "") -> str:
        """A Durable API URL (``instances/<id>``, ...) carrying the extension's system key."""
        return f"{self.base_url}/runtime/webhooks/durabletask/{path.lstrip('/')}?code={self.key()}"

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._drain()

    def _drain(self) -> None:
        if self._pump is not None:
            self._pump.join(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._drain()

    def __enter__(self) -> HostProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_status(
    client: httpx.Client, url: str, statuses: Iterable[str] = TERMINAL, timeout: float = 30
) -> dict[str, Any]:
    """Poll a statusQueryGetUri until the runtime status is one of ``statuses``."""
    wanted, deadline, body = set(statuses), time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body.get("runtimeStatus") in wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"status never reached {wanted}: {body}")


def start(client: httpx.Client, orchestrator: str, payload: Any = None, code: str = "") -> dict[str, Any]:
    """Start through the app's HTTP starter; ``code``: a function key, for a function-level starter."""
    params = {"code": code} if code else None
    response = client.post(f"/api/orchestrators/{orchestrator}", json=payload, params=params)
    assert response.status_code == 202, response.text
    return response.json()


def executions(count_dir: Path, activity: str) -> list[Any]:
    path = count_dir / f"{activity}.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@functools.cache
def app_functions() -> tuple[Any, ...]:
    """The repository app's functions, read once per process.

    ``FunctionApp.get_functions()`` may be called only once: azure-functions 1.26 keeps the names
    it has indexed on the app and refuses them as duplicates on a second call. The repository's
    ``function_app.py`` is loaded afresh, under a name of its own: the embedded host's tests load
    other apps as ``function_app`` (as the worker does) and index them, so ``import function_app``
    found whichever ran last, already indexed, when those tests ran first.
    """
    spec = importlib.util.spec_from_file_location("_repository_function_app", ROOT / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.app.get_functions())


def checkpoint_busy(path: Path) -> int:
    """SQLite's ``busy`` flag for a full WAL checkpoint of ``path`` made from a new connection:
    0 when no other connection holds a read snapshot open (kept readers must not)."""
    other = sqlite3.connect(path)
    try:
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    return int(busy)


def agent_parts(resolver: Any, ledger: Any, prices: Any, quotas: Any) -> Any:
    """What ``activities.agents`` takes from ``components()`` for a billed call: nobody watches
    or cancels the run, the built-in tools, a spend guard over ``quotas``, unpriced calls refused."""
    from types import SimpleNamespace

    from convergio.quotas import SpendGuard
    from convergio.tools import BUILTIN_TOOLBOX

    return SimpleNamespace(
        streams=SimpleNamespace(cancelled=lambda run: False, watched=lambda run: False),
        resolver=resolver,
        toolbox=BUILTIN_TOOLBOX,
        ledger=ledger,
        prices=prices,
        guard=SpendGuard(quotas, prices),
        settings=SimpleNamespace(unpriced_under_cap="refuse", activity_concurrency=4),
    )
