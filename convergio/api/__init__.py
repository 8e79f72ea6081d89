"""The HTTP API (``/api/v1``) as a Functions blueprint: tenants, runs, graphs, OpenAPI."""

from . import (  # noqa: F401 - their routes register on the blueprint
    _a2a,
    _budget,
    _connections,
    _eventgrid,
    _graphs,
    _hooks,
    _mcp,
    _mcp_servers,
    _members,
    _plugins,
    _retention,
    _retry,
    _run_agents,
    _run_graph,
    _run_outputs,
    _runs,
    _setup,
    _sharing,
    _stream,
    _tenants_admin,
    _usage,
    _usage_graphs,
    _web,
)
from ._http import blueprint
from ._library import GraphFileError, load_graph_file, load_library

__all__ = ["GraphFileError", "blueprint", "load_graph_file", "load_library"]
