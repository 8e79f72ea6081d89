"""Schemathesis against the live OpenAPI document: no 5xx, no status code the document does not declare.

A fixed seed and a bounded number of examples keep it reproducible and under a minute. It acts as
a tenant of its own (its hooks, plugins and runs disturb no other test), and leaves out the
operations that reach out to the network by design (registering an MCP server lists its tools,
a callback is delivered to its URL): fuzzed URLs there would only measure timeouts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests._helpers import ROOT, HostProcess
from tests.api.conftest import new_key

SEED = 18
EXAMPLES = 8
OUTBOUND = (
    r"^(PUT /api/v1/tenants/me/mcp-servers/\{name\}"
    r"|POST /api/v1/tenants/me/mcp-servers/\{name\}/refresh"
    r"|POST /api/v1/callbacks)$"
)


def test_the_api_answers_only_what_its_openapi_document_declares(
    api_host: HostProcess, api_home: Path
) -> None:
    key = new_key(api_home, "Schemathesis School")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{api_host.base_url}/api/v1/openapi.json",
        "--url",
        api_host.base_url,
        "--checks",
        "not_a_server_error,status_code_conformance",
        "--header",
        f"x-api-key: {key}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-name-regex",
        OUTBOUND,
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--max-time",
        "50",
        "--no-color",
        "--warnings",
        "off",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api._schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT, env=env
    )
    report = done.stdout[-20_000:] + done.stderr[-5_000:]
    assert done.returncode == 0, report
    assert "No issues found" in report or "passed" in report, report
