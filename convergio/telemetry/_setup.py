"""Switching telemetry on: pick an exporter from the settings, build the providers once.

Selection, first match wins: an Application Insights connection string (the Azure Monitor
distro), an OTLP endpoint (OTLP over HTTP), the console, or off. Off installs nothing: spans
and metrics are no-ops and OpenTelemetry is not imported.
"""

from __future__ import annotations

import logging
from typing import Any

from convergio.telemetry._state import ExporterKind, Runtime, TelemetryState, current, install, lock

__all__ = ["configure_telemetry", "flush_telemetry", "reset_telemetry", "select_exporter", "use_providers"]

_log = logging.getLogger("convergio.telemetry")


def select_exporter(
    *, connection_string: str = "", otlp_endpoint: str = "", console: bool = False
) -> ExporterKind:
    """Which exporter the settings ask for.

    Args:
        connection_string: ``APPLICATIONINSIGHTS_CONNECTION_STRING``.
        otlp_endpoint: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the base URL; ``/v1/traces`` is added).
        console: ``CONVERGIO_TELEMETRY_CONSOLE``.

    Returns:
        ``azure_monitor``, ``otlp``, ``console`` or ``off``.
    """
    if connection_string.strip():
        return "azure_monitor"
    if otlp_endpoint.strip():
        return "otlp"
    return "console" if console else "off"


def configure_telemetry(
    *,
    connection_string: str = "",
    otlp_endpoint: str = "",
    console: bool = False,
    capture_prompts: bool = False,
) -> TelemetryState:
    """Switch telemetry on as the settings say; call it once at start-up.

    Idempotent: once configured (even as off), later calls change nothing and return the
    state in use, because OpenTelemetry's global providers can be set only once per process.

    Args:
        connection_string: An Application Insights connection string: export to Azure Monitor.
        otlp_endpoint: An OTLP/HTTP base URL (e.g. ``http://localhost:4318``).
        console: Print spans and metrics to standard output.
        capture_prompts: Put prompts and completions (redacted) in span events; off by default.

    Returns:
        The state in use.
    """
    with lock:
        runtime = current()
        if runtime.configured:
            return runtime.state
        kind = select_exporter(
            connection_string=connection_string, otlp_endpoint=otlp_endpoint, console=console
        )
        state = TelemetryState(kind, capture_prompts=capture_prompts and kind != "off")
        if kind == "off":
            install(Runtime(state, configured=True))
            return state
        from convergio.telemetry import _sdk

        owned: tuple[Any, ...] = ()
        if kind == "azure_monitor":
            tracer_provider, meter_provider = _sdk.azure_monitor(connection_string)
        else:
            tracer_provider, meter_provider = _sdk.otlp(otlp_endpoint) if kind == "otlp" else _sdk.console()
            owned = (tracer_provider, meter_provider)
        install(_sdk.build_runtime(state, tracer_provider, meter_provider, owned))
        _log.info(
            "telemetry on: %s exporter, prompt capture %s", kind, "on" if state.capture_prompts else "off"
        )
        return state


def use_providers(
    *, tracer_provider: Any = None, meter_provider: Any = None, capture_prompts: bool = False
) -> TelemetryState:
    """Use providers built elsewhere (tests with in-memory exporters, a host's own SDK set-up).

    Replaces whatever is configured; the providers are not shut down by ``reset_telemetry``.

    Args:
        tracer_provider: An SDK ``TracerProvider``; ``None`` records no spans.
        meter_provider: An SDK ``MeterProvider``; ``None`` records no metrics.
        capture_prompts: Put prompts and completions (redacted) in span events.

    Returns:
        The ``custom`` state.
    """
    from convergio.telemetry import _sdk

    state = TelemetryState("custom", capture_prompts=capture_prompts)
    with lock:
        install(_sdk.build_runtime(state, tracer_provider, meter_provider))
    return state


def flush_telemetry(timeout_ms: int = 10_000) -> None:
    """Export what is buffered now (before a serverless instance may be frozen).

    Args:
        timeout_ms: How long to wait for each provider.
    """
    runtime = current()
    if not runtime.state.enabled:
        return
    from opentelemetry import metrics, trace

    for provider in (*runtime.owned, trace.get_tracer_provider(), metrics.get_meter_provider()):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush(timeout_ms)


def reset_telemetry() -> None:
    """Back to off and unconfigured, shutting down the providers this module built."""
    with lock:
        runtime = current()
        install(Runtime(TelemetryState()))
    for provider in runtime.owned:
        provider.shutdown()
