"""The embedded host as Convergio runs it: settings in, an ``EmbeddedHost`` out.

``start`` and ``run`` both host the app this way, so the engine tuning and the shared state
directory are decided in one place.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from convergio.host import EmbeddedHost, EngineConfig, HostConfig
from convergio.settings import Settings

__all__ = ["embedded_host"]


def embedded_host(settings: Settings, *, app: Path, home: Path, port: int) -> EmbeddedHost:
    """A host for ``app`` whose own code (tenants, ledgers, secrets) uses the same ``home``."""
    os.environ["CONVERGIO_HOME"] = str(home)
    os.environ.setdefault("CONVERGIO_HTTP_STREAMING", "true")  # this host passes streamed responses through
    engine = EngineConfig(
        activity_concurrency=settings.activity_concurrency,
        keep_alive=settings.keep_alive_sessions,
        verify_replay=settings.replay_verify,
    )
    host = EmbeddedHost(HostConfig(app=app, home=home, port=port, engine=engine))
    _settle_heap()
    return host


def _settle_heap() -> None:
    """Take what is alive now (the app, its imports, the SDKs) out of the garbage collector's sight.

    It lives as long as the process, yet every full collection would walk it again: tens of
    milliseconds, landing in the middle of orchestrator steps. Collected once, then frozen.
    """
    gc.collect()
    gc.freeze()
