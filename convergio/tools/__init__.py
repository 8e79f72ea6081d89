"""Tools agents can call: schema-checked functions from JSON arguments to text.

Built-ins are ``calculator``, ``word_count`` and ``keywords``. Other families (a tenant's
WebAssembly plugins, its MCP servers) are ``ToolSource``s; a ``Toolbox`` combines sources and
binds the tools an agent lists to one call (``ToolContext``).
"""

from ._registry import (
    BUILTIN_TOOLBOX,
    BUILTINS,
    TOOL_NAMES,
    Toolbox,
    call_tool,
    get_tool,
    model_names,
    run_tool,
)
from ._types import Complete, Tool, ToolContext, ToolError, ToolSource, UnknownTool

__all__ = [
    "BUILTINS",
    "BUILTIN_TOOLBOX",
    "TOOL_NAMES",
    "Complete",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolSource",
    "Toolbox",
    "UnknownTool",
    "call_tool",
    "get_tool",
    "model_names",
    "run_tool",
]
