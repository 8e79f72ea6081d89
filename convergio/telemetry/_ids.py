"""Trace and span ids derived from a run id, so every process agrees on a run's trace.

A run's activities run in separate processes (and may run again after a crash) with no trace
context passed between them. Each one derives the same ids from the run id instead:

* the trace id is the first 16 bytes of SHA-256(root run id);
* the run's root span id is the next 8 bytes.

A sub-graph's run id is ``"<root>/<path>"``; only the root part counts, so a sub-graph's
nodes land in the same tree as their parent run.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

__all__ = ["FORCED_IDS", "root_run", "run_root_span_id", "run_trace_id"]


def root_run(run_id: str, node: str = "") -> tuple[str, str]:
    """Split a (possibly nested) run id into the root run and the node's path in it.

    Args:
        run_id: ``"R"`` or, for a sub-graph, ``"R/sub"``.
        node: The node id within ``run_id``.

    Returns:
        ``("R", "sub/node")`` for ``("R/sub", "node")``; ``("R", "node")`` for ``("R", "node")``.
    """
    root, _, path = run_id.partition("/")
    return root, f"{path}/{node}" if path and node else (path or node)


def _digest(run_id: str) -> bytes:
    return hashlib.sha256(root_run(run_id)[0].encode("utf-8")).digest()


def run_trace_id(run_id: str) -> int:
    """The trace id of a run: the first 16 bytes of SHA-256 of its root run id (never 0).

    Args:
        run_id: The run id (a sub-graph's ``"R/sub"`` gives ``R``'s trace).

    Returns:
        A 128-bit trace id.
    """
    return int.from_bytes(_digest(run_id)[:16], "big") or 1


def run_root_span_id(run_id: str) -> int:
    """The span id of a run's root span: bytes 16 to 24 of SHA-256 of its root run id (never 0).

    Args:
        run_id: The run id (a sub-graph's ``"R/sub"`` gives ``R``'s root span).

    Returns:
        A 64-bit span id.
    """
    return int.from_bytes(_digest(run_id)[16:24], "big") or 1


FORCED_IDS: ContextVar[tuple[int, int] | None] = ContextVar("convergio_forced_ids", default=None)
"""``(trace_id, span_id)`` the next span must take; set only while a run's root span is made."""
