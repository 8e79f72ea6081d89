"""What a tool is: a named, described, schema-checked function from JSON arguments to text,
and where tools come from: a ``ToolSource`` binds names to tools for one agent call.

Error tree::

    ValueError
    └── ToolError        bad arguments, or the tool failed; the message is shown to the model
    LookupError
    └── UnknownTool      no tool has that name
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from convergio.providers import ToolSpec

__all__ = ["Complete", "Tool", "ToolContext", "ToolError", "ToolSource", "UnknownTool"]

Complete = Callable[[str, str | None, int], str]
"""``(prompt, system, max_tokens) -> text``: the calling agent's own model, inside its budget."""


class ToolError(ValueError):
    """Bad arguments for a tool, or a tool that failed; the message says why, briefly."""


class UnknownTool(LookupError):
    """No tool has that name; the message lists the known ones."""


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool agents can call.

    Attributes:
        name: The name agents list in ``tools:`` and models call it by.
        description: What it does, written for the model.
        parameters: The JSON Schema (draft 2020-12) of its arguments, an ``object`` schema.
        fn: The implementation: validated arguments in, result text out. It raises
            ``ToolError`` for inputs it cannot handle.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[[dict[str, Any]], str]

    def spec(self) -> ToolSpec:
        """The tool as offered to a model."""
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who a tool runs for: tools that act for a tenant (plugins, remote servers) bind to it.

    Attributes:
        tenant_id: The tenant whose agent calls the tool.
        run_id: The run, for logs and traces.
        node_id: The calling agent's node id.
        complete: The agent's model, for tools allowed to ask it something; its tokens count
            against the agent's budget and are metered with the agent's call.
        timeout_s: Seconds the agent has left, when it has a time budget.
    """

    tenant_id: str
    run_id: str = ""
    node_id: str = ""
    complete: Complete | None = None
    timeout_s: float | None = None


class ToolSource(Protocol):
    """A family of tools (built-ins, a tenant's plugins, its MCP servers) behind one lookup."""

    def tool_names(self, tenant_id: str) -> frozenset[str]:
        """The names this source offers the tenant (what graphs may list in ``tools:``)."""
        ...

    def bind(self, name: str, context: ToolContext) -> Tool | None:
        """The tool called ``name`` bound to one agent call, or ``None`` when it is not ours.

        Raises:
            ToolError: the name is ours but the tool cannot be used now (e.g. not granted).
        """
        ...
