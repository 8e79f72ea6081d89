"""The peers benchmark's workloads, as plain data every system's worker builds its graph from.

Pure Python with no third-party import: the coordinator, the Convergio worker (product
virtualenv) and the peers' workers (their own virtualenv) all import it.

A workload is a DAG given as ``(node id, dependency ids)`` in topological order. Every node
calls the instant fake model once; a node runs when all of its dependencies are done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["KINDS", "TOPIC", "Workload", "build", "fake_model", "workloads"]

TOPIC = "fractions"
KINDS = ("fan_out", "chain", "diamond")
DIAMOND_LAYERS = 10


@dataclass(frozen=True, slots=True)
class Workload:
    """One graph shape at one size."""

    kind: str
    size: int
    nodes: tuple[tuple[str, tuple[str, ...]], ...]
    layers: int = 0  # diamonds only

    @property
    def label(self) -> str:
        if self.kind == "fan_out":
            return f"fan-out {self.size} + aggregator"
        if self.kind == "chain":
            return f"chain {self.size}"
        return f"diamond {self.size} ({self.layers} layers)"

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.size}"

    @property
    def output(self) -> str:
        """The node whose answer is the run's output (the last one)."""
        return self.nodes[-1][0]

    def roots(self) -> list[str]:
        return [node for node, deps in self.nodes if not deps]

    def sinks(self) -> list[str]:
        used = {dep for _, deps in self.nodes for dep in deps}
        return [node for node, _ in self.nodes if node not in used]

    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {node: [] for node, _ in self.nodes}
        for node, deps in self.nodes:
            for dep in deps:
                out[dep].append(node)
        return out


def _fan_out(width: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``width`` independent workers, then one aggregator that depends on all of them."""
    workers = tuple(f"w{i}" for i in range(width))
    return (*((w, ()) for w in workers), ("aggregator", workers))


def _chain(length: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((f"a{i}", (f"a{i - 1}",) if i else ()) for i in range(length))


def _diamond(size: int, layers: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``layers`` layers of ``size / layers`` nodes; node i of a layer depends on nodes i and
    i+1 (wrapping) of the layer above, so every two adjacent nodes form a diamond with their
    parents."""
    width = size // layers
    if width < 2 or width * layers != size:
        raise ValueError(f"a diamond of {size} nodes cannot have {layers} layers of 2 or more")
    nodes: list[tuple[str, tuple[str, ...]]] = []
    for layer in range(layers):
        for i in range(width):
            deps = () if layer == 0 else (f"d{layer - 1}_{i}", f"d{layer - 1}_{(i + 1) % width}")
            nodes.append((f"d{layer}_{i}", deps))
    return tuple(nodes)


def build(kind: str, size: int) -> Workload:
    """The workload ``kind`` at ``size`` (workers for a fan-out, nodes otherwise)."""
    if size < 2:
        raise ValueError("a workload needs at least 2 nodes")
    if kind == "fan_out":
        return Workload(kind, size, _fan_out(size))
    if kind == "chain":
        return Workload(kind, size, _chain(size))
    if kind == "diamond":
        layers = DIAMOND_LAYERS if size >= DIAMOND_LAYERS * 2 else 2
        return Workload(kind, size, _diamond(size, layers), layers)
    raise ValueError(f"unknown workload kind {kind!r}; expected one of {', '.join(KINDS)}")


def workloads(quick: bool = False) -> list[Workload]:
    """The benchmark's workloads: the issue's four, plus fan-out sizes in between for the chart."""
    if quick:
        return [build("fan_out", 10), build("fan_out", 50), build("chain", 20), build("diamond", 40)]
    sizes = [build("fan_out", n) for n in (50, 100, 250, 500)]
    return [*sizes, build("chain", 100), build("diamond", 200)]


def fake_model(node_id: str, topic: str, upstream: Mapping[str, str]) -> str:
    """The peers' instant fake model: a short answer built from the prompt, no sleep, no I/O.

    Convergio's nodes use its offline provider instead, which does the same kind of work
    (an answer composed from the prompt, tokens counted) through the product's real path.
    """
    prompt = f"Work on {topic}. " + " ".join(f"{dep} said {text[:40]}" for dep, text in upstream.items())
    words = prompt.split()
    return f"{node_id}: {' '.join(words[:16])} ({len(words)} words)"
