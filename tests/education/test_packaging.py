"""The education pack as shipped: untrusted, capability-free modules built from the committed
sources, graphs that validate, and a core that does not depend on it."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import wasmtime

from convergio.api import load_graph_file, load_library
from convergio.errors import InvalidGraph
from convergio.graph import Catalog, parse_graph
from convergio.plugins import read_package
from tests._helpers import ROOT
from tests.education.conftest import EDUCATION, PLUGINS

GRAPHS = ("edu-tutor", "edu-quiz", "edu-lesson")
FOLDER = ROOT / "examples" / "graphs" / "education"
TOOLS = frozenset({"edu-safety.review", "edu-format.format", "edu-quiz.grade", "keywords", "word_count"})


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_is_pure_webassembly_with_no_capabilities(name: str) -> None:
    package = read_package(EDUCATION / name)
    assert package.manifest.name == name
    assert package.manifest.capabilities.names() == frozenset()
    module = wasmtime.Module(wasmtime.Engine(), package.wasm)
    assert list(module.imports) == []  # no convergio.* host calls, no WASI
    assert sorted(e.name for e in module.exports) == ["alloc", "call", "memory"]
    assert (EDUCATION / name / "README.md").is_file()


def test_the_committed_modules_are_exactly_what_the_sources_build_to() -> None:
    done = subprocess.run(
        [sys.executable, str(EDUCATION / "build.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("checked ") == len(PLUGINS)


def test_no_core_module_imports_the_education_pack() -> None:
    offenders = []
    for path in sorted((ROOT / "convergio").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        names = [
            node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        ]
        if any(name.startswith(("plugins", "tests")) for name in names) or "plugins/education" in source:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.parametrize("name", GRAPHS)
def test_the_education_graphs_validate_with_the_pack_installed(name: str) -> None:
    raw = load_graph_file(FOLDER / f"{name}.yaml")
    assert raw["name"] == name
    spec = parse_graph(raw, Catalog(providers=frozenset({"offline"}), tools=TOOLS))
    assert spec.guards == ["edu-safety.review"]
    assert all(agent.provider == "offline" for agent in spec.agents)
    assert spec.input_schema is not None


def test_without_the_pack_a_graph_is_refused_naming_the_missing_guard() -> None:
    with pytest.raises(InvalidGraph) as refused:
        parse_graph(
            load_graph_file(FOLDER / "edu-tutor.yaml"),
            Catalog(providers=frozenset({"offline"}), tools=frozenset()),
        )
    assert "guards[0]" in str(refused.value) and "edu-safety.review" in str(refused.value)


def test_the_shared_library_stays_valid_for_tenants_without_the_pack() -> None:
    # GET /api/v1/graphs validates every library graph for the calling tenant.
    library = load_library(ROOT / "examples" / "graphs")
    assert not set(GRAPHS) & set(library)
