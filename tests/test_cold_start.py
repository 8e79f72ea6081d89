"""The Functions worker's cold start: what ``import function_app`` loads (issue 22).

Behaviour, not timing (the timing is ``benchmarks/coldstart.py``): a fresh interpreter that
imports the app must not load the libraries only some requests need. numpy and numba serve the
routing activity and usage roll-ups, httpx (which brings rich and click) the outbound calls,
Jinja and jsonschema a graph's validation and first prompt, YAML the graph library.
aiohttp is not on the list: ``azure.durable_functions`` itself imports it, so every Durable
app pays for it (the benchmark's minimal app too).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFERRED = ("numpy", "numba", "httpx", "rich", "click", "jinja2", "jsonschema", "referencing", "re2", "yaml")

_PROBE = """
import json, sys
import function_app
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _loaded(app_dir: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=app_dir, capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_app_loads_none_of_the_libraries_only_some_requests_need() -> None:
    loaded = _loaded(ROOT)
    assert "function_app" in loaded
    assert sorted(loaded & set(DEFERRED)) == []


def test_the_activities_and_orchestrations_import_their_modules_on_first_call() -> None:
    """The blueprints index their triggers without the stores, adapters or graph package."""
    probe = (
        "import json, sys\n"
        "import azure.durable_functions, azure.functions\n"
        "before = set(sys.modules)\n"
        "import activities, orchestrations\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    added = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert {"activities._blueprint", "orchestrations.graph"} <= added
    lazy = {
        "activities.agents",
        "activities.routing",
        "activities.a2a",
        "convergio.graph",
        "convergio.wiring",
    }
    assert sorted(added & (lazy | {"pydantic", *DEFERRED})) == []
