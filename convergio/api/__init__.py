"""The HTTP API (``/api/v1``) as a Functions blueprint: tenants, runs, graphs, OpenAPI."""

from ._blueprint import blueprint
from ._library import GraphFileError, load_graph_file, load_library

__all__ = ["GraphFileError", "blueprint", "load_graph_file", "load_library"]
