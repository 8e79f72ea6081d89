"""Graphs of agents as data: the spec, its validation, prompt templates, the run state machine.

Pure: no I/O, no clocks, no randomness, so orchestrators can use all of it.
"""

from typing import TYPE_CHECKING

from convergio._lazy import lazy_exports

if TYPE_CHECKING:
    from ._memo import GraphMemo, Validated
    from ._names import AGENT_GRAPH, RECORD_RUN, RECORD_TASK, RUN_AGENT, TERMINAL
    from ._progress import RECORD_PROGRESS, STATUS_LIMIT_UTF16, compact_entry, fold, records_of
    from ._replan import Revision
    from ._route import ROUTE_REQUEST, RouteCall, RouteDecision, decide, route_documents
    from ._run import Command, GraphRun
    from ._spec import AgentSpec, AwaitEvent, Budget, GraphSpec, NodeKind, OnFailure, Planner, Retry, Route
    from ._template import TEMPLATE_NAMES, TemplateError, check_template, render_prompt
    from ._validate import Catalog, Limits, parse_graph, path_of, validate_input

# Imported on first use (issue 22): the API names a few of these at import, and the state
# machine, the re-planner and the spec's pydantic models are not needed to index the app.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._memo": ("GraphMemo", "Validated"),
        "._names": ("AGENT_GRAPH", "RECORD_RUN", "RECORD_TASK", "RUN_AGENT", "TERMINAL"),
        "._progress": ("RECORD_PROGRESS", "STATUS_LIMIT_UTF16", "compact_entry", "fold", "records_of"),
        "._replan": ("Revision",),
        "._route": ("ROUTE_REQUEST", "RouteCall", "RouteDecision", "decide", "route_documents"),
        "._run": ("Command", "GraphRun"),
        "._spec": (
            "AgentSpec",
            "AwaitEvent",
            "Budget",
            "GraphSpec",
            "NodeKind",
            "OnFailure",
            "Planner",
            "Retry",
            "Route",
        ),
        "._template": ("TEMPLATE_NAMES", "TemplateError", "check_template", "render_prompt"),
        "._validate": ("Catalog", "Limits", "parse_graph", "path_of", "validate_input"),
    },
)

__all__ = [
    "AGENT_GRAPH",
    "RECORD_PROGRESS",
    "RECORD_RUN",
    "RECORD_TASK",
    "ROUTE_REQUEST",
    "RUN_AGENT",
    "STATUS_LIMIT_UTF16",
    "TERMINAL",
    "Command",
    "GraphRun",
    "TEMPLATE_NAMES",
    "AgentSpec",
    "AwaitEvent",
    "Budget",
    "Catalog",
    "GraphMemo",
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
]
