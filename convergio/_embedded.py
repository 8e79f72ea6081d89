"""The embedded host as Convergio runs it: settings in, an ``EmbeddedHost`` out.

``start`` and ``run`` both host the app this way, so the engine tuning and the shared state
directory are decided in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

from convergio.host import EmbeddedHost, EngineConfig, HostConfig
from convergio.host._heap import settle_heap
from convergio.host._workers import lease_from_env, workers_from_env  # not pinned public names yet
from convergio.settings import Settings

__all__ = ["STORE_SETTING", "embedded_host"]

STORE_SETTING = "CONVERGIO_DURABLE_STORE"
"""The embedded task hub's SQLite file (default: ``<home>/durable.sqlite3``)."""


def embedded_host(
    settings: Settings, *, app: Path, home: Path, port: int, workers: int | None = None
) -> EmbeddedHost:
    """A host for ``app`` whose own code (tenants, ledgers, secrets) uses the same ``home``.

    ``workers``: processes running activities, this one included (ADR 0023); None takes
    ``FUNCTIONS_WORKER_PROCESS_COUNT``, as the Functions host does, else 1.
    """
    os.environ["CONVERGIO_HOME"] = str(home)
    os.environ.setdefault("CONVERGIO_HTTP_STREAMING", "true")  # this host passes streamed responses through
    engine = EngineConfig(
        activity_concurrency=settings.activity_concurrency,
        keep_alive=settings.keep_alive_sessions,
        verify_replay=settings.replay_verify,
        workers=workers_from_env() if workers is None else workers,
        lease_s=lease_from_env(),
    )
    store = os.environ.get(STORE_SETTING)  # hosts given one file share the task hub (ADR 0023)
    host = EmbeddedHost(
        HostConfig(app=app, home=home, port=port, engine=engine, store=Path(store) if store else None)
    )
    settle_heap()  # the app is loaded: what lives now lives as long as the process
    return host
