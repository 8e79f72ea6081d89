"""Convergio's side of the peers benchmark: the product path, through the embedded host.

What runs is what ``python -m convergio run`` and the HTTP API run, minus the HTTP layer: the
real app (``function_app.py``) loaded by the embedded host with the product's own settings
(``convergio._embedded.embedded_host``), the ``agent_graph`` orchestration, one ``run_agent``
activity per node (quota admission, provider call, usage metering) on the offline provider,
and the ``record_run`` activity at the end. History is durable: every orchestrator step and
every activity completion is a SQLite transaction in the host's store before anything else
happens. The graph is validated once per workload (``parse_graph``, as the API does before it
starts a run); timing starts at ``start_new`` and stops when ``Engine.wait`` returns the completed instance
(the step that finishes an instance notifies it: no polling).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.peers_workloads import TOPIC, Workload
from convergio._embedded import embedded_host
from convergio.graph import AGENT_GRAPH, Catalog, parse_graph
from convergio.host import EmbeddedHost
from convergio.providers import PROVIDER_NAMES
from convergio.settings import load_settings
from convergio.tools import TOOL_NAMES

__all__ = ["ConvergioRunner", "graph_spec", "runner"]

ROOT = Path(__file__).resolve().parent.parent
TENANT = "bench"
_TIMEOUT_S = 600


def graph_spec(workload: Workload) -> dict[str, Any]:
    """The workload as a Convergio graph: one offline agent per node, the last one the output."""
    agents = []
    for node, deps in workload.nodes:
        prompt = "Work on {{ input.topic }}."
        prompt += "".join(f" {dep} said {{{{ outputs.{dep}[:40] }}}}" for dep in deps)
        agent: dict[str, Any] = {"id": node, "prompt": prompt, "options": {"output_tokens": 16}}
        if deps:
            agent["depends_on"] = list(deps)
        agents.append(agent)
    return {"name": f"bench-{workload.kind}-{workload.size}", "agents": agents, "output": workload.output}


class ConvergioRunner:
    """An embedded host's engine on a fresh state directory; one run at a time."""

    def __init__(self, home: Path) -> None:
        settings = load_settings(folder=ROOT)
        self.host: EmbeddedHost = embedded_host(settings, app=ROOT / "function_app.py", home=home, port=0)
        self.engine = self.host.engine
        self.catalog = Catalog(providers=frozenset(PROVIDER_NAMES), tools=TOOL_NAMES)
        self.engine.start()

    def prepare(self, workload: Workload) -> Callable[[], int]:
        graph = parse_graph(graph_spec(workload), self.catalog).model_dump(mode="json", exclude_none=True)
        return lambda: self.run(graph, len(workload.nodes))

    def run(self, graph: dict[str, Any], expected: int) -> int:
        run_id = uuid.uuid4().hex
        payload = {"graph": graph, "input": {"topic": TOPIC}, "run_id": run_id, "tenant": TENANT}
        self.engine.start_new(AGENT_GRAPH, run_id, json.dumps(payload))
        record = self.engine.wait(run_id, timeout=_TIMEOUT_S)
        if record is None or record.status != "Completed" or record.output is None:
            status = "missing" if record is None else record.status
            raise RuntimeError(f"run {run_id} ended {status}: {record and record.output}")
        outputs = json.loads(record.output)["outputs"]
        if len(outputs) != expected:
            raise RuntimeError(f"run {run_id}: {len(outputs)} of {expected} nodes produced an output")
        return len(outputs)

    def close(self) -> None:
        self.engine.stop()
        self.host.store.close()


def _without_quotas_and_metering() -> None:
    """The diagnostic variant: ``run_agent`` skips tenant quota admission and usage metering.

    Not a product configuration. It isolates what the embedded host, the orchestration and the
    agent call cost from the two SQLite stores the activity writes to on every call.
    """
    from benchmarks.parts import VARIANTS

    VARIANTS["neither"]()


def runner(variant: str, home: Path) -> ConvergioRunner:
    if variant == "bare":
        _without_quotas_and_metering()
    elif variant != "sqlite":
        raise ValueError(f"unknown Convergio variant {variant!r}")
    return ConvergioRunner(home)
