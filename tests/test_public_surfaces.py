"""The public names of each package are a contract: changing them is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

from convergio.graph import AGENT_GRAPH, RECORD_PROGRESS, RECORD_RUN, ROUTE_REQUEST, RUN_AGENT
from tests._helpers import app_functions

SURFACES = {
    "convergio.graph": {
        "AGENT_GRAPH",
        "RECORD_PROGRESS",
        "RECORD_RUN",
        "RECORD_TASK",
        "ROUTE_REQUEST",
        "RUN_AGENT",
        "STATUS_LIMIT_UTF16",
        "TERMINAL",
        "AgentSpec",
        "AwaitEvent",
        "Budget",
        "Catalog",
        "Command",
        "GraphMemo",
        "GraphRun",
        "GraphSpec",
        "Limits",
        "NodeKind",
        "OnFailure",
        "Planner",
        "Retry",
        "Revision",
        "Route",
        "RouteCall",
        "RouteDecision",
        "TemplateError",
        "TEMPLATE_NAMES",
        "Validated",
        "check_template",
        "compact_entry",
        "decide",
        "fold",
        "parse_graph",
        "path_of",
        "records_of",
        "render_prompt",
        "route_documents",
        "validate_input",
    },
    "convergio.budget": {"Grant", "RunLedger"},
    "convergio.api": {"GraphFileError", "blueprint", "load_graph_file", "load_library"},
    "convergio.protocols": {
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
    },
    "convergio.protocols.a2a": {
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
    },
    "convergio.webhooks": {
        "DELIVERY_HEADER",
        "EVENT_HEADER",
        "RUN_EVENTS",
        "SIGNATURE_HEADER",
        "STORE_FILE",
        "TIMESTAMP_HEADER",
        "Attempt",
        "Callback",
        "CosmosWebhookStore",
        "Delivery",
        "Hook",
        "RunEvent",
        "SignatureError",
        "SqliteWebhookStore",
        "WebhookStore",
        "check_callback_url",
        "new_secret",
        "open_webhook_store",
        "post_signed",
        "sign",
        "signed_headers",
        "verify",
    },
    "convergio.retention": {
        "FINISHED_RUNS_DAYS",
        "RETENTION",
        "RETENTION_BACKSTOP",
        "RETENTION_INSTANCE",
        "RETENTION_PLAN",
        "RETENTION_SWEEP",
        "STREAM_EVENTS_DAYS",
        "TERMINAL",
        "DurableInstances",
        "Instances",
        "RetentionPolicy",
        "backstop",
        "ensure_once",
        "ensure_retention",
        "last_sweep",
        "policy_of",
        "set_policy",
        "stamp",
        "sweep_tenant",
    },
    "convergio.streams": {
        "STORE_FILE",
        "CosmosRunStream",
        "RunStream",
        "SqliteRunStream",
        "StreamEvent",
        "TextChannel",
        "compact",
        "open_run_stream",
        "sse",
        "sse_text",
    },
}


@pytest.mark.parametrize("module", SURFACES)
def test_public_names(module: str) -> None:
    assert set(importlib.import_module(module).__all__) == SURFACES[module]


def test_the_orchestrator_and_activity_names_the_run_asks_for_exist() -> None:
    names = {f.get_function_name() for f in app_functions()}
    assert {AGENT_GRAPH, RUN_AGENT, RECORD_RUN, RECORD_PROGRESS, ROUTE_REQUEST} <= names
