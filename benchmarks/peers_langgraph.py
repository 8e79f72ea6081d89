"""LangGraph's side of the peers benchmark (runs in benchmarks/.venv-peers).

One ``StateGraph`` per workload, compiled once with its checkpointer: ``SqliteSaver`` on a
file (durable) or ``InMemorySaver``. The state is the topic and a dict of node outputs merged
by a reducer; each node reads its dependencies' outputs, calls the instant fake model and
writes its own. A node with several dependencies waits for all of them (``add_edge([...], n)``,
LangGraph's join). Each run is one ``invoke`` on a fresh thread id, with the default
durability mode of the pinned version.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from benchmarks.peers_workloads import TOPIC, Workload, fake_model

__all__ = ["LangGraphRunner", "runner"]


def _merge(left: dict[str, str], right: dict[str, str]) -> dict[str, str]:
    return {**left, **right}


class _State(TypedDict):
    topic: str
    outputs: Annotated[dict[str, str], _merge]


def _node(node_id: str, deps: tuple[str, ...]) -> Callable[[_State], dict[str, Any]]:
    def call(state: _State) -> dict[str, Any]:
        upstream = {dep: state["outputs"][dep] for dep in deps}
        return {"outputs": {node_id: fake_model(node_id, state["topic"], upstream)}}

    return call


class LangGraphRunner:
    def __init__(self, variant: str, home: Path) -> None:
        self._connection: sqlite3.Connection | None = None
        if variant == "sqlite":
            self._connection = sqlite3.connect(home / "checkpoints.sqlite3", check_same_thread=False)
            self.saver: BaseCheckpointSaver[Any] = SqliteSaver(self._connection)
        elif variant == "memory":
            self.saver = InMemorySaver()
        else:
            raise ValueError(f"unknown LangGraph variant {variant!r}")

    def prepare(self, workload: Workload) -> Callable[[], int]:
        builder = StateGraph(_State)
        for node, deps in workload.nodes:
            builder.add_node(node, _node(node, deps))
        for node, deps in workload.nodes:
            if not deps:
                builder.add_edge(START, node)
            elif len(deps) == 1:
                builder.add_edge(deps[0], node)
            else:
                builder.add_edge(list(deps), node)
        for sink in workload.sinks():
            builder.add_edge(sink, END)
        graph = builder.compile(checkpointer=self.saver)
        limit = len(workload.nodes) + 10

        def run() -> int:
            config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": limit}
            state = graph.invoke({"topic": TOPIC, "outputs": {}}, config)
            return len(state["outputs"])

        return run

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def runner(variant: str, home: Path) -> LangGraphRunner:
    return LangGraphRunner(variant, home)
