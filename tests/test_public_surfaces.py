"""The public names of each package are a contract: changing them is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

from convergio.graph import AGENT_GRAPH, RECORD_RUN, RUN_AGENT

SURFACES = {
    "convergio.graph": {
        "AGENT_GRAPH",
        "RECORD_RUN",
        "RUN_AGENT",
        "TERMINAL",
        "AgentSpec",
        "AwaitEvent",
        "Budget",
        "Catalog",
        "Command",
        "GraphRun",
        "GraphSpec",
        "Limits",
        "NodeKind",
        "OnFailure",
        "Retry",
        "TemplateError",
        "TEMPLATE_NAMES",
        "check_template",
        "parse_graph",
        "path_of",
        "render_prompt",
        "validate_input",
    },
    "convergio.budget": {"Grant", "RunLedger"},
    "convergio.api": {"GraphFileError", "blueprint", "load_graph_file", "load_library"},
}


@pytest.mark.parametrize("module", SURFACES)
def test_public_names(module: str) -> None:
    assert set(importlib.import_module(module).__all__) == SURFACES[module]


def test_the_orchestrator_and_activity_names_the_run_asks_for_exist() -> None:
    import function_app

    names = {f.get_function_name() for f in function_app.app.get_functions()}
    assert {AGENT_GRAPH, RUN_AGENT, RECORD_RUN} <= names
