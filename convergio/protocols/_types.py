"""One notion of a remote tool server and of a remote agent, whatever protocol carries them.

MCP servers are ``ToolServer``s (their tools become tools agents can call); A2A agents are
``AgentPeer``s (a graph node can delegate to one, and wait for its task durably). A new
protocol (ACP, ANP...) is one more adapter behind these two shapes; nothing above changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "TASK_STATES",
    "AgentPeer",
    "Endpoint",
    "RemoteTask",
    "RemoteToolInfo",
    "TaskState",
    "ToolServer",
    "TERMINAL_TASK_STATES",
]

TaskState = Literal["submitted", "working", "input_required", "completed", "failed", "canceled", "rejected"]
TASK_STATES: tuple[TaskState, ...] = (
    "submitted",
    "working",
    "input_required",
    "completed",
    "failed",
    "canceled",
    "rejected",
)
TERMINAL_TASK_STATES: frozenset[TaskState] = frozenset({"completed", "failed", "canceled", "rejected"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a remote server or agent is and how to reach it.

    Attributes:
        protocol: ``mcp`` or ``a2a`` (the adapter that speaks to it).
        url: The HTTP endpoint (streamable HTTP for MCP, the agent's base URL for A2A).
        transport: ``http``, or ``stdio`` for a local MCP server started as a process
            (allowed only when not hosted).
        command: For ``stdio``: the program and its arguments.
        headers: Sent with every request (e.g. an API key), read from the secret store at call
            time; never logged or returned.
        timeout_s: The longest a single request may take.
    """

    protocol: str
    url: str | None = None
    transport: Literal["http", "stdio"] = "http"
    command: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RemoteToolInfo:
    """A tool a remote server offers: what a model is shown."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteTask:
    """The state of work handed to a remote agent.

    Attributes:
        id: The remote task's id (what ``get`` and ``cancel`` take).
        state: Where it is; ``TERMINAL_TASK_STATES`` are final.
        output: The agent's answer text, once ``completed``.
        error: Why it failed or was rejected, when it says.
        context_id: The remote conversation the task belongs to, if the protocol has one.
    """

    id: str
    state: TaskState
    output: str | None = None
    error: str | None = None
    context_id: str | None = None

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_TASK_STATES


class ToolServer(Protocol):
    """A remote source of tools (an MCP server today). Calls are synchronous: activities run
    in worker threads, and each adapter bridges to its SDK's event loop itself."""

    def list_tools(self) -> list[RemoteToolInfo]:
        """The tools the server offers now.

        Raises:
            ConnectionError: the server cannot be reached or answered a protocol error.
        """
        ...

    def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """Call one tool; its result as text.

        Raises:
            ConnectionError: the server cannot be reached.
            ValueError: the tool answered an error (the message is for the model).
        """
        ...


class AgentPeer(Protocol):
    """A remote agent (an A2A agent today) that takes a message and works on it as a task."""

    def send(self, text: str, *, context_id: str | None = None) -> RemoteTask:
        """Send a message; the task as the agent reports it right away (maybe already done).

        Raises:
            ConnectionError: the agent cannot be reached or answered a protocol error.
        """
        ...

    def get(self, task_id: str) -> RemoteTask:
        """The task's state now (for durable polling).

        Raises:
            ConnectionError: as ``send``.
            LookupError: the agent knows no such task.
        """
        ...

    def cancel(self, task_id: str) -> RemoteTask:
        """Ask the agent to cancel the task; its state after the request.

        Raises:
            ConnectionError: as ``send``.
            LookupError: the agent knows no such task.
        """
        ...
