"""In-memory OpenTelemetry for the telemetry tests: a span exporter, a metric reader, fresh "processes"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from convergio.telemetry import reset_telemetry, use_providers


@dataclass
class Otel:
    """One exporter and one metric reader shared by every simulated process of a test."""

    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    capture_prompts: bool = False
    _providers: list[Any] = field(default_factory=list)

    def new_process(self) -> None:
        """Fresh providers (as in another worker process) exporting to the same place."""
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        if not self._providers:
            self._providers.append(MeterProvider(metric_readers=[self.reader]))
        self._providers.append(tracer_provider)
        use_providers(
            tracer_provider=tracer_provider,
            meter_provider=self._providers[0],
            capture_prompts=self.capture_prompts,
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def close(self) -> None:
        for provider in self._providers:
            provider.shutdown()


@pytest.fixture(autouse=True)
def _telemetry_off_around_each_test() -> Iterator[None]:
    reset_telemetry()
    yield
    reset_telemetry()


@pytest.fixture
def otel() -> Iterator[Otel]:
    telemetry = Otel()
    telemetry.new_process()
    yield telemetry
    telemetry.close()


@pytest.fixture
def otel_capturing() -> Iterator[Otel]:
    telemetry = Otel(capture_prompts=True)
    telemetry.new_process()
    yield telemetry
    telemetry.close()
