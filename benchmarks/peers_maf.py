"""Microsoft Agent Framework's side of the peers benchmark (runs in benchmarks/.venv-peers).

One workflow per workload (``agent-framework-core``'s ``WorkflowBuilder``), built once with its
checkpoint storage: ``FileCheckpointStorage`` in a directory (durable) or
``InMemoryCheckpointStorage``. A workflow has one start executor, so a forwarding ``start``
executor (no model call) sends the topic to the roots. Each node is an executor that calls the
instant fake model on its inputs and sends its answer on; a node with several dependencies
receives them through a fan-in edge group (it runs once all have sent), and sinks yield their
answer as a workflow output. Each run is one ``workflow.run(topic)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_framework import (
    CheckpointStorage,
    Executor,
    FileCheckpointStorage,
    InMemoryCheckpointStorage,
    WorkflowBuilder,
    WorkflowContext,
    handler,
)

from benchmarks.peers_workloads import TOPIC, Workload, fake_model

__all__ = ["MafRunner", "runner"]

Said = dict[str, str]  # {"node": who answered, "text": the answer}


class _Start(Executor):
    @handler
    async def begin(self, topic: str, ctx: WorkflowContext[Said]) -> None:
        await ctx.send_message({"node": "start", "text": topic})


class _Node(Executor):
    def __init__(self, node_id: str, deps: tuple[str, ...], sink: bool, ran: list[str]) -> None:
        super().__init__(id=node_id)
        self.deps, self.sink, self.ran = deps, sink, ran

    @handler
    async def one(self, said: Said, ctx: WorkflowContext[Said, str]) -> None:
        await self._answer([said], ctx)

    @handler
    async def many(self, said: list[Said], ctx: WorkflowContext[Said, str]) -> None:
        await self._answer(said, ctx)

    async def _answer(self, said: list[Said], ctx: WorkflowContext[Said, str]) -> None:
        upstream = {s["node"]: s["text"] for s in said if s["node"] in self.deps}
        answer = fake_model(self.id, TOPIC, upstream)
        self.ran.append(self.id)
        if self.sink:
            await ctx.yield_output(answer)
        else:
            await ctx.send_message({"node": self.id, "text": answer})


class MafRunner:
    def __init__(self, variant: str, home: Path) -> None:
        if variant == "file":
            self.storage: CheckpointStorage = FileCheckpointStorage(home / "checkpoints")
        elif variant == "memory":
            self.storage = InMemoryCheckpointStorage()
        else:
            raise ValueError(f"unknown MAF variant {variant!r}")
        self.loop = asyncio.new_event_loop()

    def prepare(self, workload: Workload) -> Callable[[], int]:
        ran: list[str] = []
        sinks = set(workload.sinks())
        start = _Start(id="start")
        nodes = {n: _Node(n, deps, n in sinks, ran) for n, deps in workload.nodes}
        builder = WorkflowBuilder(
            max_iterations=len(workload.nodes) + 10, start_executor=start, checkpoint_storage=self.storage
        )
        roots = [nodes[r] for r in workload.roots()]
        if len(roots) == 1:
            builder.add_edge(start, roots[0])
        else:
            builder.add_fan_out_edges(start, roots)
        for node, deps in workload.nodes:
            if len(deps) == 1:
                builder.add_edge(nodes[deps[0]], nodes[node])
            elif deps:
                builder.add_fan_in_edges([nodes[d] for d in deps], nodes[node])
        workflow = builder.build()

        def run() -> int:
            ran.clear()
            result: Any = self.loop.run_until_complete(workflow.run(TOPIC))
            outputs = result.get_outputs()
            if len(outputs) != len(sinks):
                raise RuntimeError(f"{len(outputs)} outputs for {len(sinks)} sinks")
            return len(ran)

        return run

    def close(self) -> None:
        self.loop.close()


def runner(variant: str, home: Path) -> MafRunner:
    return MafRunner(variant, home)
