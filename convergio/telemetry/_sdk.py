"""The parts that need the OpenTelemetry SDK, imported only when telemetry is switched on.

Kept apart so a process with telemetry off never pays for importing the SDK or an exporter.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.trace.id_generator import IdGenerator

from convergio.telemetry._ids import FORCED_IDS
from convergio.telemetry._metrics import build_instruments
from convergio.telemetry._state import Runtime, TelemetryState

__all__ = ["azure_monitor", "build_runtime", "console", "otlp"]

_log = logging.getLogger("convergio.telemetry")
_SCOPE = "convergio"
_EXPORT_TIMEOUT_S = 10


class _RunIds(IdGenerator):
    """Hands out the forced ids while a run's root span is made, else defers to ``inner``."""

    def __init__(self, inner: IdGenerator) -> None:
        self._inner = inner

    def generate_trace_id(self) -> int:
        forced = FORCED_IDS.get()
        return forced[0] if forced else self._inner.generate_trace_id()

    def generate_span_id(self) -> int:
        forced = FORCED_IDS.get()
        return forced[1] if forced else self._inner.generate_span_id()

    def is_trace_id_random(self) -> bool:
        return self._inner.is_trace_id_random()


def build_runtime(
    state: TelemetryState, tracer_provider: Any, meter_provider: Any, owned: tuple[Any, ...] = ()
) -> Runtime:
    """Make the tracer and the instruments for ``state`` from the given providers.

    The tracer's id generator is wrapped (SDK tracers only) so ``record_run_span`` can give the
    run's root span the id every activity derived from the run id.
    """
    tracer = tracer_provider.get_tracer(_SCOPE) if tracer_provider is not None else None
    if tracer is not None:
        inner = getattr(tracer, "id_generator", None)
        if isinstance(inner, IdGenerator) and not isinstance(inner, _RunIds):
            tracer.id_generator = _RunIds(inner)
        elif inner is None:
            _log.warning("the tracer provider is not the SDK's: run root spans get random ids")
    instruments = build_instruments(meter_provider.get_meter(_SCOPE)) if meter_provider is not None else None
    return Runtime(state, tracer=tracer, instruments=instruments, owned=owned, configured=True)


def azure_monitor(connection_string: str) -> tuple[Any, Any]:
    """Configure the Azure Monitor distro (it sets the global providers) and return them.

    Only the ``convergio`` loggers are exported as logs, and the distro's log handler gets the
    redaction filter like every other handler.
    """
    from azure.monitor.opentelemetry import configure_azure_monitor

    from convergio.secrets import install_redaction

    configure_azure_monitor(connection_string=connection_string, logger_name=_SCOPE)
    install_redaction(logging.getLogger(_SCOPE))
    return trace.get_tracer_provider(), metrics.get_meter_provider()


def otlp(endpoint: str) -> tuple[Any, Any]:
    """Providers exporting over OTLP/HTTP to ``endpoint`` (``/v1/traces``, ``/v1/metrics``)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = endpoint.rstrip("/")
    spans = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=_EXPORT_TIMEOUT_S))
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=_EXPORT_TIMEOUT_S)
    )
    return _providers(spans, reader)


def console() -> tuple[Any, Any]:
    """Providers printing spans (as they end) and metrics (each minute) to standard output."""
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    return _providers(
        SimpleSpanProcessor(ConsoleSpanExporter()), PeriodicExportingMetricReader(ConsoleMetricExporter())
    )


def _providers(processor: Any, reader: Any) -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create({"service.name": "convergio-core"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # nobody set one yet
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider
