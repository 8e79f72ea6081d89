"""Pictures of a run for the terminal: the live node table and the final usage table.

Pure functions of a run view (the JSON of ``GET /api/v1/runs/{id}``), so they can
be tested without a terminal and reused by anything that shows runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

__all__ = ["node_table", "run_panel", "elapsed"]

_STYLE = {
    "waiting": "dim",
    "awaiting_input": "bold yellow",
    "running": "bold cyan",
    "retrying": "yellow",
    "completed": "green",
    "skipped": "dim",
    "cancelled": "magenta",
}
_LABEL = {"completed": "done", "awaiting_input": "awaiting input"}


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def elapsed(node: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds a node has been (or was) running; ``None`` before it starts."""
    start = _parse(node.get("started_at"))
    if start is None:
        return None
    end = _parse(node.get("finished_at")) or now or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds())


def node_table(run: dict[str, Any], now: datetime | None = None) -> Table:
    """One line per node: status, attempts, elapsed, tokens, tool calls; a total line at the end."""
    table = Table(title=f"{run.get('graph') or 'run'} · {run.get('id', '')[:12]} · {run.get('status')}")
    for column, justify in (
        ("agent", "left"),
        ("status", "left"),
        ("attempts", "right"),
        ("elapsed", "right"),
        ("tokens", "right"),
        ("tool calls", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for node_id, node in (run.get("nodes") or {}).items():
        status = node.get("status", "waiting")
        seconds = elapsed(node, now)
        usage = node.get("usage") or {}
        table.add_row(
            node_id,
            Text(_LABEL.get(status, status.replace("_", " ")), style=_STYLE.get(status, "bold red")),
            str(node.get("attempts", 0)),
            "" if seconds is None else f"{seconds:.1f} s",
            str(usage.get("total_tokens", 0)),
            str(usage.get("tool_calls", 0)),
        )
    usage = run.get("usage") or {}
    table.add_section()
    table.add_row("total", "", "", "", str(usage.get("total_tokens", 0)), str(usage.get("tool_calls", 0)))
    return table


def run_panel(run: dict[str, Any]) -> Group:
    """The end of a run: the node table, then the output (or the error)."""
    if run.get("status") == "Completed":
        output = run.get("output")
        body = output if isinstance(output, str) else repr(output)
        return Group(node_table(run), Panel(body, title="output", border_style="green"))
    return Group(
        node_table(run), Panel(str(run.get("error") or run.get("status")), title="error", border_style="red")
    )
