"""What telemetry is doing in this process: the public state and the live tracer and meters."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram
    from opentelemetry.trace import Tracer

__all__ = ["ExporterKind", "Instruments", "Runtime", "TelemetryState", "current", "install", "lock"]

ExporterKind = Literal["off", "azure_monitor", "otlp", "console", "custom"]


@dataclass(frozen=True, slots=True)
class TelemetryState:
    """How telemetry was configured.

    Attributes:
        exporter: ``azure_monitor`` (Application Insights), ``otlp`` (OTLP over HTTP),
            ``console``, ``custom`` (providers handed in with ``use_providers``) or ``off``.
        capture_prompts: Whether prompts and completions go into span events (redacted).
    """

    exporter: ExporterKind = "off"
    capture_prompts: bool = False

    @property
    def enabled(self) -> bool:
        """Whether spans and metrics are recorded at all."""
        return self.exporter != "off"


@dataclass(frozen=True, slots=True)
class Instruments:
    """The metric instruments, made once per meter provider."""

    tokens: Counter
    cost: Counter
    failures: Counter
    duration: Histogram


@dataclass(frozen=True, slots=True)
class Runtime:
    """The live objects behind the state; ``tracer`` is ``None`` when telemetry is off."""

    state: TelemetryState
    tracer: Tracer | None = None
    instruments: Instruments | None = None
    owned: tuple[Any, ...] = ()
    configured: bool = False


_current = Runtime(TelemetryState())
lock = threading.Lock()


def current() -> Runtime:
    """The runtime in use (a plain read: spans consult it on every call)."""
    return _current


def install(runtime: Runtime) -> None:
    """Make ``runtime`` the one in use."""
    global _current
    _current = runtime
