"""Configuration: off by default, which exporter the settings select, Azure Monitor, console and OTLP."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

import convergio.telemetry as telemetry
from convergio.telemetry import TelemetryState, configure_telemetry, node_span, select_exporter

ROOT = Path(__file__).resolve().parents[2]
CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/"
)


def _python(code: str, timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout


def test_the_public_surface_is_pinned() -> None:
    assert sorted(telemetry.__all__) == [
        "ExporterKind",
        "TelemetrySpan",
        "TelemetryState",
        "agent_call_span",
        "configure_telemetry",
        "flush_telemetry",
        "node_span",
        "provider_span",
        "record_cost",
        "record_node",
        "record_run_span",
        "record_tokens",
        "reset_telemetry",
        "run_root_span_id",
        "run_span",
        "run_trace_id",
        "select_exporter",
        "tool_span",
        "tracing",
        "use_providers",
    ]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "off"),
        ({"console": True}, "console"),
        ({"otlp_endpoint": "http://localhost:4318", "console": True}, "otlp"),
        ({"connection_string": CONNECTION_STRING, "otlp_endpoint": "http://localhost:4318"}, "azure_monitor"),
        ({"connection_string": "  "}, "off"),
    ],
)
def test_the_settings_select_the_exporter(settings: dict[str, Any], expected: str) -> None:
    assert select_exporter(**settings) == expected


def test_off_by_default_spans_do_nothing_and_opentelemetry_is_never_imported() -> None:
    out = _python(
        """
        import sys
        from convergio.agents import AgentCall, run_agent
        from convergio.graph import AgentSpec
        from convergio.telemetry import configure_telemetry, node_span, record_run_span
        state = configure_telemetry()
        call = AgentCall(run_id="r", node_id="a", agent=AgentSpec(id="a", prompt="hi", tools=["word_count"]))
        with node_span(run_id="r", node="a") as span:
            outcome = run_agent(call)
            span.set_outcome(status=outcome.status, usage=outcome.usage, cost_eur=1)
        record_run_span("r", tenant="t", graph="g", started_at="2026-01-01T00:00:00",
                        finished_at="2026-01-01T00:00:01", status="Completed")
        loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor")))
        print(state.exporter, span.recording, outcome.status, loaded)
        """
    )
    assert out.split() == ["off", "False", "completed", "[]"]


def test_configure_is_idempotent_first_configuration_wins() -> None:
    first = configure_telemetry(capture_prompts=True)
    assert first == TelemetryState("off", capture_prompts=False)  # nothing to capture into
    assert configure_telemetry(console=True) is first
    with node_span(run_id="r", node="a") as span:
        assert not span.recording


def test_a_connection_string_selects_the_azure_monitor_distro(monkeypatch: pytest.MonkeyPatch) -> None:
    assert importlib.util.find_spec("azure.monitor.opentelemetry") is not None
    monkeypatch.setenv("AZURE_MONITOR_DISTRO_VERSION", "")  # the distro sets it on import: undo after
    import azure.monitor.opentelemetry as distro

    calls: list[dict[str, Any]] = []
    # The distro would start exporters towards the ingestion endpoint: record the call instead.
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kwargs: calls.append(kwargs))
    state = configure_telemetry(connection_string=CONNECTION_STRING, otlp_endpoint="http://localhost:4318")
    assert state.exporter == "azure_monitor" and state.enabled
    assert calls == [{"connection_string": CONNECTION_STRING, "logger_name": "convergio"}]
    assert configure_telemetry(connection_string=CONNECTION_STRING) is state
    assert len(calls) == 1


def test_the_console_exporter_prints_spans_without_prompt_text() -> None:
    out = _python(
        """
        from convergio.agents import AgentCall, run_agent
        from convergio.graph import AgentSpec
        from convergio.telemetry import configure_telemetry, node_span, reset_telemetry
        print("state", configure_telemetry(console=True).exporter)
        call = AgentCall(run_id="r-1", node_id="a", agent=AgentSpec(id="a", prompt="secret lesson notes"))
        with node_span(run_id="r-1", node="a", graph="g") as span:
            span.set_outcome(status=run_agent(call).status)
        reset_telemetry()
        """
    )
    assert "state console" in out
    assert '"name": "invoke_agent a"' in out and '"name": "chat offline-1"' in out
    assert '"convergio.run_id": "r-1"' in out
    assert "secret lesson notes" not in out


class _Collector(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_otlp_endpoint_receives_traces_and_metrics(collector: str) -> None:
    _python(
        f"""
        from convergio.telemetry import configure_telemetry, flush_telemetry, node_span, reset_telemetry
        assert configure_telemetry(otlp_endpoint={collector!r}).exporter == "otlp"
        with node_span(run_id="r-1", node="a", graph="g") as span:
            span.set_outcome(status="completed", cost_eur=0.5)
        flush_telemetry()
        reset_telemetry()
        """
    )
    assert {"/v1/traces", "/v1/metrics"} <= set(_Collector.paths)
