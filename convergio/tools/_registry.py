"""Tool lookup and execution, with arguments checked against each tool's schema.

Models produce tool arguments, so they are untrusted input: every call is validated
before the tool's code sees it, and every failure comes back as one ``ToolError`` the agent
runner can hand to the model. Schemas may come from tenants (plugins, MCP servers), so they are
checked with the graph package's validator (RE2 patterns, local ``$ref`` only, bounded work).
Where a tool comes from (built in, a plugin, a remote server) is a ``ToolSource``; a ``Toolbox``
asks its sources in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from convergio.graph._schema import argument_problem

from ._calculator import CALCULATOR
from ._text import KEYWORDS, WORD_COUNT
from ._types import Tool, ToolContext, ToolError, ToolSource, UnknownTool

__all__ = [
    "BUILTINS",
    "BUILTIN_TOOLBOX",
    "TOOL_NAMES",
    "Toolbox",
    "call_tool",
    "get_tool",
    "model_names",
    "run_tool",
]

_MESSAGE_LIMIT = 200
_MODEL_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MODEL_NAME_LIMIT = 64

_TOOLS: dict[str, Tool] = {tool.name: tool for tool in (CALCULATOR, KEYWORDS, WORD_COUNT)}

TOOL_NAMES: frozenset[str] = frozenset(_TOOLS)
"""The built-in tools' names."""


class _Builtins:
    """The built-in tools: the same for every tenant, needing no context."""

    def tool_names(self, tenant_id: str) -> frozenset[str]:
        return TOOL_NAMES

    def bind(self, name: str, context: ToolContext) -> Tool | None:
        return _TOOLS.get(name)


BUILTINS: ToolSource = _Builtins()


class Toolbox:
    """Every tool a tenant's agents may use, from several sources (the first to know a name wins).

    Args:
        sources: The sources, in lookup order; built-ins usually come first so no plugin or
            server can shadow them.
    """

    def __init__(self, sources: Sequence[ToolSource]) -> None:
        self._sources = tuple(sources)

    def tool_names(self, tenant_id: str) -> frozenset[str]:
        """Every name the tenant's graphs may list in ``tools:``."""
        return frozenset().union(*(source.tool_names(tenant_id) for source in self._sources))

    def bind(self, names: Iterable[str], context: ToolContext) -> dict[str, Tool]:
        """The named tools, bound to one agent call, keyed by the name the graph used.

        Raises:
            UnknownTool: no source knows a name.
            ToolError: a source knows a name but refuses it now.
        """
        bound: dict[str, Tool] = {}
        for name in names:
            tool = next((t for s in self._sources if (t := s.bind(name, context)) is not None), None)
            if tool is None:
                known = ", ".join(sorted(self.tool_names(context.tenant_id)))
                raise UnknownTool(f"unknown tool {name!r} (known: {known})")
            bound[name] = tool
        return bound


BUILTIN_TOOLBOX = Toolbox([BUILTINS])
"""The toolbox of a process without tenants' plugins or servers."""


def get_tool(name: str) -> Tool:
    """Return a built-in tool.

    Raises:
        UnknownTool: no built-in tool has that name.
    """
    try:
        return _TOOLS[name]
    except KeyError:
        raise UnknownTool(f"unknown tool {name!r} (known: {', '.join(sorted(TOOL_NAMES))})") from None


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    """Run a built-in tool by name (see ``call_tool``).

    Raises:
        ToolError: an unknown tool, bad arguments, or the tool failed.
    """
    try:
        tool = get_tool(name)
    except UnknownTool as exc:
        raise ToolError(str(exc)) from None
    return call_tool(tool, arguments)


def call_tool(tool: Tool, arguments: dict[str, Any]) -> str:
    """Validate the arguments against the tool's schema, then run it.

    Args:
        tool: The tool.
        arguments: The decoded JSON arguments, as the model gave them.

    Returns:
        The tool's result text.

    Raises:
        ToolError: arguments that break its schema (the message names the argument), or the
            tool failed; the message is short and starts with the tool's name.
    """
    problem = argument_problem(tool.parameters, arguments)
    if problem is not None:
        raise ToolError(_short(f"{tool.name}: invalid {problem[0]}: {problem[1]}"))
    try:
        return tool.fn(arguments)
    except ToolError as exc:
        message = str(exc)
        raise ToolError(
            _short(message if message.startswith(tool.name) else f"{tool.name}: {message}")
        ) from None
    except Exception as exc:
        raise ToolError(_short(f"{tool.name} failed: {type(exc).__name__}: {exc}")) from exc


def model_names(names: Iterable[str]) -> dict[str, str]:
    """Names models accept (``[A-Za-z0-9_-]{1,64}``) for tool names, mapped back to them.

    ``text-stats.word_stats`` is offered as ``text-stats_word_stats``; a clash gets a numbered
    suffix, so two tools never share a model-facing name.
    """
    mapping: dict[str, str] = {}
    for name in names:
        base = _MODEL_NAME.sub("_", name)[:_MODEL_NAME_LIMIT] or "tool"
        candidate, n = base, 1
        while candidate in mapping:
            n += 1
            suffix = f"_{n}"
            candidate = base[: _MODEL_NAME_LIMIT - len(suffix)] + suffix
        mapping[candidate] = name
    return mapping


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
