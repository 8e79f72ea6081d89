"""A2A (Agent2Agent) over the official ``a2a-sdk``: graphs published as agents, remote agents as peers.

``A2APeer`` is the client adapter behind the ``AgentPeer`` shape (a graph node of ``kind: a2a``
delegates to one). ``build_a2a_app`` is the server: an ASGI app that serves each named graph as an
agent (card, JSON-RPC) over durable runs, given the caller's ``GraphAgents``.
"""

from ._client import A2APeer, RemoteRejected
from ._convert import API_KEY_HEADER, AgentInfo, RunSnapshot, agent_card, message_input, task_of
from ._server import GraphAgentHandler, GraphAgents, build_a2a_app

__all__ = [
    "API_KEY_HEADER",
    "A2APeer",
    "AgentInfo",
    "GraphAgentHandler",
    "GraphAgents",
    "RemoteRejected",
    "RunSnapshot",
    "agent_card",
    "build_a2a_app",
    "message_input",
    "task_of",
]
