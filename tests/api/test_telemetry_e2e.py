"""A run's telemetry through the real host: one trace, a root span and one span per agent call."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key


def spans_in(lines: list[str]) -> list[dict[str, object]]:
    """The console exporter prints one pretty JSON object per span; pick them out of the host's output."""
    text = "\n".join(lines)
    found, depth, start = [], 0, -1
    for i, char in enumerate(text):
        if char == "{":
            depth, start = depth + 1, i if depth == 0 else start
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                try:
                    body = json.loads(text[start : i + 1])
                except ValueError:
                    continue
                if isinstance(body, dict) and "context" in body and "name" in body:
                    found.append(body)
    return found


def test_a_run_is_one_trace_with_a_root_span_and_agent_call_children(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = new_key(home, "Traced School")
    env = {"CONVERGIO_TELEMETRY_CONSOLE": "true"}
    spec = graph(agent("a", tools=["word_count"]), agent("b", "{{ outputs.a }}", depends_on=["a"]))
    with HostProcess(APP, home, env) as host, Api(host.base_url, key) as api:
        run_id = api.start(spec, "count these words please")
        assert api.wait(run_id)["status"] == "Completed"
        for _ in range(100):  # the root span is exported by the run-end activity, just after
            spans = [s for s in spans_in(host.lines) if run_id in json.dumps(s)]
            if any(s["parent_id"] is None for s in spans):
                break
            time.sleep(0.05)
    traces = {s["context"]["trace_id"] for s in spans}  # type: ignore[index]
    assert len(traces) == 1, traces
    roots = [s for s in spans if s["parent_id"] is None]
    assert len(roots) == 1
    root_id = roots[0]["context"]["span_id"]  # type: ignore[index]
    node_spans = [s for s in spans if s["parent_id"] == root_id]
    assert len(node_spans) == 2
    all_spans = spans_in(host.lines)
    assert any(re.search("tool", str(s["name"])) for s in all_spans)
    assert key not in "\n".join(host.lines)
