"""Graphs of agents as data: the spec, its validation, prompt templates, the run state machine.

Pure: no I/O, no clocks, no randomness, so orchestrators can use all of it.
"""

from ._run import AGENT_GRAPH, RECORD_RUN, RUN_AGENT, TERMINAL, Command, GraphRun
from ._spec import AgentSpec, AwaitEvent, Budget, GraphSpec, NodeKind, OnFailure, Retry
from ._template import TEMPLATE_NAMES, TemplateError, check_template, render_prompt
from ._validate import Catalog, Limits, parse_graph, path_of, validate_input

__all__ = [
    "AGENT_GRAPH",
    "RECORD_RUN",
    "RUN_AGENT",
    "TERMINAL",
    "Command",
    "GraphRun",
    "TEMPLATE_NAMES",
    "AgentSpec",
    "AwaitEvent",
    "Budget",
    "Catalog",
    "GraphSpec",
    "Limits",
    "NodeKind",
    "OnFailure",
    "Retry",
    "TemplateError",
    "check_template",
    "parse_graph",
    "path_of",
    "render_prompt",
    "validate_input",
]
