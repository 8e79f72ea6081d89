"""Tool lookup and execution by name, with arguments checked against each tool's schema.

Models produce tool arguments, so they are untrusted input: every call is validated
before the tool's code sees it, and every failure comes back as one ``ToolError`` the agent
runner can hand to the model.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ._calculator import CALCULATOR
from ._text import KEYWORDS, WORD_COUNT
from ._types import Tool, ToolError, UnknownTool

__all__ = ["TOOL_NAMES", "get_tool", "run_tool"]

_MESSAGE_LIMIT = 200

_TOOLS: dict[str, Tool] = {tool.name: tool for tool in (CALCULATOR, KEYWORDS, WORD_COUNT)}
_VALIDATORS = {name: Draft202012Validator(tool.parameters) for name, tool in _TOOLS.items()}

TOOL_NAMES: frozenset[str] = frozenset(_TOOLS)
"""The names ``get_tool`` knows (the graph validator's catalog of tools)."""


def get_tool(name: str) -> Tool:
    """Return a registered tool.

    Args:
        name: A name from ``TOOL_NAMES``.

    Returns:
        The tool.

    Raises:
        UnknownTool: no tool has that name.
    """
    try:
        return _TOOLS[name]
    except KeyError:
        raise UnknownTool(f"unknown tool {name!r} (known: {', '.join(sorted(TOOL_NAMES))})") from None


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    """Validate the arguments against the tool's schema, then run it.

    Args:
        name: A name from ``TOOL_NAMES``.
        arguments: The decoded JSON arguments, as the model gave them.

    Returns:
        The tool's result text.

    Raises:
        ToolError: an unknown tool, arguments that break its schema (the message names the
            argument), or the tool failed.
    """
    try:
        tool = get_tool(name)
    except UnknownTool as exc:
        raise ToolError(str(exc)) from None
    error = best_match(_VALIDATORS[name].iter_errors(arguments))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "arguments"
        raise ToolError(_short(f"{name}: invalid {where}: {error.message}"))
    try:
        return tool.fn(arguments)
    except ToolError as exc:
        raise ToolError(_short(f"{name}: {exc}")) from None
    except Exception as exc:
        raise ToolError(_short(f"{name} failed: {type(exc).__name__}: {exc}")) from exc


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
