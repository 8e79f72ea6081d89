"""What Convergio's MCP endpoint offers, without the SDK: tool names, waits, and ``GraphRuns``,
the tenant-bound port through which the endpoint starts and reads runs (the API implements it).

Kept apart from ``_server`` so the API can name these at import time while the ``mcp`` SDK
(slow to import) loads only when the endpoint is first called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["GET_RUN", "MAX_WAIT_S", "RUN_PREFIX", "RUN_WAIT_S", "GraphEntry", "GraphRuns"]

GET_RUN = "get_run"
RUN_PREFIX = "run."
RUN_WAIT_S = 10.0
"""How long ``run.<graph>`` waits for the run to finish before answering with its status."""
MAX_WAIT_S = 60.0
"""The longest ``get_run`` may be asked to wait (well inside the Functions HTTP timeout)."""


@dataclass(frozen=True, slots=True)
class GraphEntry:
    """A named graph as MCP clients see it."""

    name: str
    description: str
    input_schema: dict[str, Any] | None


class GraphRuns(Protocol):
    """What the MCP endpoint may do for the authenticated tenant."""

    def graphs(self) -> Sequence[GraphEntry]:
        """The graphs the tenant may run by name."""
        ...

    async def start(self, graph: str, run_input: Any) -> str:
        """Start a run; its id.

        Raises:
            ValueError: a bad input (the message names the field).
            LookupError: no such graph.
        """
        ...

    async def read(self, run_id: str) -> dict[str, Any]:
        """The run's view (``status``, ``nodes``, ``output``, ``usage``...).

        Raises:
            LookupError: no run of the tenant's has that id.
        """
        ...
