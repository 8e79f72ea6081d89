"""Graph files: the named graphs shipped with the app, and loading one spec file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["GraphFileError", "load_graph_file", "load_library"]


class GraphFileError(ValueError):
    """A graph file that cannot be read as YAML or JSON; the message names the file."""


def load_graph_file(path: Path) -> dict[str, Any]:
    """Read a graph spec from a ``.yaml``/``.yml`` or ``.json`` file (not yet validated)."""
    import yaml  # here, not at the top: the app's cold start reads no graph file (issue 22)

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise GraphFileError(f"{path}: cannot read graph file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise GraphFileError(f"{path}: a graph file holds one mapping (name, agents, ...)")
    return data


def load_library(folder: Path) -> Mapping[str, dict[str, Any]]:
    """All graph files in ``folder`` by graph name; a missing folder is an empty library."""
    graphs: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return graphs
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        data = load_graph_file(path)
        name = str(data.get("name") or path.stem)
        if name in graphs:
            raise GraphFileError(f"{path}: another file already defines graph {name!r}")
        graphs[name] = data
    return graphs
