"""The embedded host as Convergio runs it: settings in, an ``EmbeddedHost`` out.

``start`` and ``run`` both host the app this way, so the engine tuning and the shared state
directory are decided in one place.
"""

from __future__ import annotations

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
    return EmbeddedHost(HostConfig(app=app, home=home, port=port, engine=engine))
