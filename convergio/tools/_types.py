"""What a tool is: a named, described, schema-checked function from JSON arguments to text.

Error tree::

    ValueError
    └── ToolError        bad arguments, or the tool failed; the message is shown to the model
    LookupError
    └── UnknownTool      no tool has that name
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convergio.providers import ToolSpec

__all__ = ["Tool", "ToolError", "UnknownTool"]


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
