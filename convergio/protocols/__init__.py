"""Remote tools and remote agents, whatever protocol carries them.

``_types`` holds the one notion of each (``ToolServer``, ``AgentPeer``); each protocol is an
adapter package (``mcp``, ``a2a``) behind them, so a new protocol is one more package.
"""

from convergio.protocols._types import (
    TASK_STATES,
    TERMINAL_TASK_STATES,
    AgentPeer,
    Endpoint,
    RemoteTask,
    RemoteToolInfo,
    TaskState,
    ToolServer,
)
from convergio.protocols.mcp import McpServerRecord, McpServerRegistry, McpToolSource

__all__ = [
    "TASK_STATES",
    "TERMINAL_TASK_STATES",
    "AgentPeer",
    "Endpoint",
    "McpServerRecord",
    "McpServerRegistry",
    "McpToolSource",
    "RemoteTask",
    "RemoteToolInfo",
    "TaskState",
    "ToolServer",
]
