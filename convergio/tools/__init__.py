"""Tools agents can call: plain registered functions from JSON arguments to text.

Built-ins are ``calculator``, ``word_count`` and ``keywords``. Plugin tools (WebAssembly)
come later and will register through the same ``Tool`` shape.
"""

from ._registry import TOOL_NAMES, get_tool, run_tool
from ._types import Tool, ToolError, UnknownTool

__all__ = ["TOOL_NAMES", "Tool", "ToolError", "UnknownTool", "get_tool", "run_tool"]
