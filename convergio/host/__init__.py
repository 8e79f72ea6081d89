"""The embedded Durable Functions host.

Runs an unmodified Durable Functions Python (v2 model) app locally with real
Durable semantics: HTTP triggers, the Durable HTTP API the SDK's client talks
to, orchestrator replay, activities, timers, external events and
sub-orchestrations, with history in SQLite. Generic: it imports nothing from the
rest of ``convergio``. See docs/adr/0001-embedded-durable-host.md.
"""

from ._engine import Engine, EngineConfig
from ._executor import NonDeterminismError, OrchestrationExecutor
from ._functions import AppLoadError
from ._host import EmbeddedHost, HostConfig
from ._keys import HostKeys, load_host_keys

__all__ = [
    "AppLoadError",
    "EmbeddedHost",
    "Engine",
    "EngineConfig",
    "HostConfig",
    "HostKeys",
    "NonDeterminismError",
    "OrchestrationExecutor",
    "load_host_keys",
]
